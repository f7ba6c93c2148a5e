//! What a bundle may add to a mirror, judged against the whole mirror, not
//! only within the bundle (SPEC §3.1, issue 10): a path that differs from
//! one already there only in letter case (a file or any of its folders),
//! or a second artifact for a release, profile and platform that already
//! has one, would make a release that can never be installed again.

use std::collections::HashMap;

use ferry_manifests::manifest::Manifest;
use ferry_manifests::path::BundlePath;

use super::index::MirrorIndex;
use crate::error::{Error, Result};

/// Refuses what `m` would add that conflicts with `index` (or with itself).
///
/// # Errors
/// [`Error::Refused`] naming the path and the one it conflicts with.
pub fn check_against_mirror(index: &MirrorIndex, m: &Manifest) -> Result<()> {
    check_case(index, m)?;
    check_one_artifact_per_target(index, m)
}

fn check_case(index: &MirrorIndex, m: &Manifest) -> Result<()> {
    // Every file and every folder above it, by its case-folded name.
    let mut seen: HashMap<String, (String, &'static str)> = HashMap::new();
    let mut add = |p: &BundlePath, whose: &'static str| -> Result<()> {
        let mut names: Vec<String> = p
            .ancestors()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect();
        names.push(p.as_str().to_string());
        for n in names {
            let key = n.to_ascii_lowercase();
            match seen.get(&key) {
                Some((prev, prev_whose)) if *prev != n => {
                    return Err(Error::refused(
                        n.clone(),
                        format!(
                            "differs from \"{prev}\" ({prev_whose}) only in letter case: on a case-insensitive disk or web server one would hide the other; refused, nothing was changed"
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(key, (n, whose));
                }
            }
        }
        Ok(())
    };
    for f in &index.files {
        add(&f.path, "already on the mirror")?;
    }
    for f in &m.files {
        add(&f.path, "in this bundle")?;
    }
    Ok(())
}

fn check_one_artifact_per_target(index: &MirrorIndex, m: &Manifest) -> Result<()> {
    let mut targets: HashMap<(String, String, String), (String, &'static str)> = HashMap::new();
    let existing = index.releases.iter().flat_map(|r| {
        r.artifacts.iter().map(move |a| {
            (
                (
                    r.version.to_string(),
                    a.profile.to_string(),
                    a.platform.to_string(),
                ),
                a.path.as_str().to_string(),
                "already on the mirror",
            )
        })
    });
    let incoming = m.releases.iter().flat_map(|r| {
        r.artifacts.iter().map(move |a| {
            (
                (
                    r.version.to_string(),
                    a.profile.to_string(),
                    a.platform.to_string(),
                ),
                a.path.as_str().to_string(),
                "in this bundle",
            )
        })
    });
    for (key, path, whose) in existing.chain(incoming) {
        match targets.get(&key) {
            Some((prev, prev_whose)) if *prev != path => {
                return Err(Error::refused(
                    path,
                    format!(
                        "is a second artifact for {} / {} / {}, which has \"{prev}\" ({prev_whose}); a host could not tell which to install: refused, nothing was changed",
                        key.0, key.1, key.2
                    ),
                ));
            }
            Some(_) => {}
            None => {
                targets.insert(key, (path, whose));
            }
        }
    }
    Ok(())
}
