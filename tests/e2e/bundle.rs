//! Issue 5: `ferry pack` and `ferry-verify bundle/manifest/report` round
//! trips in every carrier, reproducibility, volumes, parity and repair.

use std::path::{Path, PathBuf};

use ferry_tests::fixtures::{self, Fixture, NOW};
use ferry_tests::{Output, assert_unchanged, cmd, snapshot};

/// A test's world: a temp dir holding the workspace, the policy, the
/// bundles, and a canary `outside/` directory.
pub(crate) struct World {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) fx: Fixture,
    pub(crate) policy: PathBuf,
}

impl World {
    pub(crate) fn new() -> Self {
        Self::with_size(300 * 1024 + 17)
    }

    pub(crate) fn with_size(size: usize) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fx = Fixture::new(&tmp.path().join("ws"), size);
        let policy = fixtures::policy(tmp.path(), 2);
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("canary.txt"), b"canary").expect("canary");
        World { tmp, fx, policy }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub(crate) fn pack(&self, out: &str, extra: &[&str]) -> PathBuf {
        let p = self.path(out);
        cmd("ferry")
            .args(["pack", "--workspace"])
            .arg(&self.fx.root)
            .arg("--out")
            .arg(&p)
            .args(extra)
            .run()
            .ok();
        p
    }

    pub(crate) fn verify(&self, target: &Path, extra: &[&str]) -> Output {
        cmd("ferry-verify")
            .args(["bundle"])
            .arg(target)
            .arg("--trust")
            .arg(&self.policy)
            .args(if extra.contains(&"--now") {
                vec![]
            } else {
                vec!["--now", NOW]
            })
            .args(extra)
            .current_dir(self.tmp.path())
            .run()
    }

    pub(crate) fn verify_stdin(&self, bytes: Vec<u8>) -> Output {
        cmd("ferry-verify")
            .args(["bundle", "-", "--trust"])
            .arg(&self.policy)
            .args(["--now", NOW])
            .stdin(bytes)
            .current_dir(self.tmp.path())
            .run()
    }

    /// ATTACKS §0: exit 1, the reason named, nothing written anywhere.
    #[track_caller]
    pub(crate) fn reject(&self, target: &Path, needles: &[&str]) -> Output {
        self.reject_with(target, &[], needles)
    }

    #[track_caller]
    pub(crate) fn reject_with(&self, target: &Path, extra: &[&str], needles: &[&str]) -> Output {
        let before = snapshot(self.tmp.path());
        let out = self.verify(target, extra);
        out.expect_code(1).stderr_has(needles);
        assert_unchanged(self.tmp.path(), &before);
        out
    }

    /// A crafted tar: written, rejected with the reason named.
    #[track_caller]
    pub(crate) fn reject_tar(&self, name: &str, bytes: &[u8], needles: &[&str]) -> Output {
        let p = self.path(name);
        fixtures::write(&p, bytes);
        let out = self.reject(&p, needles);
        // The same bytes on stdin are refused the same way.
        let o2 = self.verify_stdin(bytes.to_vec());
        o2.expect_code(1).stderr_has(needles);
        out
    }
}

#[test]
fn tar_round_trip_file_and_stdin() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    let before = snapshot(w.tmp.path());
    w.verify(&tar, &[])
        .ok()
        .stdout_has(&["verified:", "novantra sequence 7", "4 file(s)"]);
    assert_unchanged(w.tmp.path(), &before);
    w.verify_stdin(std::fs::read(&tar).unwrap())
        .ok()
        .stdout_has(&["verified: - (tar)"]);
}

#[test]
fn tar_gz_zip_and_dir_round_trip() {
    let w = World::new();
    for (name, fmt) in [("b.tar.gz", "tar.gz"), ("b.zip", "zip"), ("bdir", "dir")] {
        let p = w.pack(name, &["--format", fmt]);
        let out = w.verify(&p, &[]);
        out.ok().stdout_has(&[&format!("({fmt})"), "verified:"]);
    }
    let gz = std::fs::read(w.path("b.tar.gz")).unwrap();
    w.verify_stdin(gz).ok().stdout_has(&["(tar.gz)"]);
}

