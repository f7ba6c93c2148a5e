//! Issue 6: `ferry-mirror` import, its refusals, serving, pruning,
//! `pack --since`, and `ferry-verify audit-log`.

use std::path::{Path, PathBuf};

use ferry_tests::fixtures::{self, Fixture, NOW};
use ferry_tests::{Output, assert_unchanged, cmd, demo_key, det_bytes, snapshot};
use serde_json::json;

/// A test's world: a temp dir with the policy and an initialised mirror.
pub(crate) struct World {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) policy: PathBuf,
    pub(crate) mirror: PathBuf,
}

impl World {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mirror = tmp.path().join("mirror");
        Self::at(tmp, mirror)
    }

    /// A world whose mirror lives at `mirror` (e.g. on a small filesystem).
    pub(crate) fn at(tmp: tempfile::TempDir, mirror: PathBuf) -> Self {
        let policy = fixtures::policy(tmp.path(), 2);
        cmd("ferry-mirror")
            .args(["init"])
            .arg(&mirror)
            .args([
                "--product",
                "novantra",
                "--channel",
                "stable",
                "--profile",
                "no-training",
                "--key",
            ])
            .arg(demo_key("mirror"))
            .run()
            .ok();
        World {
            tmp,
            policy,
            mirror,
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// A signed workspace `name` with manifest `sequence` and `extra`
    /// additional no-training artifacts (each with its vendor signature).
    pub(crate) fn workspace(&self, name: &str, sequence: u64, extra: usize) -> Fixture {
        workspace(&self.path(name), sequence, extra)
    }

    /// Packs a workspace into `<name>.tar`.
    pub(crate) fn pack(&self, fx: &Fixture, name: &str) -> PathBuf {
        let p = self.path(&format!("{name}.tar"));
        cmd("ferry")
            .args(["pack", "--workspace"])
            .arg(&fx.root)
            .arg("--out")
            .arg(&p)
            .run()
            .ok();
        p
    }

    pub(crate) fn import(&self, bundle: &Path, extra: &[&str]) -> Output {
        import_cmd(&self.mirror, &self.policy, bundle)
            .args(extra)
            .run()
    }

    pub(crate) fn fsck(&self) -> Output {
        fsck_of(&self.mirror, &self.policy)
    }

    pub(crate) fn audit_log(&self) -> Output {
        audit_log_of(&self.mirror, &self.policy)
    }

    pub(crate) fn index(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.mirror.join("index.json")).expect("index"))
            .expect("index json")
    }
}

/// `ferry-mirror fsck MIRROR --trust POLICY`.
pub(crate) fn fsck_of(mirror: &Path, policy: &Path) -> Output {
    cmd("ferry-mirror")
        .args(["fsck"])
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .run()
}

/// `ferry-verify audit-log` with the signed index as anchor.
pub(crate) fn audit_log_of(mirror: &Path, policy: &Path) -> Output {
    cmd("ferry-verify")
        .args(["audit-log"])
        .arg(mirror.join("audit/log.jsonl"))
        .arg("--index")
        .arg(mirror.join("index.json"))
        .arg("--trust")
        .arg(policy)
        .run()
}

/// `ferry-mirror import BUNDLE --mirror M --trust P --key mirror.key --now NOW`.
pub(crate) fn import_cmd(mirror: &Path, policy: &Path, bundle: &Path) -> ferry_tests::Run {
    cmd("ferry-mirror")
        .args(["import"])
        .arg(bundle)
        .arg("--mirror")
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .args(["--now", NOW])
}

/// A copy of `base` at `root` (same vendor files, byte for byte) with
/// manifest `sequence`, re-signed.
pub(crate) fn derive(base: &Fixture, root: &Path, sequence: u64) -> Fixture {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&base.root)
        .arg(root)
        .status()
        .expect("cp");
    assert!(st.success());
    let mut fx = Fixture {
        root: root.to_path_buf(),
        manifest: base.manifest.clone(),
        signers: base.signers.clone(),
    };
    fx.manifest["sequence"] = json!(sequence);
    fx.seal();
    fx
}

