//! The vendor release index, `ferry.release-index/v1` (SPEC §3.2).

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::json;
use crate::name::Name;
use crate::release::{Advisory, SigKind, Yank, unique_names};
use crate::time::Timestamp;

/// The schema string of a vendor release index.
pub const SCHEMA: &str = "ferry.release-index/v1";

/// A vendor release index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseIndex {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// When the index was generated.
    pub generated: Timestamp,
    /// Every release the vendor offers.
    pub releases: Vec<IndexRelease>,
}

/// One release in the vendor index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRelease {
    /// SemVer version.
    pub version: Version,
    /// Channels that carry it.
    pub channels: Vec<Name>,
    /// Publication time.
    pub published: Timestamp,
    /// Versions that may upgrade to this one in one hop (`null`: at most two
    /// majors older).
    #[serde(default)]
    pub supported_from: Option<VersionReq>,
    /// No upgrade path may skip this release.
    #[serde(default)]
    pub required: bool,
    /// Set when the vendor pulled the release.
    #[serde(default)]
    pub yanked: Option<Yank>,
    /// Release notes.
    pub notes: IndexFile,
    /// Advisories published with this release.
    #[serde(default)]
    pub advisories: Vec<Advisory>,
    /// The files of the release.
    pub artifacts: Vec<IndexArtifact>,
}

/// A file referenced by URL with its size and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexFile {
    /// URL, relative to the index or absolute.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
}

/// One artifact of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexArtifact {
    /// File name (one path component).
    pub name: Name,
    /// Deployment profile (`default`, `no-training`).
    pub profile: Name,
    /// Platform, e.g. `linux-amd64`.
    pub platform: Name,
    /// Package format, e.g. `deb`, `tar.gz`.
    pub format: Name,
    /// URL, relative to the index or absolute.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
    /// Upstream signatures.
    #[serde(default)]
    pub signatures: Vec<IndexSignature>,
}

/// An upstream signature of an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSignature {
    /// Kind.
    pub kind: SigKind,
    /// URL, relative to the index or absolute.
    pub url: String,
}

impl ReleaseIndex {
    /// Parses and validates index bytes (already signature-checked by the caller).
    ///
    /// # Errors
    /// [`Error::Format`] naming the field, or [`Error::UnknownSchema`].
    pub fn parse(bytes: &[u8], doc: &str) -> Result<Self> {
        let index: ReleaseIndex = json::parse_document(bytes, doc, SCHEMA)?;
        index.validate(doc)?;
        Ok(index)
    }

    /// The index as the bytes ferry writes (and signs).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        json::to_document_bytes(self)
    }

    /// Checks the rules that types alone do not carry.
    ///
    /// # Errors
    /// [`Error::Format`] naming the release and rule.
    pub fn validate(&self, doc: &str) -> Result<()> {
        let mut versions = std::collections::HashSet::new();
        for (i, r) in self.releases.iter().enumerate() {
            let at = format!("releases[{i}]");
            if !versions.insert(&r.version) {
                return Err(Error::format(
                    doc,
                    format!("{at}.version"),
                    format!("{} listed twice", r.version),
                ));
            }
            if r.channels.is_empty() {
                return Err(Error::format(
                    doc,
                    format!("{at}.channels"),
                    "a release needs at least one channel",
                ));
            }
            unique_names(&r.channels, "channels").map_err(|m| Error::format(doc, &at, m))?;
            check_url(&r.notes.url)
                .map_err(|m| Error::format(doc, format!("{at}.notes.url"), m))?;
            let mut names = std::collections::HashSet::new();
            for (j, a) in r.artifacts.iter().enumerate() {
                let at = format!("{at}.artifacts[{j}]");
                if !names.insert((a.profile.clone(), a.name.as_str().to_ascii_lowercase())) {
                    return Err(Error::format(
                        doc,
                        format!("{at}.name"),
                        format!("\"{}\" listed twice for profile {}", a.name, a.profile),
                    ));
                }
                check_url(&a.url).map_err(|m| Error::format(doc, format!("{at}.url"), m))?;
                for (k, s) in a.signatures.iter().enumerate() {
                    check_url(&s.url)
                        .map_err(|m| Error::format(doc, format!("{at}.signatures[{k}].url"), m))?;
                }
            }
        }
        Ok(())
    }
}

fn check_url(url: &str) -> std::result::Result<(), String> {
    if url.is_empty() || url.len() > 4096 {
        return Err("a URL is 1 to 4096 characters".into());
    }
    if url.chars().any(char::is_control) || url.contains(' ') {
        return Err("a URL holds no spaces or control characters".into());
    }
    Ok(())
}
