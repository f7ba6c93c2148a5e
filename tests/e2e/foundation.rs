//! Issue 2: keys, minisign interop with the real CLI, the shared minisign
//! vectors, and `ferry index build`.

use std::path::Path;

use ferry_manifests::index::ReleaseIndex;
use ferry_manifests::minisig::{Legacy, PublicKey, SecretKey, SignatureFile};
use ferry_tests::{cmd, demo_key, demo_pub, have, program, shared_dir};

/// Writes a small vendor folder in the convention of `ferry index build`.
pub(crate) fn write_vendor_folder(dir: &Path) {
    let w = |rel: &str, bytes: &[u8]| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    w("product.toml", b"product = \"novantra\"\n");
    w(
        "2.4.0/release.toml",
        br#"channels = ["stable"]
published = "2026-04-02T00:00:00Z"
required = true

[[advisories]]
id = "NOV-2026-007"
severity = "medium"
affected = ">=2.0.0, <2.4.0"
fixed_in = "2.4.0"
summary = "Audit export omits failed logins"

[[artifacts]]
file = "app_2.4.0_amd64.deb"
profile = "no-training"
platform = "linux-amd64"
format = "deb"
"#,
    );
    w("2.4.0/NOTES.md", b"# 2.4.0\n");
    w(
        "2.4.0/no-training/app_2.4.0_amd64.deb",
        &ferry_tests::det_bytes(1, 100_000),
    );
    w(
        "3.2.1/release.toml",
        br#"channels = ["preview", "stable"]
published = "2026-11-01T00:00:00Z"
supported_from = ">=2.0.0"
yanked = "broken"

[[artifacts]]
file = "app_3.2.1_amd64.deb"
profile = "default"
platform = "linux-amd64"
format = "deb"

[[artifacts]]
file = "app_3.2.1_amd64.deb"
profile = "no-training"
platform = "linux-amd64"
format = "deb"
"#,
    );
    w("3.2.1/NOTES.md", b"# 3.2.1\n");
    w(
        "3.2.1/default/app_3.2.1_amd64.deb",
        &ferry_tests::det_bytes(2, 70_000),
    );
    w(
        "3.2.1/no-training/app_3.2.1_amd64.deb",
        &ferry_tests::det_bytes(3, 50_000),
    );
}

#[test]
fn index_build_signs_an_index_that_parses_back_and_minisign_verifies() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let out = t.path().join("web");
    write_vendor_folder(&src);
    let o = cmd("ferry")
        .args(["--json", "index", "build", "--from"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .arg("--key")
        .arg(demo_key("vendor"))
        .args(["--generated", "2026-11-20T00:00:00Z"])
        .run();
    o.ok();
    let j = o.json();
    assert_eq!(j["type"], "index-build");
    assert_eq!(j["releases"], 2);
    assert_eq!(j["artifacts"], 3);

    let bytes = std::fs::read(out.join("index.json")).unwrap();
    let index = ReleaseIndex::parse(&bytes, "index.json").unwrap();
    assert_eq!(index.product.as_str(), "novantra");
    let versions: Vec<String> = index
        .releases
        .iter()
        .map(|r| r.version.to_string())
        .collect();
    assert_eq!(versions, ["2.4.0", "3.2.1"]);
    let r0 = &index.releases[0];
    assert!(r0.required);
    assert_eq!(r0.advisories[0].id.as_str(), "NOV-2026-007");
    let r1 = &index.releases[1];
    assert_eq!(r1.yanked.as_ref().unwrap().reason, "broken");
    assert_eq!(r1.supported_from.as_ref().unwrap().to_string(), ">=2.0.0");
    let a = &r1.artifacts[1];
    assert_eq!(
        a.url.as_deref().unwrap(),
        "3.2.1/no-training/app_3.2.1_amd64.deb"
    );
    assert_eq!(a.size, 50_000);
    assert_eq!(
        a.sha256.unwrap().to_hex(),
        ferry_tests::sha256_hex(&ferry_tests::det_bytes(3, 50_000))
    );
    assert!(
        out.join("3.2.1/no-training/app_3.2.1_amd64.deb.minisig")
            .exists()
    );

    // The real minisign CLI accepts ferry's signatures (index and artifact).
    if !have("minisign") {
        eprintln!(
            "SKIPPED the minisign CLI half: minisign is not installed (scripts/ci.sh installs it)"
        );
        return;
    }
    program("minisign")
        .args(["-V", "-H", "-m"])
        .arg(out.join("index.json"))
        .args(["-x"])
        .arg(out.join("index.json.minisig"))
        .args(["-p"])
        .arg(demo_pub("vendor"))
        .run()
        .ok();
    program("minisign")
        .args(["-V", "-H", "-m"])
        .arg(out.join("3.2.1/no-training/app_3.2.1_amd64.deb"))
        .args(["-p"])
        .arg(demo_pub("vendor"))
        .run()
        .ok();
}

#[test]
fn index_build_refuses_a_malformed_release_folder() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_vendor_folder(&src);
    let toml = src.join("2.4.0/release.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("colour = \"blue\"\n{text}")).unwrap();
    cmd("ferry")
        .args(["index", "build", "--from"])
        .arg(&src)
        .arg("--key")
        .arg(demo_key("vendor"))
        .args(["--out"])
        .arg(t.path().join("web"))
        .run()
        .expect_code(2)
        .stderr_has(&["release.toml", "unknown field `colour`"]);
}

