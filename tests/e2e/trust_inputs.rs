//! Issue 10, "Trust and formats": inline keys decided by content, times
//! that cannot be represented, documents dated in the future, key files
//! that are not what they should be.

use std::path::{Path, PathBuf};

use ferry_tests::{cmd, demo_key, demo_pub};

use super::mirror::World;

/// The base64 line of a demo public key.
fn inline(name: &str) -> String {
    std::fs::read_to_string(demo_pub(name))
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// `w.policy` rewritten with every key inline (base64), as SPEC §3.5 allows.
fn inline_policy(w: &World) -> PathBuf {
    let mut text = std::fs::read_to_string(&w.policy).unwrap();
    for k in ["vendor", "org1", "org2", "org3", "mirror"] {
        text = text.replace(&demo_pub(k).display().to_string(), &inline(k));
    }
    let p = w.path("inline.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// All five demo keys hold a `/` or a `+`: inline they are keys (decided
/// by content), for verify, import and hand-off alike; a path still works.
#[test]
fn inline_keys_with_slashes_are_keys_for_every_command() {
    for k in ["vendor", "org1", "org2", "org3", "mirror"] {
        let b = inline(k);
        assert!(b.contains('/') || b.contains('+'), "{k}: {b}");
    }
    let w = World::with_three_versions_imported();
    let policy = inline_policy(&w);
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(!text.contains(".pub"), "{text}");
    let bundle = w.path("full.tar");
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(&policy)
        .run()
        .ok();
    let fresh = World::new();
    cmd("ferry-mirror")
        .arg("import")
        .arg(&bundle)
        .arg("--mirror")
        .arg(&fresh.mirror)
        .arg("--trust")
        .arg(&policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .run()
        .ok();
    super::mirror::handoff_check(&w.mirror, &policy, "1.0.0")
        .args(["--platform", "linux-amd64"])
        .run()
        .expect_code(10);
    cmd("ferry-mirror")
        .arg("fsck")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&policy)
        .run()
        .ok();
    // ferry-verify file --pubkey takes the same forms: inline with a '/'.
    let art = w
        .mirror
        .join("releases/1.0.0/no-training/novantra_1.0.0_amd64.deb");
    cmd("ferry-verify")
        .args(["file"])
        .arg(&art)
        .arg("--minisig")
        .arg(art.with_extension("deb.minisig"))
        .args(["--pubkey", &inline("vendor")])
        .run()
        .ok();
    // A path that is not there: named, as a path.
    let missing = text.replacen(&inline("org3"), "keys/gone.pub", 1);
    let p = w.path("missing.toml");
    std::fs::write(&p, missing).unwrap();
    let out = cmd("ferry-verify")
        .args(["bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(&p)
        .run();
    assert_ne!(out.code, 0);
    out.stderr_has(&["keys/gone.pub"]);
}

fn sign(ws: &Path, key: &str, extra: &[&str]) -> ferry_tests::Output {
    cmd("ferry")
        .args(["sign", "--workspace"])
        .arg(ws)
        .arg("--key")
        .arg(demo_key(key))
        .args(extra)
        .run()
}

/// Times that cannot be written and read back are refused where they are
/// asked for (exit 2, naming the flag or the field), never signed.
#[test]
fn durations_ferry_cannot_represent_are_refused_everywhere() {
    let w = World::new();
    let ws = w.path("ws");
    super::mirror::sync_versions(&w, "a", &["1.0.0"], &ws);
    for d in ["99999999999999d", "365251d", "99999999999999999999h"] {
        sign(&ws, "org1", &["--expires", d])
            .expect_code(2)
            .stderr_has(&["--expires", d]);
    }
    assert!(!ws.join("ferry/manifest.json").exists());
    // The longest accepted one signs a manifest every reader accepts.
    sign(&ws, "org1", &["--expires", "365250d"]).ok();
    sign(&ws, "org2", &[]).ok();
    // A policy field: a configuration error naming it.
    let text = std::fs::read_to_string(&w.policy).unwrap().replace(
        "max_validity = \"45d\"",
        "max_validity = \"99999999999999d\"",
    );
    let p = w.path("huge.toml");
    std::fs::write(&p, text).unwrap();
    cmd("ferry-verify")
        .args(["manifest"])
        .arg(ws.join("ferry/manifest.json"))
        .arg("--trust")
        .arg(&p)
        .run()
        .expect_code(2)
        .stderr_has(&["max_validity", "1000 years"]);
    // A hand-off flag.
    cmd("ferry-handoff")
        .args(["preflight", "--backup"])
        .arg(w.path("none"))
        .args(["--backup-max-age", "99999999999999d"])
        .run()
        .expect_code(2)
        .stderr_has(&["99999999999999d"]);
}

/// The same rule for a transfer manifest: created after now (plus five
/// minutes of clock skew) is not valid yet, at verify and at import.
#[test]
fn a_manifest_created_in_the_future_is_not_valid_yet() {
    let w = World::new();
    let ws = w.path("ws");
    super::mirror::sync_versions(&w, "a", &["1.0.0"], &ws);
    sign(&ws, "org1", &[]).ok();
    sign(&ws, "org2", &[]).ok();
    let ws_dir = ws;
    let ws = w.path("b.tar");
    super::mirror::pack_ws(&ws_dir, &ws).ok();
    let now = ferry_manifests::time::Timestamp::now();
    let yesterday = ferry_manifests::time::Timestamp::from_unix(now.unix() - 86_400).to_string();
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&ws)
        .arg("--trust")
        .arg(&w.policy)
        .args(["--now", &yesterday])
        .run()
        .expect_code(1)
        .stderr_has(&["ferry/manifest.json", "created", "lies in the future"]);
    let before = ferry_tests::snapshot(&w.mirror);
    super::mirror::import_cmd_at(&w.mirror, &w.policy, &ws)
        .args(["--now", &yesterday])
        .run()
        .expect_code(1)
        .stderr_has(&["lies in the future"]);
    ferry_tests::assert_unchanged(&w.mirror, &before);
    // Four minutes behind the signer's clock: within the skew, accepted.
    let close = ferry_manifests::time::Timestamp::from_unix(now.unix() - 240).to_string();
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&ws)
        .arg("--trust")
        .arg(&w.policy)
        .args(["--now", &close])
        .run()
        .ok();
}

/// Every binary that takes `--key` loads it the same way: a public key
/// given by mistake or a wrong password is a usage error (exit 2) that
/// says what to give; a missing file is exit 3 naming it.
#[test]
fn a_wrong_key_file_or_password_is_a_usage_error_in_every_binary() {
    let w = World::with_three_versions_imported();
    let enc = w.path("enc");
    cmd("ferry")
        .env("FERRY_PASSWORD", "right horse")
        .args(["keygen", "--out"])
        .arg(&enc)
        .run()
        .ok();
    let enc_key = w.path("enc.key");
    let bundle = w.path("full.tar");
    // (binary, args before --key)
    let mirror = w.mirror.display().to_string();
    let bundle_s = bundle.display().to_string();
    let policy = w.policy.display().to_string();
    let receipt = w.path("r.json").display().to_string();
    let ws = w.path("ws").display().to_string();
    let calls: Vec<(&str, Vec<&str>)> = vec![
        ("ferry", vec!["sign", "--workspace", &ws]),
        ("ferry-mirror", vec!["prune", &mirror, "--keep", "5"]),
        (
            "ferry-mirror",
            vec!["import", &bundle_s, "--mirror", &mirror, "--trust", &policy],
        ),
        (
            "ferry-verify",
            vec![
                "bundle",
                &bundle_s,
                "--trust",
                &policy,
                "--receipt",
                &receipt,
            ],
        ),
    ];
    for (bin, args) in &calls {
        let run = |key: &Path, password: Option<&str>| {
            let mut c = cmd(bin).args(args.iter().copied()).arg("--key").arg(key);
            if let Some(p) = password {
                c = c.env("FERRY_PASSWORD", p);
            }
            c.run()
        };
        run(&demo_pub("org1"), None).expect_code(2).stderr_has(&[
            "org1.pub",
            "is a public key",
            "org1.key",
        ]);
        run(&enc_key, Some("wrong horse"))
            .expect_code(2)
            .stderr_has(&["enc.key", "wrong password"]);
        run(&w.path("gone.key"), None)
            .expect_code(3)
            .stderr_has(&["gone.key"]);
    }
}

/// A receipt rewritten without `--key` never keeps the signature of the
/// one before (it would no longer verify); with `--key` it is replaced.
#[test]
fn a_receipt_never_sits_beside_a_stale_signature() {
    let w = World::with_three_versions_imported();
    let bundle = w.path("full.tar");
    let receipt = w.path("receipt.json");
    let sig = w.path("receipt.json.minisig");
    let verify = |key: bool| {
        let mut c = cmd("ferry-verify")
            .args(["bundle"])
            .arg(&bundle)
            .arg("--trust")
            .arg(&w.policy)
            .arg("--receipt")
            .arg(&receipt);
        if key {
            c = c.arg("--key").arg(demo_key("mirror"));
        }
        c.run().ok();
    };
    verify(true);
    assert!(sig.exists());
    let minisign_ok = || {
        std::process::Command::new("minisign")
            .arg("-Vm")
            .arg(&receipt)
            .arg("-p")
            .arg(demo_pub("mirror"))
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ferry_tests::have("minisign") {
        assert!(minisign_ok());
    }
    verify(false);
    assert!(
        !sig.exists(),
        "a stale signature was left beside the new receipt"
    );
    verify(true);
    if ferry_tests::have("minisign") {
        assert!(minisign_ok());
    }
}

/// A bundle, mirror or policy of another product is said plainly, naming
/// both products and the policy file — at verify, import and hand-off.
#[test]
fn another_products_bundle_or_policy_is_named_plainly() {
    let w = World::with_three_versions_imported();
    let other = w.path("other.toml");
    let text = std::fs::read_to_string(&w.policy)
        .unwrap()
        .replace("product = \"novantra\"", "product = \"orbitdb\"");
    std::fs::write(&other, text).unwrap();
    let bundle = w.path("full.tar");
    for sub in ["bundle", "manifest"] {
        let o = cmd("ferry-verify")
            .arg(sub)
            .arg(&bundle)
            .arg("--trust")
            .arg(&other)
            .run();
        o.expect_code(1)
            .stderr_has(&["this bundle is for novantra", "other.toml is for orbitdb"]);
        assert!(!o.stderr.contains("trusted comment"), "{}", o.stderr);
    }
    let before = ferry_tests::snapshot(&w.mirror);
    let o = cmd("ferry-mirror")
        .arg("import")
        .arg(&bundle)
        .arg("--mirror")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&other)
        .arg("--key")
        .arg(demo_key("mirror"))
        .run();
    o.expect_code(1)
        .stderr_has(&["is the mirror of novantra", "other.toml is for orbitdb"]);
    assert!(!o.stderr.contains("--state"), "{}", o.stderr);
    ferry_tests::assert_unchanged(&w.mirror, &before);
    super::mirror::handoff_check(&w.mirror, &other, "1.0.0")
        .run()
        .expect_code(1)
        .stderr_has(&["novantra", "orbitdb"]);
}

fn manifest_sequence(ws: &Path) -> u64 {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("ferry/manifest.json")).unwrap()).unwrap();
    m["sequence"].as_u64().unwrap()
}

fn sign_with_state(
    ws: &Path,
    key: &str,
    state_dir: &Path,
    since: Option<&Path>,
) -> ferry_tests::Output {
    let mut c = cmd("ferry")
        .env("FERRY_STATE_DIR", state_dir)
        .args(["sign", "--workspace"])
        .arg(ws)
        .arg("--key")
        .arg(demo_key(key));
    if let Some(s) = since {
        c = c.arg("--since").arg(s);
    }
    c.run()
}

/// Two workspaces signed within the same second get different sequences
/// (the signing side's counter across workspaces), so both bundles import
/// into one mirror in turn.
#[test]
fn two_workspaces_signed_in_one_second_get_increasing_sequences() {
    let w = World::new();
    let state = w.path("signer-state");
    let (a, b) = (w.path("ws-a"), w.path("ws-b"));
    super::mirror::sync_versions(&w, "a", &["1.0.0", "1.1.0"], &a);
    // A second workspace of the same vendor bytes (a colleague's copy).
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&a)
        .arg(&b)
        .status()
        .unwrap();
    assert!(st.success());
    for ws in [&a, &b] {
        sign_with_state(ws, "org1", &state, None).ok();
        sign_with_state(ws, "org2", &state, None).ok();
    }
    let (sa, sb) = (manifest_sequence(&a), manifest_sequence(&b));
    assert!(sb > sa, "{sa} then {sb}");
    for (ws, name) in [(&a, "a.tar"), (&b, "b.tar")] {
        let out = w.path(name);
        super::mirror::pack_ws(ws, &out).ok();
        w.import_now(&out).ok().stdout_has(&["imported manifest"]);
    }
}

