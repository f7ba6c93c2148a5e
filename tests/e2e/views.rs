//! Issue 15: the views for other tools (SPEC §3.13), checked with real,
//! independent clients: python-tuf and tuf-js download and verify from
//! `ferry-mirror serve`; the BSI CSAF validator accepts every advisory; the
//! update graph endpoint answers as OpenShift Update Service does; headless
//! Chromium renders the status page's graph.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_tests::{Output, cmd, repo_root};
use serde_json::json;

use crate::mirror::{
    KillOnDrop, World, curl, free_port, pack_ws, sign_ws, sync_versions, wait_http,
};

/// The clients `scripts/install-clients.sh` puts under target/clients.
fn clients() -> Option<PathBuf> {
    let dir = repo_root().join("target/clients");
    let ok = dir.join("venv/bin/python").is_file()
        && dir.join("node_modules/tuf-js").is_dir()
        && dir
            .join("node_modules/@secvisogram/csaf-validator-lib")
            .is_dir();
    if ok {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the view tests' clients are missing: run scripts/install-clients.sh"
    );
    eprintln!(
        "skipped: run scripts/install-clients.sh for python-tuf, tuf-js and the CSAF validator"
    );
    None
}

fn serve(mirror: &Path) -> (KillOnDrop, String) {
    let port = free_port();
    let child = Command::new(ferry_tests::bin("ferry-mirror"))
        .arg("serve")
        .arg(mirror)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    wait_http(&format!("{base}/healthz"));
    (KillOnDrop(child), base)
}