#[test]
fn keygen_writes_0600_never_overwrites_and_encrypts_by_default() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let prefix = t.path().join("org-1");
    let o = cmd("ferry")
        .args(["--json", "keygen", "--out"])
        .arg(&prefix)
        .env("FERRY_PASSWORD", "correct horse")
        .run();
    o.ok();
    let j = o.json();
    assert_eq!(j["encrypted"], true);
    let key = t.path().join("org-1.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(SecretKey::file_is_encrypted(&key).unwrap());
    // The password never shows up anywhere.
    assert!(!o.stdout.contains("correct horse") && !o.stderr.contains("correct horse"));
    assert!(
        !std::fs::read_to_string(&key)
            .unwrap()
            .contains("correct horse")
    );
    let before = std::fs::read(&key).unwrap();
    cmd("ferry")
        .args(["keygen", "--unencrypted", "--out"])
        .arg(&prefix)
        .run()
        .expect_code(2)
        .stderr_has(&["org-1.key", "already exists"]);
    assert_eq!(std::fs::read(&key).unwrap(), before);
    // Wrong password is refused; the right one signs.
    assert!(SecretKey::from_file(&key, Some("wrong".into())).is_err());
    let sk = SecretKey::from_file(&key, Some("correct horse".into())).unwrap();
    let pk = PublicKey::from_file(&t.path().join("org-1.pub")).unwrap();
    assert_eq!(sk.id(), pk.id());
    // No terminal and no FERRY_PASSWORD: a usage error, not a hang.
    cmd("ferry")
        .args(["keygen", "--out"])
        .arg(t.path().join("org-2"))
        .run()
        .expect_code(2)
        .stderr_has(&["FERRY_PASSWORD"]);
}

