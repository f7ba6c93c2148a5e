//! What a bundle may add to a mirror, judged against the whole mirror, not
//! only within the bundle (SPEC §3.1, issue 10): a path that differs from
//! one already there only in letter case (a file or any of its folders),
//! or a second artifact for a release, profile and platform that the
//! mirror already serves, would make a release that can never be
//! installed again.

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
    // What the mirror has per release / profile / platform. One bundle may
    // carry several artifacts for a target (the vendor's own index says so,
    // and `ferry-handoff` then asks for them by name); a later bundle may
    // not add one beside what the mirror already serves for that target.
    let mut targets: HashMap<(String, String, String), Vec<&str>> = HashMap::new();
    for r in &index.releases {
        for a in &r.artifacts {
            targets
                .entry((
                    r.version.to_string(),
                    a.profile.to_string(),
                    a.platform.to_string(),
                ))
                .or_default()
                .push(a.path.as_str());
        }
    }
    for r in &m.releases {
        for a in &r.artifacts {
            let key = (
                r.version.to_string(),
                a.profile.to_string(),
                a.platform.to_string(),
            );
            if let Some(have) = targets.get(&key)
                && !have.contains(&a.path.as_str())
            {
                return Err(Error::refused(
                    a.path.as_str(),
                    format!(
                        "is a second artifact for {} / {} / {}, which the mirror already serves as \"{}\"; a host could not tell which to install: refused, nothing was changed",
                        key.0,
                        key.1,
                        key.2,
                        have.join("\", \"")
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl super::Mirror {
    /// A trust policy for another product than the mirror's: said plainly
    /// (issue 10: import blamed `--state`, a flag nobody passed).
    ///
    /// # Errors
    /// [`Error::Refused`] naming both products and the policy file.
    pub fn check_policy_product(
        &self,
        policy: &ferry_manifests::policy::TrustPolicy,
    ) -> Result<()> {
        if policy.product != self.config().product {
            return Err(Error::refused(
                self.root().display().to_string(),
                format!(
                    "is the mirror of {}; the trust policy {} is for {}: use the site's policy for {}",
                    self.config().product,
                    policy.path.display(),
                    policy.product,
                    self.config().product
                ),
            ));
        }
        Ok(())
    }
}