#[test]
fn packing_twice_gives_identical_bytes() {
    let w = World::new();
    let a = w.pack("a.tar", &[]);
    let b = w.pack("b.tar", &[]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let a = w.pack("a.tar.gz", &["--format", "tar.gz"]);
    let b = w.pack("b.tar.gz", &["--format", "tar.gz"]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // The tar is what a stock tar reader understands, in SPEC order.
    if ferry_tests::have("tar") {
        let out = ferry_tests::program("tar")
            .args(["-tvf"])
            .arg(w.path("a.tar"))
            .run();
        out.ok();
        let names: Vec<&str> = out
            .stdout
            .lines()
            .map(|l| l.split_whitespace().last().unwrap())
            .collect();
        assert_eq!(names[0], "ferry/");
        assert_eq!(names[1], "ferry/manifest.json");
        assert!(names[3].starts_with("ferry/signatures/"));
        assert!(out.stdout.contains("root/root") || out.stdout.contains("0/0"));
    }
}

#[test]
fn json_output_and_signed_receipt() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    let out = cmd("ferry-verify")
        .args(["--json", "bundle"])
        .arg(&tar)
        .arg("--trust")
        .arg(&w.policy)
        .args(["--now", NOW, "--receipt"])
        .arg(w.path("receipt.json"))
        .arg("--key")
        .arg(ferry_tests::demo_key("mirror"))
        .run();
    out.ok();
    let j = out.json();
    assert_eq!(j["type"], "bundle-verification");
    assert_eq!(j["result"], "verified");
    assert_eq!(j["signers"].as_array().unwrap().len(), 2);
    assert_eq!(j["files"].as_array().unwrap().len(), 4);
    let receipt = std::fs::read(w.path("receipt.json")).unwrap();
    let r: serde_json::Value = serde_json::from_slice(&receipt).unwrap();
    assert_eq!(r["manifest_sha256"], j["manifest_sha256"]);
    assert!(r["policy"]["sha256"].as_str().unwrap().len() == 64);
    // The receipt signature verifies with the mirror key.
    let sig = std::fs::read(w.path("receipt.json.minisig")).unwrap();
    let keys = ferry_manifests::minisig::KeySet::new(vec![
        ferry_manifests::minisig::PublicKey::from_file(&ferry_tests::demo_pub("mirror")).unwrap(),
    ])
    .unwrap();
    ferry_manifests::minisig::verify_document(&keys, &receipt, &sig, None, "receipt").unwrap();
}

#[test]
fn manifest_and_report_commands() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    for target in [tar.clone(), w.fx.root.join("ferry/manifest.json")] {
        cmd("ferry-verify")
            .args(["manifest"])
            .arg(&target)
            .arg("--trust")
            .arg(&w.policy)
            .args(["--now", NOW])
            .run()
            .ok()
            .stdout_has(&["verified: manifest of novantra sequence 7"]);
    }
    let out = cmd("ferry-verify")
        .args(["report"])
        .arg(&tar)
        .arg("--trust")
        .arg(&w.policy)
        .args(["--now", NOW, "--format", "json"])
        .run();
    out.ok();
    let j = out.json();
    assert_eq!(j["type"], "provenance-report");
    let a = &j["artifacts"][0];
    assert_eq!(a["path"], fixtures::ARTIFACT);
    assert_eq!(a["upstream"][0]["kind"], "minisign");
    assert!(a["checked_offline"][0].as_str().unwrap().contains("valid"));
    cmd("ferry-verify")
        .args(["report"])
        .arg(&tar)
        .arg("--trust")
        .arg(&w.policy)
        .args(["--now", NOW])
        .run()
        .ok()
        .stdout_has(&["transfer signers:", fixtures::ARTIFACT]);
    // Expired: the manifest command refuses too.
    cmd("ferry-verify")
        .args(["manifest"])
        .arg(&tar)
        .arg("--trust")
        .arg(&w.policy)
        .args(["--now", "2027-01-01T00:00:00Z"])
        .run()
        .expect_code(1)
        .stderr_has(&["expired"]);
}

fn volumes(w: &World, base: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = (0..1000)
        .map(|i| w.path(&format!("{base}.{i:03}")))
        .take_while(|p| p.exists())
        .collect();
    v.sort();
    v
}

#[test]
fn split_volumes_round_trip_by_first_volume_and_json() {
    let w = World::new();
    w.pack("v.tar", &["--split", "64K"]);
    let vols = volumes(&w, "v.tar");
    assert!(vols.len() >= 5, "{vols:?}");
    for v in &vols {
        assert!(std::fs::metadata(v).unwrap().len() <= 64 * 1024);
    }
    w.verify(&vols[0], &[]).ok().stdout_has(&["volumes (tar)"]);
    w.verify(&w.path("v.tar.volumes.json"), &[]).ok();
    // tar.gz volumes too.
    w.pack("v.tgz", &["--format", "tar.gz", "--split", "16K"]);
    w.verify(&w.path("v.tgz.volumes.json"), &[]).ok();
}

