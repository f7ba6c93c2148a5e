//! `ferry-verify file` (SPEC §4): each way an artifact can fail gives exit
//! 1 with the reason and the file named; usage errors exit 2, a missing
//! file exits 3.

use std::path::{Path, PathBuf};

use ferry_manifests::minisig::SecretKey;
use ferry_tests::{cmd, demo_key, demo_pub, sha256_hex, shared_dir};

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GHA: &str = "https://token.actions.githubusercontent.com";

fn happy() -> PathBuf {
    shared_dir().join("vectors/sigstore/conf-happy-path-v0.3")
}

/// `file ARTIFACT --sigstore … --trusted-root …` for the happy-path case.
fn sigstore_args(artifact: &Path) -> Vec<String> {
    let case = happy();
    vec![
        "file".into(),
        artifact.display().to_string(),
        "--sigstore".into(),
        case.join("bundle.sigstore.json").display().to_string(),
        "--trusted-root".into(),
        case.join("trusted_root.json").display().to_string(),
    ]
}

fn with(mut base: Vec<String>, more: &[&str]) -> Vec<String> {
    base.extend(more.iter().map(|s| (*s).to_string()));
    base
}

#[test]
fn sigstore_good_then_wrong_identity_regex_issuer_and_artifact() {
    let artifact = happy().join("a.txt");
    let base = sigstore_args(&artifact);

    // Positive controls: exact identity, then a regex that matches.
    cmd("ferry-verify")
        .args(with(base.clone(), &["--identity", BEACON, "--issuer", GHA]))
        .run()
        .ok()
        .stdout_has(&["PASS", "sigstore", BEACON, "valid"]);
    let json = cmd("ferry-verify")
        .args(with(
            base.clone(),
            &[
                "--json",
                "--identity",
                r"https://github\.com/sigstore-conformance/.*@refs/heads/main",
                "--identity-regex",
                "--issuer",
                GHA,
            ],
        ))
        .run()
        .ok()
        .json();
    assert_eq!(json["type"], "verify_file");
    assert_eq!(json["valid"], true);
    assert_eq!(json["checks"][0]["kind"], "sigstore");
    assert_eq!(json["checks"][0]["sigstore"]["identity"], BEACON);
    assert!(
        json["checks"][0]["sigstore"]["log_index"].is_u64(),
        "{json}"
    );

    // cosign's flag names (issue 16): the same checks.
    cmd("ferry-verify")
        .args(with(
            base.clone(),
            &[
                "--certificate-identity",
                BEACON,
                "--certificate-oidc-issuer",
                GHA,
            ],
        ))
        .run()
        .ok()
        .stdout_has(&["PASS", "sigstore", BEACON, "valid"]);
    cmd("ferry-verify")
        .args(with(
            base.clone(),
            &[
                "--certificate-identity-regexp",
                r"https://github\.com/sigstore-conformance/.*@refs/heads/main",
                "--certificate-oidc-issuer",
                GHA,
            ],
        ))
        .run()
        .ok()
        .stdout_has(&["PASS", "sigstore", BEACON, "valid"]);
    cmd("ferry-verify")
        .args(with(
            base.clone(),
            &[
                "--certificate-identity-regexp",
                r"https://example\.com/.*",
                "--issuer",
                GHA,
            ],
        ))
        .run()
        .expect_code(1);

    // A wrong identity.
    cmd("ferry-verify")
        .args(with(
            base.clone(),
            &["--identity", "https://github.com/acme/release.yml@refs/heads/main", "--issuer", GHA],
        ))
        .run()
        .expect_code(1)
        .stderr_has(&[
            "bundle.sigstore.json: sigstore: certificate identity",
            BEACON,
            "does not match expected identity \"https://github.com/acme/release.yml@refs/heads/main\"",
        ]);

    // A regex that does not match (it would match a substring: full match only).
    cmd("ferry-verify")
        .args(with(
            base.clone(),
            &[
                "--identity",
                "sigstore-conformance",
                "--identity-regex",
                "--issuer",
                GHA,
            ],
        ))
        .run()
        .expect_code(1)
        .stderr_has(&[
            "certificate identity",
            "does not match expected identity regex \"sigstore-conformance\"",
        ]);

    // A wrong issuer.
    cmd("ferry-verify")
        .args(with(
            base,
            &[
                "--identity",
                BEACON,
                "--issuer",
                "https://accounts.google.com",
            ],
        ))
        .run()
        .expect_code(1)
        .stderr_has(&[
            "bundle.sigstore.json: sigstore: certificate issuer",
            GHA,
            "does not match expected issuer \"https://accounts.google.com\"",
        ]);

    // A tampered artifact: one byte flipped.
    let tmp = tempfile::tempdir().expect("tempdir");
    let tampered = tmp.path().join("a.txt");
    let mut bytes = std::fs::read(&artifact).expect("artifact");
    bytes[0] ^= 0x01;
    std::fs::write(&tampered, &bytes).expect("write");
    cmd("ferry-verify")
        .args(with(
            sigstore_args(&tampered),
            &["--identity", BEACON, "--issuer", GHA],
        ))
        .run()
        .expect_code(1)
        .stderr_has(&[
            "a.txt: not valid",
            "bundle.sigstore.json: sigstore: artifact digest does not match the bundle",
        ]);

    // The same bundle checked by digest: the right one passes, another fails.
    let digest = |hex: &str| {
        let case = happy();
        vec![
            "file".to_string(),
            "--digest".into(),
            format!("sha256:{hex}"),
            "--sigstore".into(),
            case.join("bundle.sigstore.json").display().to_string(),
            "--trusted-root".into(),
            case.join("trusted_root.json").display().to_string(),
            "--identity".into(),
            BEACON.into(),
            "--issuer".into(),
            GHA.into(),
        ]
    };
    let good = sha256_hex(&std::fs::read(&artifact).expect("artifact"));
    cmd("ferry-verify").args(digest(&good)).run().ok();
    cmd("ferry-verify")
        .args(digest(&sha256_hex(&bytes)))
        .run()
        .expect_code(1)
        .stderr_has(&["artifact digest does not match"]);
}

