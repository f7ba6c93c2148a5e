//! The signed mirror index, `ferry.mirror-index/v1` (SPEC §3.7), and the
//! hint feed derived from it (SPEC §3.8).
//!
//! `index.json` lists every release, artifact and file of the mirror with
//! sizes and SHA-256, the highest transfer-manifest sequence imported
//! (rollback protection), the imported manifests, and the audit-log head,
//! so the mirror key's signature anchors everything the mirror holds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::hints::{ChannelProfile, HintArtifact, HintRelease, Hints};
use ferry_manifests::manifest::{FileEntry, Manifest, Upstream};
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::release::{Advisory, Yank};
use ferry_manifests::time::Timestamp;

use crate::audit::Head;
use crate::error::Result;

/// The schema string of the mirror index.
pub const SCHEMA: &str = "ferry.mirror-index/v1";

/// The mirror index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorIndex {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// Channels this mirror accepts (fixed at init).
    pub channels: Vec<Name>,
    /// Profiles this mirror accepts (fixed at init).
    pub profiles: Vec<Name>,
    /// Publish counter of this mirror: +1 at every change.
    pub sequence: u64,
    /// Highest transfer-manifest sequence imported (0: none yet).
    pub manifest_sequence: u64,
    /// When this index was written.
    pub generated: Timestamp,
    /// Only when the admin asked for one (`--valid-for`, SPEC §5 rule 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// Head of `audit/log.jsonl`.
    pub audit_head: Head,
    /// Every release.
    pub releases: Vec<MirrorRelease>,
    /// Every imported manifest, kept under `manifests/<sha256>/`.
    #[serde(default)]
    pub manifests: Vec<ImportedManifest>,
    /// Every file under `releases/` and `manifests/`.
    pub files: Vec<FileEntry>,
    /// Every file of the trust chain the mirror serves under `trust/`
    /// (SPEC §3.11; self-authenticating, listed so fsck and recovery
    /// cover them too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<FileEntry>,
}

/// A release on the mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorRelease {
    /// Version.
    pub version: Version,
    /// Channels.
    pub channels: Vec<Name>,
    /// Publication time.
    pub published: Timestamp,
    /// One-hop range.
    #[serde(default)]
    pub supported_from: Option<VersionReq>,
    /// Never skipped.
    #[serde(default)]
    pub required: bool,
    /// Set when pulled.
    #[serde(default)]
    pub yanked: Option<Yank>,
    /// Advisories.
    #[serde(default)]
    pub advisories: Vec<Advisory>,
    /// Notes path.
    pub notes: BundlePath,
    /// Artifacts.
    pub artifacts: Vec<MirrorArtifact>,
}

/// An artifact on the mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorArtifact {
    /// Path.
    pub path: BundlePath,
    /// Profile.
    pub profile: Name,
    /// Platform.
    pub platform: Name,
    /// Format.
    pub format: Name,
    /// Size.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
    /// Upstream signatures checked on import.
    #[serde(default)]
    pub upstream: Vec<Upstream>,
    /// A container image (`format` oci, SPEC §3.12): `path` is its layout
    /// folder, `size` the sum of its blobs, `sha256` its root digest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<super::images::MirrorImage>,
}

/// A transfer manifest the mirror imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedManifest {
    /// SHA-256 of its bytes (its folder under `manifests/`).
    pub sha256: Sha256Digest,
    /// Its sequence.
    pub sequence: u64,
    /// When it was imported.
    pub imported: Timestamp,
    /// The org keys that signed it and counted.
    pub signers: Vec<String>,
}

/// Trusted comment of the mirror index signature.
#[must_use]
pub fn index_comment(product: &Name, sequence: u64, sha256: &Sha256Digest) -> String {
    format!("ferry-mirror-index product={product} sequence={sequence} sha256={sha256}")
}

/// Trusted comment of the hint feed signature.
#[must_use]
pub fn hints_comment(product: &Name, sequence: u64, sha256: &Sha256Digest) -> String {
    format!("ferry-hints product={product} sequence={sequence} sha256={sha256}")
}

impl MirrorIndex {
    /// Parses index bytes (signature already checked by the caller).
    ///
    /// # Errors
    /// [`crate::Error::Manifest`] with the field named.
    pub fn parse(bytes: &[u8], doc: &str) -> Result<Self> {
        Ok(ferry_manifests::json::parse_document(bytes, doc, SCHEMA)?)
    }

