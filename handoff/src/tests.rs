//! The hand-off through the library alone (what `ferry demo` calls): a
//! small signed mirror in a temp folder, a stub installer, a fake probe.

use std::path::Path;
use std::time::Duration;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::Upstream;
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use semver::{Version, VersionReq};

use super::install::{self, Actions, HealthProbe};
use super::preflight::Inputs;
use super::*;
use ferry_mirror_layout::mirror::Mirror;
use ferry_mirror_layout::mirror::index::MirrorRelease;

fn key(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../keys/demo/{name}"))
}

fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// 2.0.0 (required), 2.4.0, 3.2.1 (fixes "<2.4.0"), no-training only.
fn mirror(root: &Path) {
    let mk = SecretKey::from_file(&key("mirror.key"), None).unwrap();
    let vk = SecretKey::from_file(&key("vendor.key"), None).unwrap();
    let now = Timestamp::now();
    let m = Mirror::init(
        root,
        n("novantra"),
        vec![n("stable")],
        vec![n("no-training")],
        &mk,
        now,
    )
    .unwrap();
    let (mut index, _) = m.read_index(&m.recorded_keys().unwrap()).unwrap();
    for (v, required, from) in [
        ("2.0.0", true, None),
        ("2.4.0", false, Some(">=2.0.0")),
        ("3.2.1", false, Some(">=2.0.0")),
    ] {
        let rel = format!("releases/{v}/no-training/app_{v}.deb");
        let bytes = format!("novantra {v}").repeat(1000).into_bytes();
        let sig = vk.sign(&bytes[..], "vendor").unwrap();
        std::fs::create_dir_all(root.join(format!("releases/{v}/no-training"))).unwrap();
        std::fs::write(root.join(&rel), &bytes).unwrap();
        std::fs::write(root.join(format!("{rel}.minisig")), sig).unwrap();
        let advisories = if v == "3.2.1" {
            serde_json::from_value(serde_json::json!([{"id": "NOV-1", "severity": "high", "affected": "<2.4.0", "fixed_in": "2.4.0", "summary": "s"}])).unwrap()
        } else {
            Vec::new()
        };
        index.releases.push(MirrorRelease {
            version: Version::parse(v).unwrap(),
            channels: vec![n("stable")],
            published: now,
            supported_from: from.map(|f| VersionReq::parse(f).unwrap()),
            required,
            yanked: None,
            advisories,
            notes: BundlePath::new(&format!("releases/{v}/NOTES.md")).unwrap(),
            artifacts: vec![ferry_mirror_layout::mirror::index::MirrorArtifact {
                path: BundlePath::new(&rel).unwrap(),
                profile: n("no-training"),
                platform: n("linux-amd64"),
                format: n("deb"),
                size: bytes.len() as u64,
                sha256: Sha256Digest::of(&bytes),
                upstream: vec![Upstream::Minisign {
                    path: BundlePath::new(&format!("{rel}.minisig")).unwrap(),
                    key_id: vk.id().to_string(),
                }],
                image: None,
            }],
        });
    }
    index.sequence += 1;
    m.publish(&index, &mk).unwrap();
}

fn policy(dir: &Path) -> TrustPolicy {
    let text = format!(
        "product = \"novantra\"\n[vendor]\nminisign_keys = [\"{}\"]\n[mirror]\nkeys = [\"{}\"]\nprofiles = [\"no-training\"]\n",
        key("vendor.pub").display(),
        key("mirror.pub").display()
    );
    let p = dir.join("ferry-trust.toml");
    std::fs::write(&p, text).unwrap();
    TrustPolicy::load(&p).unwrap()
}

struct Probe(bool);
impl HealthProbe for Probe {
    fn wait_healthy(&self, _: &str, _: Duration) -> std::result::Result<String, String> {
        if self.0 {
            Ok("HTTP 200".into())
        } else {
            Err("HTTP 503".into())
        }
    }
}

