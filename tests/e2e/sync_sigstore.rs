//! Issue 4 wired into issue 3: `ferry sync` checks a vendor Sigstore bundle
//! offline when the trust policy requires it, records the identity, issuer
//! and log index in the manifest, and refuses a bundle from the wrong signer.
//! The bundle and trusted root are real (../shared/vectors/sigstore), copied
//! at run time into a temp dir, never into the repository.

use std::path::{Path, PathBuf};

use ferry_tests::http::Server;
use ferry_tests::{cmd, demo_key, repo_root, shared_dir};

const CASE: &str = "conf-happy-path-v0.3";
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn vendor(dir: &Path) -> PathBuf {
    let case = shared_dir().join("vectors/sigstore").join(CASE);
    let src = dir.join("src");
    let art = src.join("1.0.0/no-training");
    std::fs::create_dir_all(&art).unwrap();
    std::fs::write(src.join("product.toml"), "product = \"novantra\"\n").unwrap();
    std::fs::write(
        src.join("1.0.0/release.toml"),
        "channels = [\"stable\"]\npublished = \"2026-01-01T00:00:00Z\"\n\n[[artifacts]]\nfile = \"a.txt\"\nprofile = \"no-training\"\nplatform = \"any\"\nformat = \"txt\"\n",
    )
    .unwrap();
    std::fs::write(src.join("1.0.0/NOTES.md"), "# 1.0.0\n").unwrap();
    std::fs::copy(case.join("a.txt"), art.join("a.txt")).unwrap();
    std::fs::copy(
        case.join("bundle.sigstore.json"),
        art.join("a.txt.sigstore.json"),
    )
    .unwrap();
    std::fs::copy(
        case.join("trusted_root.json"),
        dir.join("trusted_root.json"),
    )
    .unwrap();
    let web = dir.join("web");
    cmd("ferry")
        .args(["index", "build", "--from"])
        .arg(&src)
        .arg("--out")
        .arg(&web)
        .arg("--key")
        .arg(demo_key("vendor"))
        .run()
        .ok();
    web
}

fn policy(dir: &Path, identity: &str) -> PathBuf {
    let keys = repo_root().join("keys/demo");
    let p = dir.join(format!("policy-{}.toml", identity.len()));
    std::fs::write(
        &p,
        format!(
            r#"product = "novantra"
[vendor]
minisign_keys = ["{v}"]
require = ["minisign", "sigstore"]
sigstore_trusted_root = "trusted_root.json"
[[vendor.sigstore_identity]]
san = "{identity}"
issuer = "{ISSUER}"
[transfer]
keys = ["{o1}", "{o2}"]
threshold = 1
"#,
            v = keys.join("vendor.pub").display(),
            o1 = keys.join("org1.pub").display(),
            o2 = keys.join("org2.pub").display(),
        ),
    )
    .unwrap();
    p
}

#[test]
fn sync_checks_a_required_sigstore_bundle_and_records_the_signer() {
    let t = tempfile::tempdir().unwrap();
    let web = vendor(t.path());
    let server = Server::start(&web);
    let sync = |policy: &Path, ws: &Path| {
        cmd("ferry")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .args([
                "sync",
                "--index",
                &server.url("/index.json"),
                "--channel",
                "stable",
                "--profile",
                "no-training",
                "--trust",
            ])
            .arg(policy)
            .arg("--workspace")
            .arg(ws)
            .run()
    };
    // A signer other than the one the policy expects: refused, nothing kept.
    let ws_bad = t.path().join("ws-bad");
    sync(
        &policy(
            t.path(),
            "https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main",
        ),
        &ws_bad,
    )
    .expect_code(1)
    .stderr_has(&["a.txt.sigstore.json", "identity"]);
    assert!(!ws_bad.join("releases/1.0.0/no-training/a.txt").exists());

    // The expected signer: synced, and the manifest records identity, issuer and log index.
    let ws = t.path().join("ws");
    let good = policy(t.path(), IDENTITY);
    sync(&good, &ws).ok();
    assert!(
        ws.join("releases/1.0.0/no-training/a.txt.sigstore.json")
            .exists()
    );
    cmd("ferry")
        .args(["sign", "--workspace"])
        .arg(&ws)
        .arg("--key")
        .arg(demo_key("org1"))
        .run()
        .ok();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("ferry/manifest.json")).unwrap()).unwrap();
    let upstream = &m["releases"][0]["artifacts"][0]["upstream"];
    let sig = upstream
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "sigstore")
        .expect("a sigstore upstream entry");
    assert_eq!(sig["identity"], IDENTITY);
    assert_eq!(sig["issuer"], ISSUER);
    assert!(sig["log_index"].as_u64().is_some(), "{sig}");
}
