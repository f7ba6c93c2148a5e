//! Pre-flight checks before a hand-off (SPEC §4 `ferry-handoff install`,
//! issue 7). Each check reports the value it measured beside the
//! requirement, so an operator sees why an upgrade is refused:
//!
//! | name | measured | required |
//! | --- | --- | --- |
//! | `profile` | the profiles of the target's artifacts | the installed profile |
//! | `not-yanked` | the target's yank state | not yanked |
//! | `required-releases` | required releases between current and target | none skipped |
//! | `supported-hop` | the target's `supported_from` range | holds the running version |
//! | `backup-age` | age of the newest file under `--backup` | ≤ `--backup-max-age` |
//! | `license` | days of validity left (after signature, product, profile) | ≥ `--license-min-days` |
//! | `free-disk` | free bytes on the data dir's filesystem | ≥ 2 × the data dir's size |
//!
//! A problem reading what a check measures (a missing backup folder, an
//! unreadable license) fails that check; it never passes it.

use std::path::{Path, PathBuf};

use semver::Version;
use serde::{Deserialize, Serialize};

use ferry_manifests::license::License;
use ferry_manifests::minisig::{MAX_SIGNATURE_BYTES, read_small_bytes};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::release::default_supported_from;
use ferry_manifests::time::{Duration, Timestamp};

use super::{Selector, VerifiedMirror, candidates, join, release};
use crate::upgrade;
use ferry_mirror_layout::error::{Error, Result};
use ferry_mirror_layout::mirror::index::MirrorRelease;

/// Largest license file read.
const MAX_LICENSE_BYTES: u64 = 64 * 1024;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Its name (`backup-age`, `license`…).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was measured.
    pub measured: String,
    /// What is required.
    pub required: String,
}

impl CheckResult {
    fn new(
        name: &str,
        passed: bool,
        measured: impl Into<String>,
        required: impl Into<String>,
    ) -> Self {
        CheckResult {
            name: name.to_string(),
            passed,
            measured: measured.into(),
            required: required.into(),
        }
    }
}

/// Where the license's validity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseInput {
    /// A `ferry.license/v1` file with `FILE.minisig` beside it.
    File(PathBuf),
    /// The expiry date, for sites without a license file.
    Expires(Timestamp),
}

/// What the checks look at. `None` leaves a check out.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The running version.
    pub current: Version,
    /// The version to install.
    pub target: Version,
    /// A backup file or folder, and the largest age of its newest file.
    pub backup: Option<(PathBuf, Duration)>,
    /// The license.
    pub license: Option<LicenseInput>,
    /// Days of license validity required.
    pub license_min_days: u64,
    /// The product's data folder.
    pub data_dir: Option<PathBuf>,
    /// The clock.
    pub now: Timestamp,
}

/// Parses `--license-expires`: `2027-03-31` (midnight UTC) or
/// `2027-03-31T00:00:00Z`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_date(s: &str) -> std::result::Result<Timestamp, String> {
    if s.len() == 10 {
        format!("{s}T00:00:00Z")
            .parse()
            .map_err(|_| format!("\"{s}\" is not a date like 2027-03-31"))
    } else {
        s.parse()
    }
}

/// Runs every requested check. The plan rules (profile, yank, required,
/// hop) always run.
///
/// # Errors
/// [`Error::Refused`] if the target is not on the mirror for the channel or
/// is not newer than the running version; [`Error::Manifest`] for a policy
/// without the `[vendor]` keys a license needs (exit 2).
pub fn run(
    mirror: &VerifiedMirror,
    policy: &TrustPolicy,
    sel: &Selector,
    inputs: &Inputs,
) -> Result<Vec<CheckResult>> {
    let (current, target) = (&inputs.current, &inputs.target);
    let rel = target_release(mirror, sel, current, target)?;
    let cands = candidates(&mirror.index, sel);
    let mut out = vec![
        profile_check(rel, sel, target),
        yank_check(rel),
        required_check(&cands, current, target),
        hop_check(rel, &cands, current, target),
    ];
    if let Some((path, max)) = &inputs.backup {
        out.push(backup_check(path, *max, inputs.now));
    }
    if let Some(lic) = &inputs.license {
        out.push(license_check(
            lic,
            policy,
            sel,
            inputs.license_min_days,
            inputs.now,
        )?);
    }
    if let Some(dir) = &inputs.data_dir {
        out.push(disk_check(dir));
    }
    Ok(out)
}

/// The target's release, refusing a target not newer than the running
/// version or not on the mirror for the channel.
fn target_release<'m>(
    mirror: &'m VerifiedMirror,
    sel: &Selector,
    current: &Version,
    target: &Version,
) -> Result<&'m MirrorRelease> {
    if target <= current {
        return Err(Error::refused(
            format!("upgrade to {target}"),
            format!(
                "is not newer than the running version {current}; ferry hands over upgrades only"
            ),
        ));
    }
    release(&mirror.index, sel, target).ok_or_else(|| {
        let cands = candidates(&mirror.index, sel);
        Error::refused(
            format!("upgrade to {target}"),
            format!(
                "{target} is not on the mirror for channel {}; it has {}",
                sel.channel,
                join(cands.iter().map(|c| &c.version))
            ),
        )
    })
}