#[test]
fn damaged_volume_without_parity_is_named() {
    let w = World::new();
    w.pack("v.tar", &["--split", "64K"]);
    let vols = volumes(&w, "v.tar");
    let mut b = std::fs::read(&vols[2]).unwrap();
    b[1000] ^= 0x01;
    std::fs::write(&vols[2], &b).unwrap();
    w.reject(&vols[0], &["v.tar.002: sha256 mismatch", "--repair"]);
    w.reject_with(&vols[0], &["--repair"], &["v.tar.002", "no parity volumes"]);
    std::fs::remove_file(&vols[3]).unwrap();
    w.reject(&w.path("v.tar.volumes.json"), &["v.tar.002"]);
}

#[test]
fn parity_repairs_any_one_lost_or_damaged_volume() {
    let w = World::new();
    w.pack("v.tar", &["--split", "64K", "--parity", "1"]);
    let vols = volumes(&w, "v.tar");
    assert!(w.path("v.tar.p00").exists());
    let pristine: Vec<Vec<u8>> = vols.iter().map(|v| std::fs::read(v).unwrap()).collect();
    for (i, v) in vols.iter().enumerate() {
        for damage in ["delete", "flip"] {
            if damage == "delete" {
                std::fs::remove_file(v).unwrap();
            } else {
                let mut b = pristine[i].clone();
                let at = b.len() / 2;
                b[at] ^= 0x40;
                std::fs::write(v, &b).unwrap();
            }
            let name = v.file_name().unwrap().to_string_lossy().into_owned();
            // Without --repair: named.
            w.verify(&w.path("v.tar.volumes.json"), &[])
                .expect_code(1)
                .stderr_has(&[&name]);
            // With --repair into a directory: rebuilt and verified.
            let rd = w.path(&format!("rebuilt-{i}-{damage}"));
            w.verify(
                &w.path("v.tar.volumes.json"),
                &["--repair", "--repair-dir", rd.to_str().unwrap()],
            )
            .ok()
            .stdout_has(&["repaired:", &name, "verified:"]);
            assert_eq!(std::fs::read(rd.join(&name)).unwrap(), pristine[i]);
            // The damaged original was not touched by the repair.
            if damage == "flip" {
                assert_ne!(std::fs::read(v).unwrap(), pristine[i]);
            }
            std::fs::write(v, &pristine[i]).unwrap();
        }
    }
    // Beside the originals: NAME.NNN.repaired.
    std::fs::remove_file(&vols[1]).unwrap();
    w.verify(&vols[0], &["--repair"]).ok();
    assert!(w.path("v.tar.001.repaired").exists());
    // A damaged parity volume alone does not stop verification.
    std::fs::write(&vols[1], &pristine[1]).unwrap();
    std::fs::write(w.path("v.tar.p00"), b"junk").unwrap();
    w.verify(&vols[0], &[]).ok();
}

#[test]
fn pack_refuses_a_workspace_that_does_not_match_its_manifest() {
    let w = World::new();
    let mut b = std::fs::read(w.fx.root.join(fixtures::ARTIFACT)).unwrap();
    b[10] ^= 1;
    std::fs::write(w.fx.root.join(fixtures::ARTIFACT), &b).unwrap();
    for fmt in ["tar", "zip", "dir"] {
        let out = w.path(&format!("bad.{fmt}"));
        cmd("ferry")
            .args(["pack", "--workspace"])
            .arg(&w.fx.root)
            .arg("--out")
            .arg(&out)
            .args(["--format", fmt])
            .run()
            .expect_code(1)
            .stderr_has(&[fixtures::ARTIFACT, "sha256 mismatch"]);
        assert!(!out.exists());
        assert!(!w.path(&format!("bad.{fmt}.ferry-partial")).exists());
    }
    // Unsigned: refused.
    std::fs::remove_dir_all(w.fx.root.join("ferry/signatures")).unwrap();
    cmd("ferry")
        .args(["pack", "--workspace"])
        .arg(&w.fx.root)
        .arg("--out")
        .arg(w.path("u.tar"))
        .run()
        .expect_code(1)
        .stderr_has(&["ferry sign"]);
}

#[test]
fn verify_without_vendor_requirement_and_no_extra_files_written() {
    let w = World::new();
    let policy = fixtures::policy_with(w.tmp.path(), 2, "require = []");
    let tar = w.pack("b.tar", &[]);
    let before = snapshot(w.tmp.path());
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&tar)
        .arg("--trust")
        .arg(&policy)
        .args(["--now", NOW])
        .current_dir(w.tmp.path())
        .run()
        .ok();
    assert_unchanged(w.tmp.path(), &before);
}