    /// The bytes ferry writes and signs.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        ferry_manifests::json::to_document_bytes(self)
    }

    /// A release by version.
    #[must_use]
    pub fn release(&self, v: &Version) -> Option<&MirrorRelease> {
        self.releases.iter().find(|r| &r.version == v)
    }

    /// The file entry of a path.
    #[must_use]
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path.as_str() == path)
    }

    /// The listed file (release, manifest or trust chain) at `path`.
    #[must_use]
    pub fn any_file(&self, path: &str) -> Option<&FileEntry> {
        self.file(path)
            .or_else(|| self.trust.iter().find(|f| f.path.as_str() == path))
    }

    /// The hint feed for this index (SPEC §3.8).
    #[must_use]
    pub fn hints(&self) -> Hints {
        let mut channels: BTreeMap<Name, BTreeMap<Name, ChannelProfile>> = BTreeMap::new();
        for c in &self.channels {
            for p in &self.profiles {
                let mut versions: Vec<Version> = self
                    .releases
                    .iter()
                    .filter(|r| r.yanked.is_none() && r.channels.contains(c))
                    .filter(|r| r.artifacts.iter().any(|a| &a.profile == p))
                    .map(|r| r.version.clone())
                    .collect();
                versions.sort();
                if let Some(latest) = versions.last().cloned() {
                    channels
                        .entry(c.clone())
                        .or_default()
                        .insert(p.clone(), ChannelProfile { latest, versions });
                }
            }
        }
        let mut seen = BTreeSet::new();
        let advisories = self
            .releases
            .iter()
            .flat_map(|r| r.advisories.iter())
            .filter(|a| seen.insert(a.id.as_str().to_string()))
            .cloned()
            .collect();
        Hints {
            schema: ferry_manifests::hints::SCHEMA.to_string(),
            product: self.product.clone(),
            generated: self.generated,
            sequence: self.sequence,
            expires: self.expires,
            channels,
            releases: self
                .releases
                .iter()
                .map(|r| HintRelease {
                    version: r.version.clone(),
                    channels: r.channels.clone(),
                    supported_from: r.supported_from.clone(),
                    required: r.required,
                    yanked: r.yanked.clone(),
                    notes: r.notes.clone(),
                    artifacts: r
                        .artifacts
                        .iter()
                        .map(|a| HintArtifact {
                            profile: a.profile.clone(),
                            path: a.path.clone(),
                            size: a.size,
                            sha256: a.sha256,
                            platform: a.platform.clone(),
                            format: a.format.clone(),
                        })
                        .collect(),
                })
                .collect(),
            advisories,
        }
    }
}

/// Merges a manifest's releases and yanks into `next`; returns the
/// versions newly marked yanked.
pub(crate) fn merge(next: &mut MirrorIndex, m: &Manifest, _now: Timestamp) -> Vec<String> {
    let sizes: HashMap<&str, &FileEntry> = m.files.iter().map(|f| (f.path.as_str(), f)).collect();
    for r in &m.releases {
        let artifacts: Vec<MirrorArtifact> = r
            .artifacts
            .iter()
            .filter_map(|a| {
                let (size, sha256, image) = match super::images::record(a, &sizes) {
                    Some((image, size)) => (size, image.digest.0, Some(image)),
                    None => {
                        let f = sizes.get(a.path.as_str())?;
                        (f.size, f.sha256, None)
                    }
                };
                Some(MirrorArtifact {
                    path: a.path.clone(),
                    profile: a.profile.clone(),
                    platform: a.platform.clone(),
                    format: a.format.clone(),
                    size,
                    sha256,
                    upstream: a.upstream.clone(),
                    image,
                })
            })
            .collect();
        if let Some(existing) = next.releases.iter_mut().find(|x| x.version == r.version) {
            let have: std::collections::HashSet<BundlePath> =
                existing.artifacts.iter().map(|x| x.path.clone()).collect();
            for a in artifacts {
                if !have.contains(&a.path) {
                    existing.artifacts.push(a);
                }
            }
            for c in &r.channels {
                if !existing.channels.contains(c) {
                    existing.channels.push(c.clone());
                }
            }
            for adv in &r.advisories {
                if let Some(x) = existing.advisories.iter_mut().find(|x| x.id == adv.id) {
                    *x = adv.clone();
                } else {
                    existing.advisories.push(adv.clone());
                }
            }
            if r.yanked.is_some() {
                existing.yanked.clone_from(&r.yanked);
            }
        } else {
            next.releases.push(MirrorRelease {
                version: r.version.clone(),
                channels: r.channels.clone(),
                published: r.published,
                supported_from: r.supported_from.clone(),
                required: r.required,
                yanked: r.yanked.clone(),
                advisories: r.advisories.clone(),
                notes: r.notes.clone(),
                artifacts,
            });
        }
    }
    let mut yanked = Vec::new();
    for y in &m.yanks {
        if let Some(x) = next.releases.iter_mut().find(|x| x.version == y.version)
            && x.yanked.is_none()
        {
            x.yanked = Some(Yank {
                reason: y.reason.clone(),
            });
            yanked.push(y.version.to_string());
        }
    }
    next.releases.sort_by(|a, b| a.version.cmp(&b.version));
    yanked
}