/// See [`World::workspace`].
pub(crate) fn workspace(root: &Path, sequence: u64, extra: usize) -> Fixture {
    let mut fx = Fixture::new(root, 40 * 1024 + 3);
    fx.manifest["sequence"] = json!(sequence);
    for i in 0..extra {
        let name = format!("novantra-addon-{i}_3.2.1_amd64.deb");
        let path = format!("releases/3.2.1/no-training/{name}");
        let data = det_bytes(1000 + i as u64, 1024 + i * 7);
        let sig = fixtures::secret("vendor")
            .sign(
                &data[..],
                &format!("timestamp:1790000000\tfile:{name}\tprehashed"),
            )
            .expect("vendor sign");
        fx.put(&format!("{path}.minisig"), sig.as_bytes());
        fx.put(&path, &data);
        fx.manifest["releases"][0]["artifacts"]
            .as_array_mut()
            .expect("artifacts")
            .push(json!({
                "path": path,
                "profile": "no-training",
                "platform": "linux-amd64",
                "format": "deb",
                "upstream": [{"kind": "minisign", "path": format!("{path}.minisig"), "key_id": fixtures::key_id("vendor")}]
            }));
    }
    fx.seal();
    fx
}

#[test]
fn import_then_fsck_and_audit_log_pass() {
    let w = World::new();
    let fx = w.workspace("ws", 7, 2);
    let bundle = w.pack(&fx, "b7");
    w.import(&bundle, &[])
        .ok()
        .stdout_has(&["imported manifest", "3.2.1", "10 file(s) added"]);
    w.fsck().ok().stdout_has(&["0 problem(s)"]);
    w.audit_log()
        .ok()
        .stdout_has(&["2 entries chained", "matches the signed index"]);
    let idx = w.index();
    assert_eq!(idx["sequence"], 2);
    assert_eq!(idx["manifest_sequence"], 7);
    assert_eq!(idx["releases"][0]["version"], "3.2.1");
    assert_eq!(idx["releases"][0]["artifacts"].as_array().unwrap().len(), 3);
    let log = std::fs::read_to_string(w.mirror.join("audit/log.jsonl")).unwrap();
    assert!(
        log.lines()
            .nth(1)
            .unwrap()
            .contains("\"action\":\"import\""),
        "{log}"
    );
    // The manifest and its signatures are kept for audit.
    let msha = idx["manifests"][0]["sha256"].as_str().unwrap();
    assert!(
        w.mirror
            .join(format!("manifests/{msha}/manifest.json"))
            .is_file()
    );
    assert_eq!(
        std::fs::read_dir(w.mirror.join(format!("manifests/{msha}/signatures")))
            .unwrap()
            .count(),
        2
    );
    assert!(w.mirror.join(fixtures::ARTIFACT).is_file());
    // Nothing left in staging or the commit folder.
    for d in [".ferry/staging", ".ferry/commit"] {
        let n = std::fs::read_dir(w.mirror.join(d)).map_or(0, Iterator::count);
        assert_eq!(n, 0, "{d} not empty");
    }
    // A broken chain is refused.
    let log_path = w.mirror.join("audit/log.jsonl");
    std::fs::write(&log_path, log.replace("\"import\"", "\"prune\"")).unwrap();
    w.audit_log().expect_code(1);
}

/// Moves the fixture's artifact to the `default` profile.
fn to_default_profile(fx: &mut Fixture) {
    let data = std::fs::read(fx.root.join(fixtures::ARTIFACT)).unwrap();
    let sig = std::fs::read(fx.root.join(fixtures::ARTIFACT_SIG)).unwrap();
    std::fs::remove_dir_all(fx.root.join("releases/3.2.1/no-training")).unwrap();
    let files: Vec<serde_json::Value> = fx.manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["path"].as_str().unwrap().contains("/no-training/"))
        .cloned()
        .collect();
    fx.manifest["files"] = json!(files);
    let art = fixtures::ARTIFACT.replace("no-training", "default");
    let art_sig = fixtures::ARTIFACT_SIG.replace("no-training", "default");
    fx.put(&art_sig, &sig);
    fx.put(&art, &data);
    let a = &mut fx.manifest["releases"][0]["artifacts"][0];
    a["path"] = json!(art);
    a["profile"] = json!("default");
    a["upstream"][0]["path"] = json!(art_sig);
    fx.manifest["selection"]["profiles"] = json!(["default"]);
    fx.seal();
}