/// What the mirror import will do: receive each file's bytes while they
/// stream, and be told per file when it passed; the bundle as a whole only
/// when the call returns `Ok`.
#[derive(Default)]
struct Recording {
    current: Vec<u8>,
    started: Vec<String>,
    done: Vec<(String, Vec<u8>)>,
}

impl ferry_bundle::Sink for Recording {
    fn start(
        &mut self,
        file: &ferry_manifests::manifest::FileEntry,
    ) -> ferry_mirror_layout::Result<()> {
        self.current.clear();
        self.started.push(file.path.to_string());
        Ok(())
    }
    fn data(&mut self, buf: &[u8]) -> ferry_mirror_layout::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn done(
        &mut self,
        file: &ferry_manifests::manifest::FileEntry,
    ) -> ferry_mirror_layout::Result<()> {
        self.done
            .push((file.path.to_string(), std::mem::take(&mut self.current)));
        Ok(())
    }
}

#[test]
fn library_sink_receives_verified_bytes_in_manifest_order() {
    use ferry_bundle::{Input, VerifyOptions, verify_bundle_with_sink};
    let w = World::new();
    let policy = ferry_manifests::policy::TrustPolicy::load(&w.policy).unwrap();
    let opts = VerifyOptions {
        now: NOW.parse().unwrap(),
        state: None,
        progress: Default::default(),
    };
    for (name, fmt) in [("b.tar", "tar"), ("b.zip", "zip"), ("d", "dir")] {
        let p = w.pack(name, &["--format", fmt]);
        let mut sink = Recording::default();
        let report = verify_bundle_with_sink(&Input::Path(p), &policy, &opts, &mut sink).unwrap();
        let names: Vec<&str> = sink.done.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                fixtures::SUMS,
                fixtures::NOTES,
                fixtures::ARTIFACT_SIG,
                fixtures::ARTIFACT
            ],
            "{fmt}"
        );
        for (n, bytes) in &sink.done {
            assert_eq!(
                &std::fs::read(w.fx.root.join(n)).unwrap(),
                bytes,
                "{fmt} {n}"
            );
        }
        assert_eq!(report.files.len(), 4);
    }
    // A damaged artifact: the sink saw it start but was never told it passed.
    let tar = w.path("b.tar");
    let mut b = std::fs::read(&tar).unwrap();
    let n = b.len();
    b[n - 1024 - 4096] ^= 1;
    let bad = w.path("bad.tar");
    std::fs::write(&bad, &b).unwrap();
    let mut sink = Recording::default();
    let err = verify_bundle_with_sink(&Input::Path(bad), &policy, &opts, &mut sink).unwrap_err();
    assert!(err.to_string().contains("sha256 mismatch"), "{err}");
    assert!(sink.started.contains(&fixtures::ARTIFACT.to_string()));
    assert!(!sink.done.iter().any(|(n, _)| n == fixtures::ARTIFACT));
}

#[test]
fn large_artifacts_on_two_threads_in_zip_and_dir() {
    let w = World::with_size(6 * 1024 * 1024 + 3);
    let z = w.pack("b.zip", &["--format", "zip"]);
    w.verify(&z, &[]).ok();
    let d = w.pack("d", &["--format", "dir"]);
    w.verify(&d, &[]).ok();
    let t = w.pack("b.tar", &[]);
    w.verify(&t, &[]).ok();
    // A flipped byte inside the large artifact, in each carrier.
    let mut b = std::fs::read(&z).unwrap();
    let n = b.len();
    b[n / 2] ^= 1;
    std::fs::write(w.path("bad.zip"), &b).unwrap();
    w.reject(&w.path("bad.zip"), &[fixtures::ARTIFACT]);
    let mut b = std::fs::read(&t).unwrap();
    b[n / 2] ^= 1;
    std::fs::write(w.path("bad.tar"), &b).unwrap();
    w.reject(&w.path("bad.tar"), &[fixtures::ARTIFACT, "sha256 mismatch"]);
    let a = d.join(fixtures::ARTIFACT);
    let mut b = std::fs::read(&a).unwrap();
    b[1000] ^= 1;
    std::fs::write(&a, &b).unwrap();
    w.reject(&d, &[fixtures::ARTIFACT, "sha256 mismatch"]);
}

