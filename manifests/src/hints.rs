//! The update-hint feed, `ferry.hints/v1` (SPEC §3.8).

use std::collections::BTreeMap;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::json;
use crate::name::Name;
use crate::path::BundlePath;
use crate::release::{Advisory, Yank};
use crate::time::Timestamp;

/// The schema string of the hint feed.
pub const SCHEMA: &str = "ferry.hints/v1";

/// The hint feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hints {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// When the feed was written.
    pub generated: Timestamp,
    /// The mirror's sequence when the feed was written.
    pub sequence: u64,
    /// Present only when the admin asked for one (SPEC §5 rule 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// channel → profile → latest and versions.
    pub channels: BTreeMap<Name, BTreeMap<Name, ChannelProfile>>,
    /// Every release the mirror holds.
    pub releases: Vec<HintRelease>,
    /// Every advisory the mirror knows.
    #[serde(default)]
    pub advisories: Vec<Advisory>,
}

/// What a channel offers for one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelProfile {
    /// The newest version that is not yanked.
    pub latest: Version,
    /// Every version available (not yanked), oldest first.
    pub versions: Vec<Version>,
}

/// A release in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HintRelease {
    /// Version.
    pub version: Version,
    /// Channels.
    pub channels: Vec<Name>,
    /// One-hop upgrade range.
    #[serde(default)]
    pub supported_from: Option<VersionReq>,
    /// Never skipped.
    #[serde(default)]
    pub required: bool,
    /// Set when pulled.
    #[serde(default)]
    pub yanked: Option<Yank>,
    /// Notes path on the mirror.
    pub notes: BundlePath,
    /// Artifacts.
    pub artifacts: Vec<HintArtifact>,
}

/// An artifact in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HintArtifact {
    /// Profile.
    pub profile: Name,
    /// Path on the mirror.
    pub path: BundlePath,
    /// Size.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
    /// Platform.
    pub platform: Name,
    /// Format.
    pub format: Name,
}

impl Hints {
    /// Parses feed bytes (already signature-checked by the caller).
    ///
    /// # Errors
    /// [`Error::Format`] or [`Error::UnknownSchema`].
    pub fn parse(bytes: &[u8], doc: &str) -> Result<Self> {
        let h: Hints = json::parse_document(bytes, doc, SCHEMA)?;
        let mut seen = std::collections::HashSet::new();
        for (i, r) in h.releases.iter().enumerate() {
            if !seen.insert(&r.version) {
                return Err(Error::format(
                    doc,
                    format!("releases[{i}].version"),
                    format!("{} listed twice", r.version),
                ));
            }
        }
        Ok(h)
    }

    /// The feed as the bytes ferry writes and signs.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        json::to_document_bytes(self)
    }
}
