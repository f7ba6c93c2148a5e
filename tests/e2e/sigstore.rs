//! Sigstore bundles, verified offline (issue 4): every case under
//! `../shared/vectors/sigstore/` gives the outcome its `case.json` expects
//! through the real `ferry-verify file`, also inside a network namespace with
//! no network at all.

use std::path::{Path, PathBuf};

use ferry_manifests::policy::{SigstoreIdentity, TrustPolicy};
use ferry_manifests::sigstore::{SanPattern, SigstoreTrust, check_vendor_sigstore};
use ferry_tests::{Output, bin, cmd, program, shared_dir};

fn vectors() -> PathBuf {
    shared_dir().join("vectors/sigstore")
}

fn text<'a>(case: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    case.get(key).and_then(serde_json::Value::as_str)
}

/// The `ferry-verify file` arguments for one case folder, and the exit code
/// its `case.json` expects.
fn case_args(dir: &Path) -> (Vec<String>, i32) {
    let raw = std::fs::read_to_string(dir.join("case.json")).expect("case.json");
    let case: serde_json::Value = serde_json::from_str(&raw).expect("case.json is JSON");
    let p = |key: &str| {
        dir.join(text(&case, key).unwrap_or_else(|| panic!("{}: no {key}", dir.display())))
            .display()
            .to_string()
    };
    let mut args = vec!["file".to_string()];
    if text(&case, "artifact").is_some() {
        args.push(p("artifact"));
    } else if let Some(h) = text(&case, "artifact_sha256") {
        args.extend(["--digest".into(), format!("sha256:{h}")]);
    } else if let Some(h) = text(&case, "artifact_sha512") {
        args.extend(["--digest".into(), format!("sha512:{h}")]);
    } else {
        panic!("{}: neither artifact nor digest", dir.display());
    }
    args.extend(["--sigstore".into(), p("bundle")]);
    args.extend(["--trusted-root".into(), p("trusted_root")]);
    if text(&case, "verify_with") == Some("public_key") {
        args.extend(["--pubkey".into(), p("public_key")]);
    } else {
        let id = text(&case, "identity").expect("identity");
        let iss = text(&case, "issuer").expect("issuer");
        args.extend([
            "--identity".into(),
            id.into(),
            "--issuer".into(),
            iss.into(),
        ]);
    }
    let expect = match text(&case, "expect") {
        Some("pass") => 0,
        Some("fail") => 1,
        other => panic!("{}: expect is {other:?}", dir.display()),
    };
    (args, expect)
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(vectors())
        .expect("vectors/sigstore exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("case.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Runs every case with `run`; returns the mismatches.
fn walk(run: &dyn Fn(&[String]) -> Output) -> (usize, Vec<String>) {
    let dirs = case_dirs();
    let mut bad = Vec::new();
    for dir in &dirs {
        let (args, expect) = case_args(dir);
        let out = run(&args);
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        if out.code != expect {
            bad.push(format!(
                "{name}: exit {} (expected {expect}): {}",
                out.code,
                out.stderr.trim()
            ));
        } else if expect == 1 && !out.stderr.contains("sigstore") {
            bad.push(format!(
                "{name}: refused without a sigstore reason: {}",
                out.stderr.trim()
            ));
        }
    }
    (dirs.len(), bad)
}

#[test]
fn every_vector_gives_its_expected_outcome_also_without_network() {
    let (n, bad) = walk(&|args| cmd("ferry-verify").args(args).run());
    assert!(
        n >= 50,
        "only {n} cases found under {}",
        vectors().display()
    );
    assert!(
        bad.is_empty(),
        "{} of {n} cases mismatched:\n{}",
        bad.len(),
        bad.join("\n")
    );

    // The same walk with the process in a network namespace with no network.
    let probe = program("unshare")
        .args(["-n", "cat", "/proc/net/dev"])
        .run();
    if probe.code != 0 {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "NOTE: the no-network run was SKIPPED: `unshare -n` failed here (exit {}): {} (it needs root or user namespaces)",
                probe.code,
                probe.stderr.trim()
            );
        }
        return;
    }
    // Only the loopback interface exists inside.
    let ifaces: Vec<&str> = probe
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(
        ifaces,
        ["lo"],
        "the namespace has a network:\n{}",
        probe.stdout
    );
    let verify = bin("ferry-verify");
    let (n2, bad) = walk(&|args| {
        program("unshare")
            .args(["-n".as_ref(), verify.as_os_str()])
            .args(args)
            .run()
    });
    assert_eq!(n, n2);
    assert!(
        bad.is_empty(),
        "without network, {} of {n} cases mismatched:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn san_regex_is_a_full_match() {
    let re = |p: &str| SanPattern::new(p, true).expect("valid regex");
    let wf = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0";
    assert!(
        re(r"https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*")
            .matches(wf)
    );
    // Anchored at both ends: a prefix or suffix match is not enough.
    assert!(!re(r"https://github\.com/acme/").matches(wf));
    assert!(!re(r"acme/app/.*").matches(wf));
    assert!(!re(r".*@refs/tags/v1").matches(wf));
    // Alternation does not escape the anchors.
    assert!(!re("x|https://github.com/acme").matches(wf));
    assert!(re("x|https://github.com/acme.*").matches(wf));
    // Exact is byte equality, dots are not wildcards.
    let exact = SanPattern::new("a.c", false).expect("exact");
    assert!(exact.matches("a.c") && !exact.matches("abc"));
    assert!(SanPattern::new("(unclosed", true).is_err());
}

#[test]
fn policy_accepts_any_listed_identity() {
    let case = vectors().join("conf-happy-path-v0.3");
    let beacon = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    let gha = "https://token.actions.githubusercontent.com";
    let tmp = tempfile::tempdir().expect("tempdir");
    let policy_path = tmp.path().join("ferry-trust.toml");
    let write_policy = |ids: &str| {
        let toml = format!(
            "product = \"novantra\"\n[vendor]\nrequire = [\"sigstore\"]\nsigstore_trusted_root = {root:?}\n{ids}",
            root = case.join("trusted_root.json").display().to_string()
        );
        std::fs::write(&policy_path, toml).expect("write policy");
        TrustPolicy::load(&policy_path)
            .expect("policy loads")
            .vendor
            .expect("[vendor]")
    };
    let bundle = std::fs::read(case.join("bundle.sigstore.json")).expect("bundle");
    let artifact = std::fs::read(case.join("a.txt")).expect("artifact");
    let sha = ferry_manifests::digest::Sha256Digest::of(&artifact);

    let v = write_policy(&format!(
        "[[vendor.sigstore_identity]]\nsan = \"https://example.com/other\"\nissuer = {gha:?}\n\
         [[vendor.sigstore_identity]]\nsan = 'https://github\\.com/sigstore-conformance/.*@refs/heads/main'\nsan_regex = true\nissuer = {gha:?}\n"
    ));
    let out = check_vendor_sigstore(&v, &bundle, "a.txt.sigstore.json", &sha).expect("verifies");
    assert_eq!(out.identity.as_deref(), Some(beacon));
    assert_eq!(out.issuer.as_deref(), Some(gha));
    assert!(out.log_index.is_some());

    // None listed matches: refused, naming the bundle and the identity.
    let v = write_policy(&format!(
        "[[vendor.sigstore_identity]]\nsan = \"https://example.com/other\"\nissuer = {gha:?}\n"
    ));
    let err = check_vendor_sigstore(&v, &bundle, "a.txt.sigstore.json", &sha)
        .expect_err("wrong identity")
        .to_string();
    assert!(
        err.starts_with("a.txt.sigstore.json: sigstore: certificate identity")
            && err.contains("does not match expected identity"),
        "{err}"
    );

    // The right identity but another artifact digest: refused.
    let v = write_policy(&format!(
        "[[vendor.sigstore_identity]]\nsan = {beacon:?}\nissuer = {gha:?}\n"
    ));
    let trust = SigstoreTrust::from_policy(&v).expect("trust loads");
    let other = ferry_manifests::digest::Sha256Digest::of(b"other bytes");
    let err = check_vendor_sigstore(&v, &bundle, "b.json", &other)
        .expect_err("wrong digest")
        .to_string();
    assert!(err.contains("artifact digest does not match"), "{err}");
    let ok = trust
        .check(
            &bundle,
            "b.json",
            ferry_manifests::sigstore::ArtifactInput::Bytes(&artifact),
        )
        .expect("bytes verify");
    assert_eq!(ok.content, "message_signature");

    // The trusted root is configuration: a missing one is an environment
    // error, a broken one a configuration error.
    let mut broken = v.clone();
    broken.sigstore_trusted_root = Some(tmp.path().join("missing.json"));
    let err = check_vendor_sigstore(&broken, &bundle, "b.json", &sha).expect_err("missing root");
    assert_eq!(
        err.class(),
        ferry_manifests::ErrorClass::Environment,
        "{err}"
    );
    std::fs::write(tmp.path().join("bad.json"), "{}").expect("write");
    broken.sigstore_trusted_root = Some(tmp.path().join("bad.json"));
    let err = check_vendor_sigstore(&broken, &bundle, "b.json", &sha).expect_err("bad root");
    assert_eq!(err.class(), ferry_manifests::ErrorClass::Usage, "{err}");
    let _: &SigstoreIdentity = &v.sigstore_identities[0];
}

#[test]
fn raw_message_keys_need_the_whole_artifact() {
    use ferry_manifests::sigstore::{Expect, SigstoreBundle};
    let managed = vectors().join("conf-managed-key-happy-path");
    let bytes = std::fs::read(managed.join("bundle.sigstore.json")).expect("bundle");
    let bundle = SigstoreBundle::parse(&bytes, "b.json").expect("parses");
    let ecdsa = std::fs::read_to_string(managed.join("key.pub")).expect("key.pub");
    // An ECDSA key signs a digest: a stream or a digest is enough.
    assert!(!bundle.needs_whole_artifact(&Expect::PublicKey(ecdsa)));
    // An Ed25519 key signs the raw message.
    let ed25519 = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAERERERERERERERERERERERERERERERERERERERERERE=\n-----END PUBLIC KEY-----\n";
    assert!(bundle.needs_whole_artifact(&Expect::PublicKey(ed25519.into())));
    // A Fulcio certificate (ECDSA) signs a digest.
    let happy = vectors().join("conf-happy-path-v0.3/bundle.sigstore.json");
    let bundle =
        SigstoreBundle::parse(&std::fs::read(happy).expect("bundle"), "h.json").expect("parses");
    assert!(!bundle.needs_whole_artifact(&Expect::Identities(Vec::new())));
}

/// Issue 4: `ferry-verify` links no networking crate (certificate parsing
/// crates `rustls-pki-types` and `rustls-webpki` are fine).
#[test]
fn ferry_verify_links_no_network_stack() {
    let out = program(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "ferry-verify",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(ferry_tests::repo_root())
        .run();
    out.expect_code(0);
    let forbidden = [
        "reqwest",
        "hyper",
        "hyper-util",
        "tokio",
        "rustls",
        "native-tls",
        "openssl",
        "h2",
        "sigstore-tuf",
        "tough",
        "ureq",
        "curl",
    ];
    let linked: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| forbidden.contains(name))
        .collect();
    assert!(
        linked.is_empty(),
        "ferry-verify links {linked:?}:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("sigstore-verify"), "{}", out.stdout);
}

/// Issue 13: a Sigstore `trusted_root.json` travels in the trust chain and,
/// once applied, is the root the vendor checks use; before, the policy
/// (which names none) cannot check Sigstore bundles at all.
#[test]
fn a_trusted_root_from_the_trust_chain_replaces_the_policys() {
    let case = vectors().join("conf-happy-path-v0.3");
    let gha = "https://token.actions.githubusercontent.com";
    let tmp = tempfile::tempdir().expect("tempdir");
    let policy_path = tmp.path().join("ferry-trust.toml");
    let k = |n: &str| ferry_tests::demo_pub(n).display().to_string();
    std::fs::write(
        &policy_path,
        format!(
            "product = \"novantra\"\n[vendor]\nminisign_keys = [{v:?}]\nrequire = [\"sigstore\"]\n\
             [[vendor.sigstore_identity]]\nsan = 'https://github\\.com/sigstore-conformance/.*@refs/heads/main'\nsan_regex = true\nissuer = {gha:?}\n\
             [root]\nkeys = [{r1:?}, {r2:?}]\nthreshold = 2\n",
            v = k("vendor"),
            r1 = k("root1"),
            r2 = k("root2"),
        ),
    )
    .expect("policy");
    let policy = TrustPolicy::load(&policy_path)
        .expect("a policy with [root] may leave the root to the chain");
    let bundle = std::fs::read(case.join("bundle.sigstore.json")).expect("bundle");
    let artifact = std::fs::read(case.join("a.txt")).expect("artifact");
    let sha = ferry_manifests::digest::Sha256Digest::of(&artifact);
    let before = check_vendor_sigstore(
        policy.vendor.as_ref().expect("vendor"),
        &bundle,
        "a.json",
        &sha,
    )
    .expect_err("no trusted root yet");
    assert!(
        before
            .to_string()
            .contains("sigstore_trusted_root is not set"),
        "{before}"
    );

    // Root holders put the trusted root into version 2 and sign it.
    let chain = tmp.path().join("chain");
    let doc = chain.join("2.json");
    ferry_tests::cmd("ferry")
        .args(["trust", "new", "--from"])
        .arg(&policy_path)
        .arg("--set")
        .arg(format!(
            "sigstore_trusted_root={}",
            case.join("trusted_root.json").display()
        ))
        .arg("--out")
        .arg(&doc)
        .run()
        .ok();
    for r in ["root1", "root2"] {
        ferry_tests::cmd("ferry")
            .args(["trust", "sign"])
            .arg(&doc)
            .arg("--key")
            .arg(ferry_tests::demo_key(r))
            .run()
            .ok();
    }
    assert!(chain.join("sigstore/2.trusted_root.json").is_file());
    let candidates = ferry_manifests::trust::read_dir(&chain).expect("chain");
    let now = ferry_manifests::time::Timestamp::now();
    let applied = ferry_manifests::trust::apply(&policy, candidates.clone(), now).expect("applies");
    let out = check_vendor_sigstore(
        applied.policy.vendor.as_ref().expect("vendor"),
        &bundle,
        "a.json",
        &sha,
    )
    .expect("verifies with the chain's root");
    assert!(out.log_index.is_some());

    // A root that does not hash as the version names it is refused.
    let mut tampered = candidates;
    let mut bytes = tampered[0]
        .sigstore_root
        .as_ref()
        .expect("root")
        .as_ref()
        .clone();
    bytes.push(b' ');
    tampered[0].sigstore_root = Some(std::sync::Arc::new(bytes));
    let err = ferry_manifests::trust::apply(&policy, tampered, now).expect_err("tampered root");
    assert!(err.to_string().contains("Sigstore trusted root"), "{err}");
}