#[test]
fn long_names_use_pax_and_stock_tar_reads_them() {
    let mut w = World::new();
    let long = format!("releases/3.2.1/no-training/{}.deb", "n".repeat(200));
    let bytes = ferry_tests::det_bytes(9, 5000);
    let sig = fixtures::secret("vendor").sign(&bytes[..], "file").unwrap();
    w.fx.put(&format!("{long}.minisig"), sig.as_bytes());
    w.fx.put(&long, &bytes);
    w.fx.manifest["releases"][0]["artifacts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "path": long, "profile": "no-training", "platform": "linux-arm64", "format": "deb",
            "upstream": [{"kind": "minisign", "path": format!("{long}.minisig"), "key_id": fixtures::key_id("vendor")}]}));
    w.fx.seal();
    let tar = w.pack("long.tar", &[]);
    w.verify(&tar, &[]).ok().stdout_has(&["6 file(s)"]);
    if ferry_tests::have("tar") {
        let out = ferry_tests::program("tar").arg("-tf").arg(&tar).run();
        out.ok().stdout_has(&[&long]);
    }
}

/// A real Sigstore bundle (../shared/vectors/sigstore, copied at run time)
/// over the artifact, required by the policy: checked offline while the
/// bundle is verified.
#[test]
fn vendor_sigstore_checked_offline_when_required() {
    let case = ferry_tests::shared_dir().join("vectors/sigstore/conf-happy-path-v0.3");
    if !case.exists() {
        eprintln!("skipped: {} is missing", case.display());
        return;
    }
    const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const ISSUER: &str = "https://token.actions.githubusercontent.com";
    let mut w = World::new();
    let art = std::fs::read(case.join("a.txt")).unwrap();
    let bundle = std::fs::read(case.join("bundle.sigstore.json")).unwrap();
    std::fs::copy(case.join("trusted_root.json"), w.path("trusted_root.json")).unwrap();
    let sig = fixtures::secret("vendor").sign(&art[..], "file").unwrap();
    let sst = format!("{}.sigstore.json", fixtures::ARTIFACT);
    w.fx.put(fixtures::ARTIFACT_SIG, sig.as_bytes());
    w.fx.put(&sst, &bundle);
    w.fx.put(fixtures::ARTIFACT, &art);
    // Signatures before their artifact, as `ferry sign` orders them.
    let files = w.fx.manifest["files"].as_array_mut().unwrap();
    let i = files
        .iter()
        .position(|f| f["path"] == fixtures::ARTIFACT)
        .unwrap();
    let a = files.remove(i);
    files.push(a);
    w.fx.manifest["releases"][0]["artifacts"][0]["upstream"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"kind": "sigstore", "path": sst, "identity": IDENTITY, "issuer": ISSUER, "log_index": null}));
    w.fx.seal();
    let tar = w.pack("s.tar", &[]);
    let policy = |san: &str| {
        fixtures::policy_with(
            w.tmp.path(),
            2,
            &format!(
                "require = [\"minisign\", \"sigstore\"]\nsigstore_trusted_root = \"trusted_root.json\"\n[[vendor.sigstore_identity]]\nsan = \"{san}\"\nissuer = \"{ISSUER}\"\n"
            ),
        )
    };
    let p = policy(IDENTITY);
    let out = cmd("ferry-verify")
        .args(["bundle"])
        .arg(&tar)
        .arg("--trust")
        .arg(&p)
        .args(["--now", NOW])
        .run();
    out.ok()
        .stdout_has(&["sigstore", "valid, identity", IDENTITY]);
    // Another signer expected: refused.
    let p = policy("https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main");
    let before = snapshot(w.tmp.path());
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&tar)
        .arg("--trust")
        .arg(&p)
        .args(["--now", NOW])
        .run()
        .expect_code(1)
        .stderr_has(&["sigstore"]);
    assert_unchanged(w.tmp.path(), &before);
    // Required but absent: refused.
    let plain = World::new();
    std::fs::copy(
        case.join("trusted_root.json"),
        plain.path("trusted_root.json"),
    )
    .unwrap();
    let p = fixtures::policy_with(
        plain.tmp.path(),
        2,
        &format!(
            "require = [\"minisign\", \"sigstore\"]\nsigstore_trusted_root = \"trusted_root.json\"\n[[vendor.sigstore_identity]]\nsan = \"{IDENTITY}\"\nissuer = \"{ISSUER}\"\n"
        ),
    );
    let tar = plain.pack("p.tar", &[]);
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&tar)
        .arg("--trust")
        .arg(&p)
        .args(["--now", NOW])
        .run()
        .expect_code(1)
        .stderr_has(&[fixtures::ARTIFACT, "vendor.require has \"sigstore\""]);
}