/// `profile`: the installed profile must be the artifact's (SPEC §5 rule 5).
fn profile_check(rel: &MirrorRelease, sel: &Selector, target: &Version) -> CheckResult {
    let profiles: Vec<String> = rel
        .artifacts
        .iter()
        .map(|a| a.profile.to_string())
        .collect();
    let ok = super::artifact(rel, sel).is_ok();
    CheckResult::new(
        "profile",
        ok,
        if ok {
            format!("{target} has a {} artifact", sel.profile)
        } else {
            format!(
                "{target} has artifacts for {}",
                if profiles.is_empty() {
                    "no profile".into()
                } else {
                    profiles.join(", ")
                }
            )
        },
        format!("one artifact for the installed profile {}", sel.profile),
    )
}

/// `not-yanked`: the vendor has not withdrawn the target.
fn yank_check(rel: &MirrorRelease) -> CheckResult {
    CheckResult::new(
        "not-yanked",
        rel.yanked.is_none(),
        rel.yanked.as_ref().map_or_else(
            || "not yanked".into(),
            |y| format!("yanked by the vendor: {}", y.reason),
        ),
        "not yanked",
    )
}

/// `required-releases`: no required (unyanked) release between the
/// running version and the target is skipped.
fn required_check(
    cands: &[upgrade::Candidate],
    current: &Version,
    target: &Version,
) -> CheckResult {
    let skipped: Vec<&Version> = cands
        .iter()
        .filter(|c| c.required && !c.yanked && &c.version > current && &c.version < target)
        .map(|c| &c.version)
        .collect();
    CheckResult::new(
        "required-releases",
        skipped.is_empty(),
        if skipped.is_empty() {
            format!("no required release between {current} and {target}")
        } else {
            format!(
                "{current} -> {target} skips the required release {}; install {} first",
                join(skipped.iter()),
                skipped[0]
            )
        },
        "no required release skipped",
    )
}

/// `supported-hop`: the target accepts an upgrade from the running
/// version; when not, the measured value names the hops that work and the
/// path.
fn hop_check(
    rel: &MirrorRelease,
    cands: &[upgrade::Candidate],
    current: &Version,
    target: &Version,
) -> CheckResult {
    let range = rel
        .supported_from
        .clone()
        .unwrap_or_else(|| default_supported_from(target));
    // The hop is judged on the release itself, whatever its artifacts and
    // yank state (those are checks of their own).
    let hop_ok = upgrade::Candidate {
        version: target.clone(),
        supported_from: rel.supported_from.clone(),
        required: rel.required,
        yanked: false,
    }
    .accepts_from(current);
    let mut measured = format!("{target} accepts upgrades from {range}");
    if !hop_ok {
        let working: Vec<&Version> = cands
            .iter()
            .filter(|c| !c.yanked && c.accepts_from(current) && &c.version < target)
            .map(|c| &c.version)
            .collect();
        if working.is_empty() {
            measured.push_str(&format!(
                "; no release on the mirror accepts an upgrade from {current}"
            ));
        } else {
            measured.push_str(&format!(
                "; hops that work from {current}: {}",
                join(working.iter())
            ));
        }
        if let Ok(path) = upgrade::plan(current, target, cands) {
            measured.push_str(&format!("; the path is {}", join(path.iter())));
        }
    }
    CheckResult::new(
        "supported-hop",
        hop_ok,
        measured,
        format!("the running version {current} in the target's supported range"),
    )
}

/// The failed checks as one refusal (exit 1), naming each and its measured
/// value; `None` if all passed.
#[must_use]
pub fn failure(checks: &[CheckResult]) -> Option<Error> {
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "{}: measured {}; required {}",
                c.name, c.measured, c.required
            )
        })
        .collect();
    if failed.is_empty() {
        None
    } else {
        Some(Error::refused(
            "pre-flight check failed",
            failed.join("\n  "),
        ))
    }
}

/// How far in the future a backup file's time may be (clock skew).
const FUTURE_SKEW: i64 = 300;

fn backup_check(path: &Path, max: Duration, now: Timestamp) -> CheckResult {
    let required = format!(
        "newest backup file at most {} old",
        human_secs(max.seconds())
    );
    match newest_mtime(path) {
        Ok(Some((file, mtime))) if mtime > now.unix().saturating_add(FUTURE_SKEW) => {
            CheckResult::new(
                "backup-age",
                false,
                format!(
                    "newest backup file {} is dated {} in the future (the clock or the file's time is wrong)",
                    file.display(),
                    human_secs(u64::try_from(mtime - now.unix()).unwrap_or(u64::MAX))
                ),
                required,
            )
        }
        Ok(Some((file, mtime))) => {
            let age = u64::try_from(now.unix().saturating_sub(mtime)).unwrap_or(0);
            CheckResult::new(
                "backup-age",
                age <= max.seconds(),
                format!(
                    "newest backup file {} is {} old",
                    file.display(),
                    human_secs(age)
                ),
                required,
            )
        }
        Ok(None) => CheckResult::new(
            "backup-age",
            false,
            format!("no backup file under {}", path.display()),
            required,
        ),
        Err(e) => CheckResult::new(
            "backup-age",
            false,
            format!("{} cannot be read ({e})", path.display()),
            required,
        ),
    }
}

