//! A signed internal mirror built with the library (`Mirror::init`,
//! `append_audit`, `publish`), for the hand-off tests (issue 7) until
//! `ferry-mirror import` lands: deterministic artifacts with vendor
//! `.minisig` files (`keys/demo/vendor.key`) under
//! `releases/<version>/<profile>/`, an index listing releases and files, an
//! audit entry, all signed with `keys/demo/mirror.key`.

use std::path::{Path, PathBuf};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::{FileEntry, Upstream};
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::release::{Advisory, Severity, Yank};
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::audit::{self, Action};
use ferry_mirror_layout::mirror::Mirror;
use ferry_mirror_layout::mirror::index::{MirrorArtifact, MirrorRelease};
use semver::{Version, VersionReq};

use crate::det_bytes;
use crate::fixtures::{PRODUCT, secret};

/// Size of each sample artifact.
pub const ART_SIZE: usize = 200_000;

/// One release of a fixture mirror.
#[derive(Debug, Clone)]
pub struct Rel {
    /// Version.
    pub version: &'static str,
    /// `supported_from`, or the default (two majors).
    pub supported_from: Option<&'static str>,
    /// Never skipped.
    pub required: bool,
    /// Yank reason.
    pub yanked: Option<&'static str>,
    /// Profiles with an artifact (platform linux-amd64).
    pub profiles: &'static [&'static str],
    /// `(id, affected)` advisories published with it (fixed in this version).
    pub advisories: &'static [(&'static str, &'static str)],
}

impl Rel {
    /// A plain stable release with a no-training and a default artifact.
    pub const fn plain(version: &'static str) -> Self {
        Rel {
            version,
            supported_from: None,
            required: false,
            yanked: None,
            profiles: &["no-training", "default"],
            advisories: &[],
        }
    }
}

/// The path of a release's artifact on the mirror.
pub fn artifact_path(version: &str, profile: &str) -> String {
    format!("releases/{version}/{profile}/novantra_{version}_{profile}_amd64.deb")
}

/// The bytes of a release's artifact.
pub fn artifact_bytes(version: &str, profile: &str) -> Vec<u8> {
    let seed = version
        .bytes()
        .chain(profile.bytes())
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    det_bytes(seed, ART_SIZE)
}

fn name(s: &str) -> Name {
    Name::new(s).expect("name")
}

fn bpath(s: &str) -> BundlePath {
    BundlePath::new(s).expect("path")
}

/// Builds a mirror at `root` (stable channel; no-training and default
/// profiles) holding `releases`.
pub fn build(root: &Path, releases: &[Rel]) -> PathBuf {
    let mirror_key = secret("mirror");
    let vendor = secret("vendor");
    let now = Timestamp::now();
    let mirror = Mirror::init(
        root,
        name(PRODUCT),
        vec![name("stable")],
        vec![name("no-training"), name("default")],
        &mirror_key,
        now,
    )
    .expect("init");
    let keys = mirror.recorded_keys().expect("keys");
    let (mut index, _) = mirror.read_index(&keys).expect("index");
    let mut files = Vec::new();
    let mut out = Vec::new();
    for r in releases {
        let mut artifacts = Vec::new();
        for profile in r.profiles {
            let rel = artifact_path(r.version, profile);
            let bytes = artifact_bytes(r.version, profile);
            let sig = vendor
                .sign(&bytes[..], &format!("novantra {} {profile}", r.version))
                .expect("sign");
            let sig_rel = format!("{rel}.minisig");
            for (p, b) in [(&rel, &bytes[..]), (&sig_rel, sig.as_bytes())] {
                let full = root.join(p);
                std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
                std::fs::write(&full, b).expect("write");
                files.push(FileEntry {
                    path: bpath(p),
                    size: b.len() as u64,
                    sha256: Sha256Digest::of(b),
                });
            }
            artifacts.push(MirrorArtifact {
                path: bpath(&rel),
                profile: name(profile),
                platform: name("linux-amd64"),
                format: name("deb"),
                size: bytes.len() as u64,
                sha256: Sha256Digest::of(&bytes),
                upstream: vec![Upstream::Minisign {
                    path: bpath(&sig_rel),
                    key_id: vendor.id().to_string(),
                }],
                image: None,
            });
        }
        let notes = format!("releases/{}/NOTES.md", r.version);
        let text = format!("# novantra {}\n", r.version);
        std::fs::write(root.join(&notes), &text).expect("notes");
        files.push(FileEntry {
            path: bpath(&notes),
            size: text.len() as u64,
            sha256: Sha256Digest::of(text.as_bytes()),
        });
        out.push(MirrorRelease {
            version: Version::parse(r.version).expect("version"),
            channels: vec![name("stable")],
            published: "2026-11-01T00:00:00Z".parse().expect("time"),
            supported_from: r
                .supported_from
                .map(|s| VersionReq::parse(s).expect("range")),
            required: r.required,
            yanked: r.yanked.map(|y| Yank { reason: y.into() }),
            advisories: r
                .advisories
                .iter()
                .map(|(id, affected)| Advisory {
                    id: name(id),
                    severity: Severity::High,
                    affected: VersionReq::parse(affected).expect("range"),
                    fixed_in: Some(Version::parse(r.version).expect("version")),
                    summary: format!("{id}: fixed in {}", r.version),
                })
                .collect(),
            notes: bpath(&notes),
            artifacts,
        });
    }
    let entry = audit::next_entry(
        Some(index.audit_head),
        now,
        Action::Import,
        "ferry-tests",
        serde_json::json!({"fixture": true, "releases": releases.len()}),
    );
    index.audit_head = mirror.append_audit(&entry).expect("audit");
    index.sequence += 1;
    index.manifest_sequence = 1;
    index.generated = now;
    index.releases = out;
    index.files = files;
    mirror.publish(&index, &mirror_key).expect("publish");
    root.to_path_buf()
}