#[test]
fn sigstore_usage_errors_exit_2() {
    let artifact = happy().join("a.txt");
    // Neither identity nor key.
    cmd("ferry-verify")
        .args(sigstore_args(&artifact))
        .run()
        .expect_code(2)
        .stderr_has(&["--identity", "--pubkey KEY.pem"]);
    // Identity without issuer.
    cmd("ferry-verify")
        .args(with(sigstore_args(&artifact), &["--identity", BEACON]))
        .run()
        .expect_code(2);
    // An invalid regex.
    cmd("ferry-verify")
        .args(with(
            sigstore_args(&artifact),
            &["--identity", "(", "--identity-regex", "--issuer", GHA],
        ))
        .run()
        .expect_code(2)
        .stderr_has(&["invalid SAN regular expression"]);
    // A malformed digest.
    cmd("ferry-verify")
        .args(["file", "--digest", "sha256:ABC", "--sha256", "00"])
        .run()
        .expect_code(2);
    // A malformed minisign key is a bad flag value.
    let tmp = tempfile::tempdir().expect("tempdir");
    let junk = tmp.path().join("junk.pub");
    std::fs::write(&junk, "not a key\n").expect("write");
    cmd("ferry-verify")
        .args([
            "file".to_string(),
            artifact.display().to_string(),
            "--minisig".into(),
            junk.display().to_string(),
            "--pubkey".into(),
            junk.display().to_string(),
        ])
        .run()
        .expect_code(2)
        .stderr_has(&["--pubkey", "junk.pub"]);
    // Nothing to check.
    cmd("ferry-verify")
        .args(["file".to_string(), artifact.display().to_string()])
        .run()
        .expect_code(2)
        .stderr_has(&["nothing to check"]);
}

#[test]
fn minisign_prehashed_legacy_sha256_and_missing_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let artifact = tmp.path().join("app-3.2.1.tar.gz");
    let data = ferry_tests::det_bytes(7, 300_000);
    std::fs::write(&artifact, &data).expect("write");
    let key = SecretKey::from_file(&demo_key("vendor"), None).expect("demo vendor key");
    let sig = tmp.path().join("app-3.2.1.tar.gz.minisig");
    std::fs::write(
        &sig,
        key.sign(&data[..], "file:app-3.2.1.tar.gz").expect("sign"),
    )
    .expect("write sig");
    let a = artifact.display().to_string();
    let s = sig.display().to_string();
    let p = demo_pub("vendor").display().to_string();
    let hex = sha256_hex(&data);

    // A good prehashed signature, with the right sha256 too.
    cmd("ferry-verify")
        .args([
            "file",
            &a,
            "--minisig",
            &s,
            "--pubkey",
            &p,
            "--sha256",
            &hex,
        ])
        .run()
        .ok()
        .stdout_has(&[
            "PASS sha256",
            "PASS minisign",
            "valid (2 check(s), 0 failed)",
        ]);

    // The key as a bare base64 argument works as well.
    let b64 = std::fs::read_to_string(demo_pub("vendor"))
        .expect("pub")
        .lines()
        .nth(1)
        .expect("base64 line")
        .to_string();
    cmd("ferry-verify")
        .args(["file", &a, "--minisig", &s, "--pubkey", &b64])
        .run()
        .ok();

    // A --sha256 mismatch names the artifact.
    let wrong = "0".repeat(64);
    cmd("ferry-verify")
        .args(["file", &a, "--sha256", &wrong])
        .run()
        .expect_code(1)
        .stderr_has(&[&format!(
            "{a}: sha256 mismatch (expected {wrong}, got {hex})"
        )]);

    // A changed artifact fails the minisign check, naming the signature file.
    let mut changed = data.clone();
    changed[1234] ^= 0x80;
    let changed_path = tmp.path().join("changed.tar.gz");
    std::fs::write(&changed_path, &changed).expect("write");
    cmd("ferry-verify")
        .args([
            "file",
            &changed_path.display().to_string(),
            "--minisig",
            &s,
            "--pubkey",
            &p,
        ])
        .run()
        .expect_code(1)
        .stderr_has(&[&format!("{s}:")]);

    // A missing artifact is an environment error.
    cmd("ferry-verify")
        .args([
            "file",
            &tmp.path().join("absent.tar.gz").display().to_string(),
            "--sha256",
            &hex,
        ])
        .run()
        .expect_code(3)
        .stderr_has(&["absent.tar.gz"]);
}

#[test]
fn legacy_minisign_only_with_allow_legacy() {
    let case = shared_dir().join("vectors/minisign/rmv-legacy-test");
    let m = case.join("message.bin").display().to_string();
    let s = case.join("message.bin.minisig").display().to_string();
    let p = case.join("public_key.b64").display().to_string();
    cmd("ferry-verify")
        .args(["file", &m, "--minisig", &s, "--pubkey", &p])
        .run()
        .expect_code(1)
        .stderr_has(&[
            &s,
            "legacy (non-prehashed) minisign signature refused",
            "--allow-legacy",
        ]);
    cmd("ferry-verify")
        .args([
            "file",
            &m,
            "--minisig",
            &s,
            "--pubkey",
            &p,
            "--allow-legacy",
        ])
        .run()
        .ok()
        .stderr_has(&["warning: --allow-legacy", "LEGACY"]);
}
