//! Issue 16: `ferry-verify report --format html` of the demo bundle and of
//! the demo mirror, rendered by headless Chromium: the page shows the
//! verdict, the signers and every artifact's digest; it loads nothing from
//! elsewhere and runs no script. Also `ferry-verify inspect` on the stick.

use std::path::Path;

use ferry_tests::{Output, cmd};

use crate::views::{chromium, headless};

/// Renders `page` in headless Chromium with `extra` (a screenshot, or
/// `--dump-dom`).
fn render(browser: &str, home: &Path, extra: &str, page: &Path) -> Output {
    headless(
        browser,
        home,
        &[extra],
        &format!("file://{}", page.display()),
    )
}

/// `ferry-verify report PATH --trust site.toml --format FORMAT`, with a
/// fresh trust state (the demo's own state already dropped an org key
/// that signed the first bundle).
fn report(dir: &Path, path: &Path, format: &str) -> Output {
    let state = dir.join(format!("state-{format}"));
    std::fs::create_dir_all(&state).expect("state");
    let out = cmd("ferry-verify")
        .args(["report"])
        .arg(path)
        .arg("--trust")
        .arg(dir.join("policy/site.toml"))
        .arg("--trust-state")
        .arg(&state)
        .args(["--format", format])
        .run();
    out.ok();
    out
}

/// The page Chromium rendered, with its screenshot checked.
fn rendered(browser: &str, t: &Path, name: &str, html: &str) -> String {
    assert!(!html.contains("<script"), "a script on the page");
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "an external asset"
    );
    let page = t.join(format!("{name}.html"));
    std::fs::write(&page, html).expect("write page");
    let home = t.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let shot = t.join(format!("{name}.png"));
    render(
        browser,
        &home,
        &format!("--screenshot={}", shot.display()),
        &page,
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    let dom = render(browser, &home, "--dump-dom", &page).stdout;
    assert!(
        dom.contains("<h1 id=\"verdict\">VERIFIED</h1>"),
        "no verdict: {dom}"
    );
    dom
}

fn strings<'a>(v: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key}"))
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect()
}

#[test]
fn the_html_reports_of_the_demo_bundle_and_mirror_render_in_headless_chromium() {
    let Some(browser) = chromium() else { return };
    let t = tempfile::tempdir().expect("tmp");
    let dir = t.path().join("demo");
    cmd("ferry")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["-q", "demo", "--dir"])
        .arg(&dir)
        .run()
        .ok();
    // The bundle: verdict, transfer signers, every artifact's digest.
    let bundle = dir.join("bundle/novantra.tar.volumes.json");
    let json = report(&dir, &bundle, "json").json();
    let dom = rendered(
        browser,
        t.path(),
        "bundle",
        &report(&dir, &bundle, "html").stdout,
    );
    let signers = strings(&json, "transfer_signers");
    assert_eq!(signers.len(), 2, "{json}");
    for k in signers {
        assert!(dom.contains(k), "signer {k} not on the page");
    }
    let artifacts = json["artifacts"].as_array().expect("artifacts");
    assert!(artifacts.len() >= 10, "{json}");
    for a in artifacts {
        let d = a["sha256"].as_str().expect("sha256");
        assert!(dom.contains(d), "digest {d} not on the page");
    }
    // The mirror: its index key, every manifest's signers, every digest,
    // and the chain of custody down to the audit log's head.
    let mirror = dir.join("mirror");
    let json = report(&dir, &mirror, "json").json();
    assert_eq!(json["type"], "mirror-report");
    let dom = rendered(
        browser,
        t.path(),
        "mirror",
        &report(&dir, &mirror, "html").stdout,
    );
    assert!(dom.contains(json["index_signed_by"].as_str().expect("key")));
    for i in json["imports"].as_array().expect("imports") {
        for k in strings(i, "signers") {
            assert!(dom.contains(k), "signer {k} not on the page");
        }
        assert!(dom.contains(i["manifest_sha256"].as_str().expect("manifest")));
    }
    for a in json["artifacts"].as_array().expect("artifacts") {
        let d = a["sha256"].as_str().expect("sha256");
        assert!(dom.contains(d), "digest {d} not on the page");
        assert!(!a["brought_by"].is_null(), "{a}: no custody");
    }
    assert!(dom.contains(json["audit_head"]["sha256"].as_str().expect("head")));
    assert!(dom.contains("Chain of custody"));
    // Text output carries no raw JSON.
    let text = report(&dir, &bundle, "text").stdout;
    assert!(
        text.starts_with("VERIFIED ") && !text.contains("{\""),
        "{text}"
    );
}

#[test]
fn inspect_lists_a_stick_without_a_policy_and_says_nothing_was_verified() {
    let w = super::mirror::World::new();
    let fx = w.workspace("ws", 1, 1);
    let stick = w.path("stick");
    std::fs::create_dir_all(&stick).expect("stick");
    super::mirror::pack_ws(&fx.root, &stick.join("a.tar")).ok();
    let out = cmd("ferry-verify").args(["inspect"]).arg(&stick).run();
    out.ok();
    out.stderr_has(&["UNVERIFIED", "nothing was checked"]);
    out.stdout_has(&[
        "a.tar (tar): novantra sequence 1",
        "(unverified)",
        "release 3.2.1 (stable)",
    ]);
    let json = cmd("ferry-verify")
        .args(["--json", "inspect"])
        .arg(&stick)
        .run()
        .json();
    assert_eq!(json["type"], "inspect");
    assert_eq!(json["verified"], false);
    assert_eq!(
        json["bundles"][0]["signature_key_ids"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}