/// The newest regular file under `path` (itself if a file), and its mtime.
/// Symlinks are not followed.
fn newest_mtime(path: &Path) -> std::io::Result<Option<(PathBuf, i64)>> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_file() {
        let m = meta.modified()?;
        return Ok(Some((path.to_path_buf(), unix(m))));
    }
    if !meta.is_dir() {
        return Ok(None);
    }
    let mut best: Option<(PathBuf, i64)> = None;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let m = entry.metadata()?;
            if m.is_dir() {
                stack.push(entry.path());
            } else if m.is_file() {
                let t = unix(m.modified()?);
                if best.as_ref().is_none_or(|(_, b)| t > *b) {
                    best = Some((entry.path(), t));
                }
            }
        }
    }
    Ok(best)
}

fn unix(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn license_check(
    lic: &LicenseInput,
    policy: &TrustPolicy,
    sel: &Selector,
    min_days: u64,
    now: Timestamp,
) -> Result<CheckResult> {
    let required = format!("at least {min_days} days of license validity left");
    let (expires, source) = match lic {
        LicenseInput::Expires(t) => (*t, "--license-expires".to_string()),
        LicenseInput::File(path) => {
            let keys = &policy.vendor()?.minisign_keys;
            let what = path.display().to_string();
            let sig_path = PathBuf::from(format!("{what}.minisig"));
            let verified = read_small_bytes(path, MAX_LICENSE_BYTES)
                .and_then(|b| {
                    read_small_bytes(&sig_path, MAX_SIGNATURE_BYTES as u64).map(|s| (b, s))
                })
                .and_then(|(b, s)| {
                    License::verify(&b, &s, keys, &policy.product, &sel.profile, &what)
                });
            let verified = verified.and_then(|l| {
                ferry_manifests::time::check_not_in_future("issued", l.issued, now)
                    .map(|()| l)
                    .map_err(|e| ferry_manifests::Error::policy(&what, e))
            });
            match verified {
                Ok(l) => (l.expires, format!("license of {} ({})", l.licensee, what)),
                Err(e) => {
                    return Ok(CheckResult::new(
                        "license",
                        false,
                        format!("license refused: {}", with_causes(&e)),
                        required,
                    ));
                }
            }
        }
    };
    let left = expires.seconds_since(now);
    let days = left.div_euclid(86_400);
    let passed = days >= 0 && u64::try_from(days).unwrap_or(0) >= min_days;
    let measured = if left <= 0 {
        format!("{source} expired at {expires}")
    } else {
        format!("{days} days left ({source} expires {expires})")
    };
    Ok(CheckResult::new("license", passed, measured, required))
}

fn disk_check(dir: &Path) -> CheckResult {
    let name = "free-disk";
    let size = match tree_size(dir) {
        Ok(s) => s,
        Err(e) => {
            return CheckResult::new(
                name,
                false,
                format!("data dir {} cannot be read ({e})", dir.display()),
                "free space at least twice the data dir's size",
            );
        }
    };
    let needed = size.saturating_mul(2);
    let required = format!("at least {} free (2 x the data dir)", human_bytes(needed));
    match fs4::available_space(dir) {
        Ok(free) => CheckResult::new(
            name,
            free >= needed,
            format!(
                "{} free on the filesystem of {}, which holds {}",
                human_bytes(free),
                dir.display(),
                human_bytes(size)
            ),
            required,
        ),
        Err(e) => CheckResult::new(
            name,
            false,
            format!("free space of {} cannot be read ({e})", dir.display()),
            required,
        ),
    }
}

/// Total apparent size of the regular files under `dir` (symlinks not
/// followed): what a migration or backup of the data copies.
fn tree_size(dir: &Path) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let m = entry.metadata()?;
            if m.is_dir() {
                stack.push(entry.path());
            } else if m.is_file() {
                total = total.saturating_add(m.len());
            }
        }
    }
    Ok(total)
}

/// `1.5 GiB`, `300 B`.
#[must_use]
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {} ({n} bytes)", UNITS[u])
    }
}

/// `26h 3m`, `2d 4h`, `45s`.
#[must_use]
pub fn human_secs(s: u64) -> String {
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {}s", s % 60)
    } else {
        format!("{s}s")
    }
}

/// An error and its causes on one line (a check's measured value).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_human_units() {
        assert_eq!(
            parse_date("2027-03-31").unwrap().to_string(),
            "2027-03-31T00:00:00Z"
        );
        assert!(parse_date("2027-3-31").is_err());
        assert!(parse_date("31/03/2027").is_err());
        assert_eq!(human_secs(26 * 3600 + 180), "1d 2h");
        assert_eq!(human_secs(3 * 3600 + 120), "3h 2m");
        assert_eq!(human_bytes(300), "300 B");
        assert!(human_bytes(3 << 30).starts_with("3.0 GiB"));
    }
}