fn run(c: &mut Command) -> Output {
    let o = c.output().expect("run client");
    Output {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// python-tuf's `ngclient.Updater`, then tuf-js's `Updater`, each fetching
/// `target` into `work/<client>/`; returns both outputs.
fn tuf_clients(clients: &Path, base: &str, root: &Path, target: &str, work: &Path) -> [Output; 2] {
    let py = run(Command::new(clients.join("venv/bin/python"))
        .arg(repo_root().join("tests/clients/tuf_client.py"))
        .args([base])
        .arg(root)
        .arg(target)
        .arg(work.join("python-tuf")));
    let js = run(Command::new("node")
        .env("NODE_PATH", clients.join("node_modules"))
        .arg(repo_root().join("tests/clients/tuf_client.cjs"))
        .args([base])
        .arg(root)
        .arg(target)
        .arg(work.join("tuf-js")));
    [py, js]
}

const ONE_TWO: &str = "releases/1.2.0/no-training/novantra_1.2.0_amd64.deb";
const ONE_THREE: &str = "releases/1.3.0/no-training/novantra_1.3.0_amd64.deb";

#[test]
fn tuf_clients_download_and_verify_from_the_mirror() {
    let Some(clients) = clients() else { return };
    let w = World::with_three_versions_imported();
    w.fsck().ok();
    let (_serve, base) = serve(&w.mirror);
    // A site bootstraps its TUF clients from the mirror's root, once.
    let root = w.path("trusted-root.json");
    std::fs::copy(w.mirror.join("tuf/root.json"), &root).expect("root");
    let work = w.path("clients");
    let want = std::fs::read(w.mirror.join(ONE_TWO)).expect("artifact");
    for o in tuf_clients(&clients, &base, &root, ONE_TWO, &work) {
        assert_eq!(o.code, 0, "{}", o.stderr);
        let got = std::fs::read(o.stdout.trim()).expect("downloaded");
        assert!(got == want, "a TUF client downloaded other bytes");
    }

    // A flipped byte in the served artifact: both clients refuse.
    let artifact = w.mirror.join(ONE_TWO);
    let mut bytes = std::fs::read(&artifact).expect("read");
    bytes[100] ^= 1;
    std::fs::write(&artifact, &bytes).expect("write");
    for o in tuf_clients(&clients, &base, &root, ONE_TWO, &w.path("fresh")) {
        assert_eq!(
            o.code, 1,
            "a TUF client accepted a flipped byte: {}",
            o.stdout
        );
        assert!(o.stderr.contains("refused"), "{}", o.stderr);
    }
    bytes[100] ^= 1;
    std::fs::write(&artifact, &bytes).expect("restore");

    // After a second import both see the new version (same client state).
    let ws = w.path("ws-next");
    sync_versions(&w, "next", &["1.3.0"], &ws);
    sign_ws(&ws, "org1", None).ok();
    sign_ws(&ws, "org2", None).ok();
    let b = w.path("next.tar");
    pack_ws(&ws, &b).ok();
    w.import_now(&b).ok();
    w.fsck().ok();
    let want = std::fs::read(w.mirror.join(ONE_THREE)).expect("new artifact");
    for o in tuf_clients(&clients, &base, &root, ONE_THREE, &work) {
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(std::fs::read(o.stdout.trim()).expect("downloaded") == want);
    }
}

/// A mirror whose releases carry advisories (the demo's vendor).
fn demo_mirror(t: &Path) -> PathBuf {
    let dir = t.join("demo");
    cmd("ferry")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["-q", "demo", "--dir"])
        .arg(&dir)
        .run()
        .ok();
    dir
}

fn csaf_validate(clients: &Path, files: &[PathBuf]) -> Output {
    run(Command::new("node")
        .arg(repo_root().join("tests/clients/csaf_validate.mjs"))
        .arg(clients.join("node_modules"))
        .args(files))
}

#[test]
fn every_csaf_advisory_passes_the_bsi_validator_and_the_graph_answers_like_osus() {
    let Some(clients) = clients() else { return };
    let t = tempfile::tempdir().expect("tmp");
    let dir = demo_mirror(t.path());
    let mirror = dir.join("mirror");
    let csaf = mirror.join("feed/csaf");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&csaf)
        .expect("feed/csaf")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    csaf_validate(&clients, &files).expect_code(0);
    let listed = std::fs::read_to_string(csaf.join("index.txt")).expect("index.txt");
    assert_eq!(listed.lines().count(), files.len());
    // The validator is not a rubber stamp: a document without its product
    // tree fails a mandatory test.
    let mut broken: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).expect("read")).expect("json");
    broken
        .as_object_mut()
        .expect("object")
        .remove("product_tree");
    let bad = t.path().join("broken.json");
    std::fs::write(&bad, serde_json::to_vec(&broken).expect("ser")).expect("write");
    csaf_validate(&clients, &[bad]).expect_code(1);
    // NOV-2026-004 affects 1.4.0 (below 3.1.4), 3.2.1 fixes it.
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(csaf.join("nov-2026-004.json")).expect("doc"))
            .expect("json");
    let status = &doc["vulnerabilities"][0]["product_status"];
    assert!(
        status["known_affected"]
            .as_array()
            .expect("affected")
            .contains(&json!("CSAFPID-novantra-1.4.0"))
    );
    assert!(
        status["fixed"]
            .as_array()
            .expect("fixed")
            .contains(&json!("CSAFPID-novantra-3.2.1"))
    );

    // The graph endpoint, as OpenShift Update Service answers it.
    let (_serve, base) = serve(&mirror);
    let (s, _, body) = curl(&format!("{base}/graph?channel=stable&arch=amd64"), &[]);
    assert_eq!(s, 200);
    let g: serde_json::Value = serde_json::from_slice(&body).expect("graph json");
    let versions: Vec<&str> = g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["version"].as_str().expect("version"))
        .collect();
    assert!(
        versions.contains(&"1.4.0") && versions.contains(&"3.2.1"),
        "{versions:?}"
    );
    assert!(
        !versions.contains(&"3.0.0"),
        "a yanked release is a node: {versions:?}"
    );
    for n in g["nodes"].as_array().expect("nodes") {
        for v in n["metadata"].as_object().expect("metadata").values() {
            assert!(v.is_string(), "Cincinnati metadata values are strings: {v}");
        }
    }
    assert_eq!(curl(&format!("{base}/v1/graph?channel=stable"), &[]).0, 200);
    let (s, _, body) = curl(&format!("{base}/graph"), &[]);
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&body).contains("missing_params"));
    assert_eq!(curl(&format!("{base}/graph?channel=nightly"), &[]).0, 400);
    assert_eq!(
        curl(
            &format!("{base}/graph?channel=stable"),
            &["-H", "Accept: text/html"]
        )
        .0,
        406
    );
    // Every path the planner gives is a walk in the served graph.
    let index_of = |v: &str| versions.iter().position(|x| *x == v).expect("node");
    let edges: Vec<(usize, usize)> = g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e[0].as_u64().expect("i") as usize,
                e[1].as_u64().expect("j") as usize,
            )
        })
        .collect();
    let check = cmd("ferry-handoff")
        .args(["check", "--mirror"])
        .arg(&mirror)
        .arg("--trust")
        .arg(dir.join("policy/site.toml"))
        .args([
            "--current",
            "1.4.0",
            "--channel",
            "stable",
            "--profile",
            "no-training",
        ])
        .args(["--platform", "linux-amd64", "--json"])
        .run();
    let path: Vec<String> = check.json()["path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|v| v.as_str().expect("v").to_string())
        .collect();
    let mut from = "1.4.0".to_string();
    for hop in &path {
        assert!(
            edges.contains(&(index_of(&from), index_of(hop))),
            "hop {from} -> {hop} is not an edge of the graph"
        );
        from.clone_from(hop);
    }
}