#[test]
fn reimport_is_a_noop_and_refusals_leave_the_mirror_unchanged() {
    let w = World::new();
    let ws7 = w.workspace("ws7", 7, 1);
    let b7 = w.pack(&ws7, "b7");
    w.import(&b7, &[]).ok();
    // The same manifest again (same bundle), then a newer manifest that
    // carries the same files (only its manifest is added).
    let before = snapshot(&w.mirror);
    w.import(&b7, &[])
        .ok()
        .stdout_has(&["is already on the mirror; nothing to do"]);
    assert_unchanged(&w.mirror, &before);
    let b8 = w.pack(&derive(&ws7, &w.path("ws8"), 8), "b8");
    w.import(&b8, &[])
        .ok()
        .stdout_has(&["3 file(s) added", "5 already present"]);
    w.fsck().ok();
    let before = snapshot(&w.mirror);

    // An older sequence: rollback.
    let b6 = w.pack(&derive(&ws7, &w.path("ws6"), 6), "b6");
    w.import(&b6, &[])
        .expect_code(1)
        .stderr_has(&["sequence 6 is lower than 8", "rollback refused"]);
    assert_unchanged(&w.mirror, &before);

    // The same sequence with other bytes: equivocation (ATTACKS A6).
    let mut fx = derive(&ws7, &w.path("ws8b"), 8);
    fx.manifest["created"] = json!("2026-11-20T11:00:00Z");
    fx.seal();
    let b8b = w.pack(&fx, "b8b");
    w.import(&b8b, &[])
        .expect_code(1)
        .stderr_has(&["equivocation refused"]);
    assert_unchanged(&w.mirror, &before);

    // The same path with other bytes.
    let mut fx = derive(&ws7, &w.path("ws9"), 9);
    fx.put(fixtures::ARTIFACT, b"other bytes");
    fx.seal();
    let b9 = w.pack(&fx, "b9");
    w.import(&b9, &[]).expect_code(1).stderr_has(&[
        fixtures::ARTIFACT,
        "is already on the mirror with other bytes",
        "a version's files never change",
    ]);
    assert_unchanged(&w.mirror, &before);

    // A default-profile bundle into a no-training mirror: refused by the
    // policy's pins, and by the mirror's own profiles when the policy has none.
    let mut fx = w.workspace("ws10", 10, 0);
    to_default_profile(&mut fx);
    let b10 = w.pack(&fx, "b10");
    w.import(&b10, &[])
        .expect_code(1)
        .stderr_has(&["profile \"default\"", "pinned profiles"]);
    assert_unchanged(&w.mirror, &before);
    let text = std::fs::read_to_string(&w.policy)
        .unwrap()
        .replace("profiles = [\"no-training\"]\n", "");
    let loose = w.path("loose-trust.toml");
    std::fs::write(&loose, text).unwrap();
    import_cmd(&w.mirror, &loose, &b10)
        .run()
        .expect_code(1)
        .stderr_has(&[
            "profile \"default\"",
            "this mirror's profiles [no-training]",
        ]);
    assert_unchanged(&w.mirror, &before);

    // A wrong signing key is refused before anything is read.
    cmd("ferry-mirror")
        .args(["import"])
        .arg(&b8)
        .arg("--mirror")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--key")
        .arg(demo_key("org1"))
        .run()
        .expect_code(1)
        .stderr_has(&["pass the mirror's own --key"]);
    assert_unchanged(&w.mirror, &before);
    w.fsck().ok();
    w.audit_log().ok().stdout_has(&["3 entries chained"]);
}

#[test]
fn yanks_in_a_newer_manifest_mark_releases_yanked() {
    let w = World::new();
    let ws7 = w.workspace("ws7", 7, 0);
    w.import(&w.pack(&ws7, "b7"), &[]).ok();
    let mut fx = derive(&ws7, &w.path("ws8"), 8);
    fx.manifest["yanks"] = json!([{"version": "3.2.1", "reason": "data loss on upgrade"}]);
    fx.seal();
    w.import(&w.pack(&fx, "b8"), &[])
        .ok()
        .stdout_has(&["marked yanked: 3.2.1"]);
    let idx = w.index();
    assert_eq!(
        idx["releases"][0]["yanked"]["reason"],
        "data loss on upgrade"
    );
    let feed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.mirror.join("feed/hints.json")).unwrap()).unwrap();
    assert_eq!(
        feed["channels"],
        json!({}),
        "a yanked release is nobody's latest"
    );
    w.fsck().ok();
}