/// The mirror of [`mirror`] in a temp folder, read and verified, followed
/// on `stable` with the `no-training` profile.
struct Site {
    tmp: tempfile::TempDir,
    policy: TrustPolicy,
    source: DirSource,
    mirror: VerifiedMirror,
    sel: Selector,
    now: Timestamp,
}

fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    mirror(&root);
    let policy = policy(tmp.path());
    let source = DirSource::new(&root);
    let now = Timestamp::now();
    let mirror = load(&source, &policy, now).unwrap();
    let sel = Selector::new("stable", "no-training", None).unwrap();
    Site {
        tmp,
        policy,
        source,
        mirror,
        sel,
        now,
    }
}

impl Site {
    fn plan(&self, current: &str, target: &str) -> install::Planned {
        let inputs = Inputs {
            current: v(current),
            target: v(target),
            backup: None,
            license: None,
            license_min_days: 30,
            data_dir: None,
            now: self.now,
        };
        install::prepare(&self.mirror, &self.policy, &self.sel, &inputs).unwrap()
    }

    fn install(
        &self,
        healthy: bool,
        planned: &install::Planned,
        actions: &Actions,
    ) -> ferry_mirror_layout::Result<install::Outcome> {
        let ctx = install::InstallContext {
            source: &self.source,
            probe: &Probe(healthy),
            mirror: &self.mirror,
            policy: &self.policy,
            sel: &self.sel,
        };
        install::install(&ctx, planned, actions, self.now, &|_| {})
    }
}

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

#[test]
fn check_plans_the_path_and_refuses_unpinned_profiles() {
    let site = site();
    let (m, policy, sel) = (&site.mirror, &site.policy, &site.sel);
    let r = check(m, policy, sel, &v("1.5.0")).unwrap();
    assert_eq!(
        (r.path.clone(), r.status),
        (vec![v("2.0.0"), v("3.2.1")], Status::Security)
    );
    assert_eq!(
        check(m, policy, sel, &v("2.4.0")).unwrap().status,
        Status::Update
    );
    assert_eq!(
        check(m, policy, sel, &v("3.2.1"))
            .unwrap()
            .status
            .exit_code(),
        0
    );
    // A pinned profile is refused.
    let other = Selector::new("stable", "default", None).unwrap();
    assert!(check(m, policy, sel, &v("2.4.0")).is_ok());
    assert!(
        check(m, policy, &other, &v("2.4.0"))
            .unwrap_err()
            .to_string()
            .contains("pinned")
    );
}

#[test]
fn install_refuses_a_failed_preflight_then_rolls_back_then_installs() {
    let site = site();
    let to = site.tmp.path().join("to");
    std::fs::create_dir(&to).unwrap();
    let ran = site.tmp.path().join("ran");
    let actions = Actions {
        to: to.clone(),
        exec: Some(format!("cp \"$FERRY_ARTIFACT\" '{}'", ran.display())),
        health_urls: vec!["http://127.0.0.1:1/healthz".into()],
        health_timeout: Duration::from_secs(1),
        rollback: Some("exit 0".into()),
        ..Actions::default()
    };
    // Skipping the required 2.0.0: refused, nothing runs.
    let planned = site.plan("1.5.0", "3.2.1");
    let e = site.install(true, &planned, &actions).unwrap_err();
    assert!(e.to_string().contains("required-releases"), "{e}");
    assert!(!ran.exists() && std::fs::read_dir(&to).unwrap().count() == 0);
    // A good hop whose health check fails: handed over, rolled back.
    let planned = site.plan("2.4.0", "3.2.1");
    let out = site.install(false, &planned, &actions).unwrap();
    assert!(out.failed());
    assert_eq!(out.record.status, "rolled-back");
    assert_eq!(
        std::fs::read(&ran).unwrap(),
        std::fs::read(&out.delivered.file).unwrap()
    );
    let ok = site.install(true, &planned, &actions).unwrap();
    assert_eq!(
        (ok.record.status.as_str(), ok.failed()),
        ("installed", false)
    );
}
