//! SPEC §5 rule 8 (issue 10): a selection that matches nothing, or names
//! what the vendor index does not know, is exit 2 listing what there is;
//! nothing is written, and an empty workspace is never signed or packed.

use ferry_tests::{cmd, demo_key};

use super::mirror::World;
use super::mirror_rules::vendor_src;

#[test]
fn a_selection_that_matches_nothing_lists_what_the_index_offers() {
    let w = World::new();
    let src = vendor_src(&w.path("src"), &["1.0.0", "1.1.0"], &[]);
    let web = w.path("web");
    super::mirror::index_build(&src, &web, "2026-11-20T00:00:00Z");
    let server = ferry_tests::http::Server::start(&web);
    let ws = w.path("ws");
    let sync = |extra: &[&str]| {
        cmd("ferry")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .args(["sync", "--index", &server.url("index.json"), "--trust"])
            .arg(&w.policy)
            .args(extra)
            .arg("--workspace")
            .arg(&ws)
            .run()
    };
    sync(&["--channel", "stabel", "--profile", "no-training"])
        .expect_code(2)
        .stderr_has(&["--channel stabel", "it offers stable"]);
    sync(&["--channel", "stable", "--profile", "no-trainig"])
        .expect_code(2)
        .stderr_has(&["--profile no-trainig", "it offers no-training"]);
    sync(&[
        "--channel",
        "stable",
        "--profile",
        "no-training",
        "--platform",
        "linux-arm",
    ])
    .expect_code(2)
    .stderr_has(&["--platform linux-arm", "it offers linux-amd64"]);
    sync(&[
        "--channel",
        "stable",
        "--profile",
        "no-training",
        "--versions",
        ">=9",
    ])
    .expect_code(2)
    .stderr_has(&["matches no release", "versions 1.0.0, 1.1.0"]);
    // Nothing was written, and an empty workspace is not signed or packed.
    assert!(!ws.join("ferry/manifest.json").exists());
    std::fs::create_dir_all(&ws).unwrap();
    let sign = cmd("ferry")
        .args(["sign", "--workspace"])
        .arg(&ws)
        .arg("--key")
        .arg(demo_key("org1"))
        .run();
    assert!(
        matches!(sign.code, 2 | 3),
        "sign of an empty workspace: {}",
        sign.code
    );
    assert!(!ws.join("ferry/manifest.json").exists());
    // The right names work.
    sync(&["--channel", "stable", "--profile", "no-training"]).ok();
}

/// SPEC §5 rule 7: `ferry sync` keeps the `generated` time of the newest
/// vendor index it accepted and refuses an older, validly signed one (a
/// replay), the workspace unchanged; `--allow-older-index` is the loud
/// escape hatch.
#[test]
fn a_replayed_older_vendor_index_is_refused() {
    let w = World::new();
    let src = vendor_src(&w.path("src"), &["1.0.0"], &[]);
    let build = |web: &str, generated: &str| {
        let out = w.path(web);
        super::mirror::index_build(&src, &out, generated);
        out
    };
    let new = ferry_tests::http::Server::start(&build("web-new", "2026-11-22T00:00:00Z"));
    let old = ferry_tests::http::Server::start(&build("web-old", "2026-11-20T00:00:00Z"));
    let ws = w.path("ws");
    let sync = |server: &ferry_tests::http::Server, extra: &[&str]| {
        super::mirror::sync_cmd(&server.url("index.json"), &w.policy, &ws)
            .args(extra)
            .run()
    };
    sync(&new, &[]).ok();
    let before = ferry_tests::snapshot(&ws);
    sync(&old, &[]).expect_code(1).stderr_has(&[
        "2026-11-20T00:00:00Z",
        "older than generated 2026-11-22T00:00:00Z",
        "--allow-older-index",
    ]);
    ferry_tests::assert_unchanged(&ws, &before);
    // The same index again is fine; the escape hatch is loud.
    sync(&new, &[]).ok();
    sync(&old, &["--allow-older-index"])
        .ok()
        .stderr_has(&["WARNING: --allow-older-index"]);
}

/// The vendor checks an artifact needs are decided once
/// (`manifests::decide::vendor_checks`); `ferry sync` reaches that rule: an
/// index, validly signed, that lists no minisign signature for an artifact
/// is refused when the policy requires one, naming the artifact, and the
/// workspace is left as it was.
#[test]
fn sync_refuses_an_artifact_without_the_required_vendor_signature() {
    let w = World::new();
    let src = vendor_src(&w.path("src"), &["1.0.0"], &[]);
    let web = w.path("web");
    super::mirror::index_build(&src, &web, "2026-11-22T00:00:00Z");
    let index_path = web.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let mut artifact = String::new();
    for r in index["releases"].as_array_mut().unwrap() {
        for a in r["artifacts"].as_array_mut().unwrap() {
            a["signatures"] = serde_json::json!([]);
            artifact = a["name"].as_str().unwrap().to_string();
        }
    }
    let bytes = serde_json::to_vec_pretty(&index).unwrap();
    std::fs::write(&index_path, &bytes).unwrap();
    let sig = ferry_tests::fixtures::secret("vendor")
        .sign(&bytes[..], "vendor index")
        .unwrap();
    std::fs::write(web.join("index.json.minisig"), sig).unwrap();
    let server = ferry_tests::http::Server::start(&web);
    let ws = w.path("ws");
    super::mirror::sync_cmd(&server.url("index.json"), &w.policy, &ws)
        .run()
        .expect_code(1)
        .stderr_has(&[
            artifact.as_str(),
            "no vendor minisign signature",
            "vendor.require has \"minisign\"",
        ]);
    // No state is recorded and the artifact never enters the workspace
    // (verified release notes may stay: only verified bytes sit there).
    assert!(!ws.join(".ferry/state.json").exists());
    let found = walk(&ws.join("releases"));
    assert!(
        !found.iter().any(|p| p.ends_with(&artifact)),
        "the artifact entered the workspace: {found:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