/// `sign --since STATE` goes above the highest sequence the mirror's
/// exported state carries, even one issued by another signing machine far
/// ahead of this clock; the co-signer does not repeat --since.
#[test]
fn sign_since_goes_above_the_mirrors_highest_sequence() {
    let w = World::new();
    // The mirror imported a manifest with a sequence far above this clock.
    let fx = w.workspace("far", 9_000_000_000, 0);
    let far = w.pack(&fx, "far");
    w.import(&far, &[]).ok();
    let state = w.export_state("mirror-state.json");
    let ws = w.path("ws");
    super::mirror::sync_versions(&w, "a", &["1.0.0"], &ws);
    let signer = w.path("signer-state");
    sign_with_state(&ws, "org1", &signer, Some(&state)).ok();
    sign_with_state(&ws, "org2", &signer, None).ok();
    assert!(
        manifest_sequence(&ws) > 9_000_000_000,
        "{}",
        manifest_sequence(&ws)
    );
    let inc = w.path("inc.tar");
    cmd("ferry")
        .args(["pack", "--workspace"])
        .arg(&ws)
        .arg("--out")
        .arg(&inc)
        .arg("--since")
        .arg(&state)
        .run()
        .ok();
    w.import_now(&inc)
        .ok()
        .stdout_has(&["imported manifest", "1.0.0"]);
}