/// Headless Chromium, if installed (scripts/ci.sh installs it).
pub(crate) fn chromium() -> Option<&'static str> {
    for c in ["chromium", "chromium-browser"] {
        if ferry_tests::have(c) {
            return Some(c);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is missing: scripts/ci.sh installs the Debian package"
    );
    eprintln!("skipped: no chromium (scripts/ci.sh installs it)");
    None
}

pub(crate) fn headless(browser: &str, home: &Path, extra: &[&str], url: &str) -> Output {
    run(Command::new(browser)
        .env("HOME", home)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1400,3000",
        ])
        .args(extra)
        .arg(url))
}

#[test]
fn the_status_page_draws_the_upgrade_graph_in_headless_chromium() {
    let Some(browser) = chromium() else { return };
    let t = tempfile::tempdir().expect("tmp");
    let dir = demo_mirror(t.path());
    let (_serve, base) = serve(&dir.join("mirror"));
    let shot = t.path().join("status.png");
    let home = t.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    headless(
        browser,
        &home,
        &[&format!("--screenshot={}", shot.display())],
        &format!("{base}/"),
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    // The DOM Chromium rendered: the SVG's nodes and arrows.
    let dom = headless(browser, &home, &["--dump-dom"], &format!("{base}/")).stdout;
    assert!(
        dom.contains("<svg class=\"upgrade-graph\""),
        "no graph on the page"
    );
    let (_, _, body) = curl(&format!("{base}/graph?channel=stable&arch=amd64"), &[]);
    let g: serde_json::Value = serde_json::from_slice(&body).expect("graph");
    let svg_start = dom
        .find("aria-label=\"upgrade graph stable no-training linux-amd64\"")
        .expect("the amd64 graph");
    let svg = &dom[svg_start..svg_start + dom[svg_start..].find("</svg>").expect("end")];
    let edges = svg.matches("class=\"edge\"").count();
    assert_eq!(edges, g["edges"].as_array().expect("edges").len(), "arrows");
    assert!(edges > 0);
    for v in g["nodes"].as_array().expect("nodes") {
        let version = v["version"].as_str().expect("version");
        assert!(
            svg.contains(&format!("data-version=\"{version}\"")),
            "node {version}"
        );
    }
    assert!(
        svg.contains("class=\"node required\" data-version=\"2.0.0\""),
        "required 2.0.0 not marked"
    );
    // (The demo's sync leaves the yanked 3.0.0 behind, so no yanked node
    // here; `status_svg` draws one with class "node yanked" and no arrows.)
    assert!(
        svg.contains(">NOV-2026-004<"),
        "advisory not shown on the versions it affects"
    );
    assert!(svg.contains("marker-end=\"url(#arrow)\""));
}
