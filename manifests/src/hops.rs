//! The one-hop upgrade rule (SPEC §3.2), in one place: the hand-off's
//! planner walks it and the mirror's update graphs (SPEC §3.13) draw it,
//! so a graph's edges are exactly the hops the planner allows.
//!
//! A hop A → B is allowed when B is newer, A is in B's `supported_from`
//! range (absent: at most two major versions older), neither is yanked,
//! and no `required` release lies strictly between them.

use semver::{Version, VersionReq};

use crate::release::default_supported_from;

/// A release as the rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Version.
    pub version: Version,
    /// One-hop range (`None`: at most two majors older).
    pub supported_from: Option<VersionReq>,
    /// Never skipped.
    pub required: bool,
    /// Pulled by the vendor.
    pub yanked: bool,
}

impl Candidate {
    /// Whether `from` may upgrade to this release in one hop by its
    /// `supported_from` range alone (not looking at other releases).
    #[must_use]
    pub fn accepts_from(&self, from: &Version) -> bool {
        if from >= &self.version {
            return false;
        }
        let range = self
            .supported_from
            .clone()
            .unwrap_or_else(|| default_supported_from(&self.version));
        matches_including_prerelease(&range, from)
    }

    /// The range as people read it.
    #[must_use]
    pub fn range_text(&self) -> String {
        self.supported_from.as_ref().map_or_else(
            || {
                format!(
                    "{} (at most two majors older)",
                    default_supported_from(&self.version)
                )
            },
            ToString::to_string,
        )
    }
}

/// SemVer ranges exclude pre-releases unless a comparator names the same
/// version triple; for the *running* version a pre-release is matched by
/// its release triple so `4.0.0-rc.1` can still upgrade.
fn matches_including_prerelease(range: &VersionReq, v: &Version) -> bool {
    if range.matches(v) {
        return true;
    }
    if v.pre.is_empty() {
        return false;
    }
    let mut plain = v.clone();
    plain.pre = semver::Prerelease::EMPTY;
    range.matches(&plain)
}

/// Whether the hop `from` → `to` is allowed among `all` (SPEC §3.2).
#[must_use]
pub fn hop_allowed(from: &Candidate, to: &Candidate, all: &[Candidate]) -> bool {
    !from.yanked
        && !to.yanked
        && to.accepts_from(&from.version)
        && !all
            .iter()
            .any(|r| r.required && !r.yanked && r.version > from.version && r.version < to.version)
}

/// Every allowed hop among `all`, as index pairs into `all` (the edges of
/// the update graph).
#[must_use]
pub fn edges(all: &[Candidate]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for (j, b) in all.iter().enumerate() {
            if hop_allowed(a, b, all) {
                out.push((i, j));
            }
        }
    }
    out
}