#[test]
fn minisign_cli_interop_both_ways() {
    if !have("minisign") {
        eprintln!("SKIPPED: minisign is not installed (scripts/ci.sh installs it)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let msg = d.join("msg.bin");
    std::fs::write(&msg, ferry_tests::det_bytes(9, 10_000)).unwrap();

    // 1. A pair and a signature made by `minisign -G` / `minisign -S` verify in ferry,
    //    and ferry signs with the minisign-made secret key.
    program("minisign")
        .args(["-G", "-W", "-p"])
        .arg(d.join("m.pub"))
        .args(["-s"])
        .arg(d.join("m.key"))
        .run()
        .ok();
    program("minisign")
        .args(["-S", "-W", "-s"])
        .arg(d.join("m.key"))
        .args(["-m"])
        .arg(&msg)
        .run()
        .ok();
    let pk = PublicKey::from_file(&d.join("m.pub")).unwrap();
    let sig = SignatureFile::parse(
        &std::fs::read(d.join("msg.bin.minisig")).unwrap(),
        "msg.bin.minisig",
    )
    .unwrap();
    pk.verify(
        &std::fs::read(&msg).unwrap(),
        &sig,
        Legacy::Refuse,
        "msg.bin.minisig",
    )
    .unwrap();
    let sk = SecretKey::from_file(&d.join("m.key"), None).unwrap();
    let text = sk
        .sign(
            &std::fs::read(&msg).unwrap()[..],
            "ferry-made with a minisign key",
        )
        .unwrap();
    std::fs::write(d.join("ferry.minisig"), text).unwrap();
    program("minisign")
        .args(["-V", "-H", "-m"])
        .arg(&msg)
        .args(["-x"])
        .arg(d.join("ferry.minisig"))
        .args(["-p"])
        .arg(d.join("m.pub"))
        .run()
        .ok();

    // 2. A key from `ferry keygen --unencrypted` signs with `minisign -S -W`; ferry verifies.
    cmd("ferry")
        .args(["keygen", "--unencrypted", "--out"])
        .arg(d.join("f"))
        .run()
        .ok();
    program("minisign")
        .args(["-S", "-W", "-s"])
        .arg(d.join("f.key"))
        .args(["-m"])
        .arg(&msg)
        .args(["-x"])
        .arg(d.join("f.minisig"))
        .run()
        .ok();
    let pk = PublicKey::from_file(&d.join("f.pub")).unwrap();
    let sig =
        SignatureFile::parse(&std::fs::read(d.join("f.minisig")).unwrap(), "f.minisig").unwrap();
    pk.verify(
        &std::fs::read(&msg).unwrap(),
        &sig,
        Legacy::Refuse,
        "f.minisig",
    )
    .unwrap();
    // ...and a tampered message does not.
    assert!(
        pk.verify(b"other", &sig, Legacy::Refuse, "f.minisig")
            .is_err()
    );

    // 3. An encrypted ferry key works with the CLI (password on stdin).
    cmd("ferry")
        .args(["keygen", "--out"])
        .arg(d.join("e"))
        .env("FERRY_PASSWORD", "pw-123")
        .run()
        .ok();
    program("minisign")
        .args(["-S", "-s"])
        .arg(d.join("e.key"))
        .args(["-m"])
        .arg(&msg)
        .args(["-x"])
        .arg(d.join("e.minisig"))
        .stdin("pw-123\n")
        .run()
        .ok();
    program("minisign")
        .args(["-V", "-m"])
        .arg(&msg)
        .args(["-x"])
        .arg(d.join("e.minisig"))
        .args(["-p"])
        .arg(d.join("e.pub"))
        .run()
        .ok();
}

#[test]
fn shared_minisign_vectors_give_their_expected_outcome() {
    let root = shared_dir().join("vectors/minisign");
    let mut seen = 0;
    let mut wrong = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the vectors live in ../shared beside the clone)",
                root.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let case: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let message = std::fs::read(dir.join(case["message"].as_str().unwrap())).unwrap();
        let sig_bytes = std::fs::read(dir.join(case["signature"].as_str().unwrap())).unwrap();
        let key_text =
            std::fs::read_to_string(dir.join(case["public_key"].as_str().unwrap())).unwrap();
        let legacy = if case["allow_legacy"].as_bool().unwrap() {
            Legacy::Allow
        } else {
            Legacy::Refuse
        };
        let outcome = PublicKey::from_text(&key_text, &name)
            .and_then(|pk| {
                let sig = SignatureFile::parse(&sig_bytes, &name)?;
                pk.verify(&message, &sig, legacy, &name)
            })
            .map_err(|e| e.to_string());
        let expect_pass = case["expect"] == "pass";
        if outcome.is_ok() != expect_pass {
            wrong.push(format!(
                "{name}: expected {}, got {outcome:?}",
                case["expect"]
            ));
        }
        seen += 1;
    }
    assert!(
        seen >= 12,
        "only {seen} cases found under {}",
        root.display()
    );
    assert!(
        wrong.is_empty(),
        "vectors with the wrong outcome:\n{}",
        wrong.join("\n")
    );
}