/// Replaces the artifact of `version`/`profile` on a fixture mirror with
/// `bytes` (re-signed by the vendor key), optionally with a Sigstore bundle
/// listed beside it, and publishes the mirror again (new sequence, audit
/// entry).
pub fn replace_artifact(
    root: &Path,
    version: &str,
    profile: &str,
    bytes: &[u8],
    sigstore: Option<&[u8]>,
) {
    let mirror_key = secret("mirror");
    let vendor = secret("vendor");
    let mirror = Mirror::open(root).expect("open");
    let keys = mirror.recorded_keys().expect("keys");
    let (mut index, _) = mirror.read_index(&keys).expect("index");
    let rel = artifact_path(version, profile);
    let sig_rel = format!("{rel}.minisig");
    let bundle_rel = format!("{rel}.sigstore.json");
    let sig = vendor.sign(bytes, "replaced").expect("sign");
    let mut written: Vec<(String, Vec<u8>)> = vec![
        (rel.clone(), bytes.to_vec()),
        (sig_rel.clone(), sig.into_bytes()),
    ];
    if let Some(b) = sigstore {
        written.push((bundle_rel.clone(), b.to_vec()));
    }
    index
        .files
        .retain(|f| !written.iter().any(|(p, _)| p == f.path.as_str()));
    for (p, b) in &written {
        std::fs::write(root.join(p), b).expect("write");
        index.files.push(FileEntry {
            path: bpath(p),
            size: b.len() as u64,
            sha256: Sha256Digest::of(b),
        });
    }
    let v = Version::parse(version).expect("version");
    let release = index
        .releases
        .iter_mut()
        .find(|r| r.version == v)
        .expect("release");
    let a = release
        .artifacts
        .iter_mut()
        .find(|a| a.profile.as_str() == profile)
        .expect("artifact");
    a.size = bytes.len() as u64;
    a.sha256 = Sha256Digest::of(bytes);
    if sigstore.is_some() {
        a.upstream.push(Upstream::Sigstore {
            path: bpath(&bundle_rel),
            identity: None,
            issuer: None,
            log_index: None,
        });
    }
    let now = Timestamp::now();
    let entry = audit::next_entry(
        Some(index.audit_head),
        now,
        Action::Import,
        "ferry-tests",
        serde_json::json!({"replaced": rel}),
    );
    index.audit_head = mirror.append_audit(&entry).expect("audit");
    index.sequence += 1;
    index.generated = now;
    mirror.publish(&index, &mirror_key).expect("publish");
}

/// Rewrites `published.json` from the four files beside it, as someone who
/// can write the mirror's files would: tests that tamper with the index or
/// the feed use it so that ferry's readers (which read the envelope) see
/// the tampering.
pub fn rewrap_published(mirror: &Path) {
    let text = |rel: &str| std::fs::read_to_string(mirror.join(rel)).expect("read");
    let (index, index_sig) = (text("index.json"), text("index.json.minisig"));
    let (hints, hints_sig) = (text("feed/hints.json"), text("feed/hints.json.minisig"));
    let env = ferry_mirror_layout::mirror::published::PublishedRef::new(
        &index, &index_sig, &hints, &hints_sig,
    );
    std::fs::write(
        mirror.join("published.json"),
        ferry_manifests::json::to_document_bytes(&env),
    )
    .expect("write");
}
