//! What a sync takes from a vendor index: a pure function of the index and
//! the options (issue 11: sync *planning* apart from the downloads), and
//! SPEC §5 rule 8: a selection that matches nothing, or names a channel,
//! profile or platform the index does not know, is a usage error that
//! lists what there is — never an empty success (issue 10: `--channel
//! stabel` gave an empty workspace, then an empty bundle).

use std::collections::BTreeSet;

use semver::VersionReq;

use ferry_manifests::index::{IndexArtifact, IndexRelease, ReleaseIndex};
use ferry_manifests::name::Name;

use crate::error::{Error, Result};

/// One selected release: the release, the selected channels it is in, and
/// its selected artifacts.
pub type Selected<'a> = (&'a IndexRelease, Vec<Name>, Vec<&'a IndexArtifact>);

/// What to take.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// Channels (at least one).
    pub channels: &'a [Name],
    /// Profiles (at least one).
    pub profiles: &'a [Name],
    /// Platforms (empty: all).
    pub platforms: &'a [Name],
    /// Versions (none: all).
    pub versions: Option<&'a VersionReq>,
}

/// The releases `sel` takes from `index`, oldest first; yanked releases
/// are never taken.
///
/// # Errors
/// [`Error::Usage`] (exit 2) naming the unknown value and listing what the
/// index offers, or saying that the selection matches nothing.
pub fn select<'a>(index: &'a ReleaseIndex, sel: Selection<'_>) -> Result<Vec<Selected<'a>>> {
    let offered = Offered::of(index);
    offered.check("--channel", sel.channels, &offered.channels)?;
    offered.check("--profile", sel.profiles, &offered.profiles)?;
    offered.check("--platform", sel.platforms, &offered.platforms)?;
    let mut selected: Vec<Selected<'a>> = Vec::new();
    for r in &index.releases {
        if r.yanked.is_some() || sel.versions.is_some_and(|v| !v.matches(&r.version)) {
            continue;
        }
        let channels: Vec<Name> = r
            .channels
            .iter()
            .filter(|c| sel.channels.contains(c))
            .cloned()
            .collect();
        let arts: Vec<&IndexArtifact> = r
            .artifacts
            .iter()
            .filter(|a| sel.profiles.contains(&a.profile))
            .filter(|a| sel.platforms.is_empty() || sel.platforms.contains(&a.platform))
            .collect();
        if !channels.is_empty() && !arts.is_empty() {
            selected.push((r, channels, arts));
        }
    }
    if selected.is_empty() {
        return Err(Error::Usage {
            what: "selection".into(),
            reason: format!(
                "channel {}, profile {}{}{} matches no release of {} that is not yanked; the index offers {}",
                list(sel.channels),
                list(sel.profiles),
                if sel.platforms.is_empty() {
                    String::new()
                } else {
                    format!(", platform {}", list(sel.platforms))
                },
                sel.versions
                    .map(|v| format!(", versions {v}"))
                    .unwrap_or_default(),
                index.product,
                offered.describe(index)
            ),
        });
    }
    selected.sort_by(|a, b| a.0.version.cmp(&b.0.version));
    Ok(selected)
}

struct Offered {
    channels: BTreeSet<String>,
    profiles: BTreeSet<String>,
    platforms: BTreeSet<String>,
}

impl Offered {
    fn of(index: &ReleaseIndex) -> Self {
        let mut o = Offered {
            channels: BTreeSet::new(),
            profiles: BTreeSet::new(),
            platforms: BTreeSet::new(),
        };
        for r in &index.releases {
            o.channels
                .extend(r.channels.iter().map(ToString::to_string));
            for a in &r.artifacts {
                o.profiles.insert(a.profile.to_string());
                o.platforms.insert(a.platform.to_string());
            }
        }
        o
    }

    fn check(&self, flag: &str, asked: &[Name], known: &BTreeSet<String>) -> Result<()> {
        if let Some(bad) = asked.iter().find(|n| !known.contains(n.as_str())) {
            return Err(Error::Usage {
                what: format!("{flag} {bad}"),
                reason: format!(
                    "the vendor index does not know it; it offers {}",
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        Ok(())
    }

    fn describe(&self, index: &ReleaseIndex) -> String {
        let versions: Vec<String> = index
            .releases
            .iter()
            .filter(|r| r.yanked.is_none())
            .map(|r| r.version.to_string())
            .collect();
        format!(
            "channels {}; profiles {}; platforms {}; versions {}",
            join(&self.channels),
            join(&self.profiles),
            join(&self.platforms),
            if versions.is_empty() {
                "(none not yanked)".into()
            } else {
                versions.join(", ")
            }
        )
    }
}

fn join(s: &BTreeSet<String>) -> String {
    s.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn list(n: &[Name]) -> String {
    n.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
