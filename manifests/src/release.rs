//! Pieces shared by the index, the manifest and the hint feed: advisories,
//! yank notices, upstream signature kinds.

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::name::Name;

/// How bad an advisory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// A security advisory published with a release (SPEC §3.2, §3.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advisory {
    /// Vendor identifier, e.g. `NOV-2026-004`.
    pub id: Name,
    /// Severity.
    pub severity: Severity,
    /// The versions affected, a SemVer range.
    pub affected: VersionReq,
    /// The first version that fixes it (`null` if none yet).
    #[serde(default)]
    pub fixed_in: Option<Version>,
    /// One line for operators.
    pub summary: String,
}

impl Advisory {
    /// Whether `version` is affected.
    #[must_use]
    pub fn affects(&self, version: &Version) -> bool {
        self.affected.matches(version)
    }
}

/// Why a release was pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Yank {
    /// The vendor's reason.
    pub reason: String,
}

/// A release pulled since an earlier transfer (manifest `yanks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YankNotice {
    /// The pulled version.
    pub version: Version,
    /// The vendor's reason.
    pub reason: String,
}

/// The kinds of upstream (vendor) signature ferry checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigKind {
    /// A minisign `.minisig` file.
    Minisign,
    /// A Sigstore bundle (`.sigstore.json`).
    Sigstore,
}

impl std::fmt::Display for SigKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigKind::Minisign => "minisign",
            SigKind::Sigstore => "sigstore",
        })
    }
}

/// Checks that a list of names has no duplicates.
pub(crate) fn unique_names(list: &[Name], field: &str) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for n in list {
        if !seen.insert(n) {
            return Err(format!("{field}: \"{n}\" listed twice"));
        }
    }
    Ok(())
}

/// The upgrade rule when `supported_from` is absent: at most two major
/// versions older (SPEC §3.2).
#[must_use]
pub fn default_supported_from(target: &Version) -> VersionReq {
    let min_major = target.major.saturating_sub(2);
    VersionReq::parse(&format!(">={min_major}.0.0, <{target}")).unwrap_or(VersionReq::STAR)
}
