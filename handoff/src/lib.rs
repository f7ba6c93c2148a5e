//! The product host's side (SPEC §4 `ferry-handoff`, issue 7): read a
//! mirror (a directory, or bytes a binary fetched over HTTP through
//! [`MirrorSource`]), verify its signed index and hint feed against the
//! policy's `[mirror].keys` first, then answer "what should this install do
//! next" ([`check`]), run the pre-flight checks ([`preflight`]) and hand a
//! verified artifact to the product's installer ([`install`]).
//!
//! This crate links no network code: `ferry_net::mirror_client` implements
//! [`MirrorSource`] and [`install::HealthProbe`] over HTTP.
//!
//! ```no_run
//! use ferry_handoff_core::{self as handoff, DirSource, Selector};
//! # fn main() -> ferry_mirror_layout::Result<()> {
//! let policy = ferry_manifests::policy::TrustPolicy::load("ferry-trust.toml".as_ref())?;
//! let source = DirSource::new("/srv/mirror");
//! let mirror = handoff::load(&source, &policy, ferry_manifests::time::Timestamp::now())?;
//! let sel = Selector::new("stable", "no-training", None).expect("valid names");
//! let report = handoff::check(&mirror, &policy, &sel, &"2.4.0".parse().unwrap())?;
//! println!("{} -> {:?}", report.current, report.path);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod chain;
pub mod install;
pub mod memory;
pub mod preflight;
pub mod record;
pub mod upgrade;

use std::io::Read;
use std::path::{Path, PathBuf};

use semver::Version;
use serde::Serialize;

use ferry_manifests::decide::{self, PinKind, PinSource};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::hints::Hints;
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::minisig::{KeySet, MAX_SIGNATURE_BYTES};
use ferry_manifests::name::Name;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::release::Advisory;
use ferry_manifests::time::Timestamp;

use crate::upgrade::Candidate;
use ferry_mirror_layout::error::{Error, Result};
use ferry_mirror_layout::mirror::index::{MirrorArtifact, MirrorIndex, MirrorRelease};
use ferry_mirror_layout::mirror::published::{
    MAX_PUBLISHED_BYTES, PUBLISHED_FILE, check_same_publish, verify_published,
};
use ferry_mirror_layout::mirror::{HINTS_FILE, INDEX_FILE, verify_hints_bytes, verify_index_bytes};

/// Where a mirror's files come from: a directory, or a web server (the
/// implementation lives in `ferry-net`). Paths are mirror-relative
/// (`index.json`, `releases/3.2.1/…`). I/O errors keep their kind, so a
/// missing file (`NotFound`) reads differently from a network failure.
pub trait MirrorSource {
    /// The full location of a path, for messages and records (a file path
    /// or a URL).
    fn location(&self, path: &str) -> String;

    /// Reads a small file into memory, refusing more than `limit` bytes.
    ///
    /// # Errors
    /// An I/O error (`NotFound` if the file is not there).
    fn read_small(&self, path: &str, limit: u64) -> std::io::Result<Vec<u8>>;

    /// Opens a file for streaming.
    ///
    /// # Errors
    /// An I/O error (`NotFound` if the file is not there).
    fn open(&self, path: &str) -> std::io::Result<Box<dyn Read + '_>>;
}

/// A mirror tree on a local or mounted filesystem.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// A mirror rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirSource { root: root.into() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

impl MirrorSource for DirSource {
    fn location(&self, path: &str) -> String {
        self.path(path).display().to_string()
    }

    fn read_small(&self, path: &str, limit: u64) -> std::io::Result<Vec<u8>> {
        let mut f = open_regular(&self.path(path))?;
        let mut out = Vec::new();
        (&mut f).take(limit + 1).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("larger than {limit} bytes"),
            ));
        }
        Ok(out)
    }

    fn open(&self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(open_regular(&self.path(path))?))
    }
}

/// Opens a regular file, never a device, FIFO or folder.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let f = ferry_manifests::input::open_regular(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    Ok(f)
}

/// Reads a small file through a source, naming its location on failure.
pub(crate) fn fetch_small(source: &dyn MirrorSource, path: &str, limit: u64) -> Result<Vec<u8>> {
    source
        .read_small(path, limit)
        .map_err(|e| Error::io(source.location(path), "fetch", e))
}

/// A mirror whose index and feed verified against the policy.
#[derive(Debug, Clone)]
pub struct VerifiedMirror {
    /// Where it was read from (directory or base URL).
    pub location: String,
    /// The verified index.
    pub index: MirrorIndex,
    /// The verified hint feed.
    pub hints: Hints,
    /// SHA-256 of the index bytes that verified.
    pub index_sha256: Sha256Digest,
    /// The effective policy: the caller's with the mirror's trust chain
    /// applied (SPEC §3.11); the index was checked with its mirror keys.
    pub policy: TrustPolicy,
}

/// Reads and verifies a mirror's signed index and hint feed: each signature
/// by a `[mirror].keys` key with the exact trusted comment, then parsed from
/// the verified bytes; the product must be the policy's, an index past its
/// `expires` is refused, and feed and index must be of the same publish.
///
/// # Errors
/// [`Error::Manifest`] for a bad signature or document (exit 1),
/// [`Error::Refused`] for a product, expiry or feed mismatch (exit 1),
/// [`Error::Io`] when the files cannot be read (exit 3).
pub fn load(
    source: &dyn MirrorSource,
    policy: &TrustPolicy,
    now: Timestamp,
) -> Result<VerifiedMirror> {
    // The mirror's chain first: a rotated mirror key verifies the index
    // below, and keys the chain drops count nowhere.
    let candidates = chain::fetch(source, policy)?;
    let policy = &ferry_manifests::trust::apply(policy, candidates, now)?.policy;
    let keys = &policy.mirror()?.keys;
    let (index, bytes, hints) = read_publish(source, keys)?;
    let index_loc = source.location(INDEX_FILE);
    if index.product != policy.product {
        return Err(Error::refused(
            index_loc,
            format!(
                "is the mirror of product {}, but the trust policy is for {}",
                index.product, policy.product
            ),
        ));
    }
    if let Some(exp) = index.expires {
        decide::validity(&index_loc, None, exp, now, None)
            .map_err(|r| r.advise("ask the mirror admin to publish the mirror again"))
            .map_err(ferry_manifests::Error::from)?;
    }
    Ok(VerifiedMirror {
        location: source.location(""),
        index_sha256: Sha256Digest::of(&bytes),
        index,
        hints,
        policy: policy.clone(),
    })
}

/// How often a reader of a mirror without `published.json` re-reads the
/// four files when they do not agree (a publish in progress), and how long
/// it waits between tries.
const PAIR_TRIES: u32 = 8;
const PAIR_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// One publish of the mirror, verified: `published.json` when the mirror
/// has it (one file, so never a mix of two publishes), else the index, the
/// feed and their signatures, re-read a few times while they disagree.
fn read_publish(source: &dyn MirrorSource, keys: &KeySet) -> Result<(MirrorIndex, Vec<u8>, Hints)> {
    match source.read_small(PUBLISHED_FILE, MAX_PUBLISHED_BYTES) {
        Ok(env) => {
            let p = verify_published(&env, keys, &source.location(PUBLISHED_FILE))?;
            return Ok((p.index, p.index_bytes, p.hints));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(source.location(PUBLISHED_FILE), "fetch", e)),
    }
    let mut tries = 0;
    loop {
        tries += 1;
        match read_pair(source, keys) {
            Err(e)
                if tries < PAIR_TRIES && e.class() == ferry_manifests::ErrorClass::Verification =>
            {
                std::thread::sleep(PAIR_PAUSE);
            }
            other => return other,
        }
    }
}

fn read_pair(source: &dyn MirrorSource, keys: &KeySet) -> Result<(MirrorIndex, Vec<u8>, Hints)> {
    let sig_limit = MAX_SIGNATURE_BYTES as u64;
    let bytes = fetch_small(source, INDEX_FILE, MAX_DOCUMENT_BYTES)?;
    let sig = fetch_small(source, &format!("{INDEX_FILE}.minisig"), sig_limit)?;
    let index = verify_index_bytes(&bytes, &sig, keys, &source.location(INDEX_FILE))?;
    let hbytes = fetch_small(source, HINTS_FILE, MAX_DOCUMENT_BYTES)?;
    let hsig = fetch_small(source, &format!("{HINTS_FILE}.minisig"), sig_limit)?;
    let hints_loc = source.location(HINTS_FILE);
    let hints = verify_hints_bytes(&hbytes, &hsig, keys, &hints_loc)?;
    check_same_publish(&index, &hints, &hints_loc)?;
    Ok((index, bytes, hints))
}

/// What this install runs: channel, profile and (optionally) platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The channel followed.
    pub channel: Name,
    /// The installed deployment profile.
    pub profile: Name,
    /// The platform, when the mirror carries several.
    pub platform: Option<Name>,
}

impl Selector {
    /// Builds a selector from strings.
    ///
    /// # Errors
    /// A message if a name is not valid.
    pub fn new(
        channel: &str,
        profile: &str,
        platform: Option<&str>,
    ) -> std::result::Result<Self, String> {
        Ok(Selector {
            channel: Name::new(channel)?,
            profile: Name::new(profile)?,
            platform: platform.map(Name::new).transpose()?,
        })
    }

    fn artifact_matches(&self, a: &MirrorArtifact) -> bool {
        a.profile == self.profile && self.platform.as_ref().is_none_or(|p| &a.platform == p)
    }
}

/// This host's platform in the vendor's naming (`linux-amd64`,
/// `linux-arm64`), if ferry knows it.
#[must_use]
pub fn host_platform() -> Option<String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "riscv64" => "riscv64",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        _ => return None,
    };
    Some(format!("{}-{arch}", std::env::consts::OS))
}

/// SPEC §4: the platform defaults to the host's own; a platform the
/// mirror does not carry for the channel and profile (given, or this
/// host's), is a usage error listing the platforms it does carry, never a
/// refusal that blames the profile (issue 10).
///
/// # Errors
/// A configuration error (exit 2) naming `--platform`.
pub fn resolve_platform(mirror: &VerifiedMirror, sel: &mut Selector) -> Result<()> {
    let offered: std::collections::BTreeSet<&str> = mirror
        .index
        .releases
        .iter()
        .filter(|r| r.channels.contains(&sel.channel))
        .flat_map(|r| r.artifacts.iter())
        .filter(|a| a.profile == sel.profile)
        .map(|a| a.platform.as_str())
        .collect();
    if offered.is_empty() {
        return Ok(()); // the profile check says what is missing
    }
    let list = offered.iter().copied().collect::<Vec<_>>().join(", ");
    let usage = |msg: String| -> Error {
        ferry_manifests::Error::config(std::path::PathBuf::from("--platform"), msg).into()
    };
    match &sel.platform {
        Some(p) if offered.contains(p.as_str()) => Ok(()),
        Some(p) => Err(usage(format!(
            "the mirror carries no {} artifact of channel {} for {p}; it carries: {list}",
            sel.profile, sel.channel
        ))),
        None => {
            let host = host_platform();
            match host.as_deref() {
                Some(h) if offered.contains(h) => {
                    sel.platform = Some(Name::new(h).map_err(usage)?);
                    Ok(())
                }
                _ => Err(usage(format!(
                    "not given, and this host ({}) is not among the platforms the mirror carries for {} / {}: {list}; pass --platform to choose one",
                    host.as_deref().unwrap_or("an unknown platform"),
                    sel.channel,
                    sel.profile
                ))),
            }
        }
    }
}

/// Refuses a channel or profile the site is not pinned to, or that the
/// mirror does not carry (SPEC §5 rule 5).
///
/// # Errors
/// [`Error::Refused`] (exit 1).
pub fn check_pins(mirror: &VerifiedMirror, policy: &TrustPolicy, sel: &Selector) -> Result<()> {
    let channel = std::slice::from_ref(&sel.channel);
    let profile = std::slice::from_ref(&sel.profile);
    let subject = |kind: PinKind| match kind {
        PinKind::Channel => format!("channel {}", sel.channel),
        PinKind::Profile => format!("profile {}", sel.profile),
    };
    for (kind, offered, site, carried) in [
        (
            PinKind::Channel,
            channel,
            policy.pinned_channels(),
            &mirror.index.channels,
        ),
        (
            PinKind::Profile,
            profile,
            policy.pinned_profiles(),
            &mirror.index.profiles,
        ),
    ] {
        decide::pinned(&subject(kind), kind, PinSource::Site, offered, site)
            .map_err(|r| r.advise("this site never receives what its trust policy does not pin"))
            .map_err(ferry_manifests::Error::from)?;
        decide::pinned(&subject(kind), kind, PinSource::Mirror, offered, carried)
            .map_err(ferry_manifests::Error::from)?;
    }
    Ok(())
}

pub(crate) fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// The releases of the selected channel that carry an artifact for the
/// profile (and platform), as planner candidates (yanked ones included,
/// marked, so the planner never picks them).
#[must_use]
pub fn candidates(index: &MirrorIndex, sel: &Selector) -> Vec<Candidate> {
    index
        .releases
        .iter()
        .filter(|r| r.channels.contains(&sel.channel))
        .filter(|r| r.artifacts.iter().any(|a| sel.artifact_matches(a)))
        .map(|r| Candidate {
            version: r.version.clone(),
            supported_from: r.supported_from.clone(),
            required: r.required,
            yanked: r.yanked.is_some(),
        })
        .collect()
}

/// The release `version` of the selected channel, if the mirror has it.
#[must_use]
pub fn release<'a>(
    index: &'a MirrorIndex,
    sel: &Selector,
    version: &Version,
) -> Option<&'a MirrorRelease> {
    index
        .releases
        .iter()
        .find(|r| &r.version == version && r.channels.contains(&sel.channel))
}

/// The artifact of a release for the selected profile and platform.
///
/// # Errors
/// [`Error::Refused`] when there is none, or several (pass `--platform`).
pub fn artifact<'a>(release: &'a MirrorRelease, sel: &Selector) -> Result<&'a MirrorArtifact> {
    let matching: Vec<&MirrorArtifact> = release
        .artifacts
        .iter()
        .filter(|a| sel.artifact_matches(a))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::refused(
            format!("release {}", release.version),
            format!(
                "has no artifact for profile {}{}; it has: {}",
                sel.profile,
                sel.platform
                    .as_ref()
                    .map(|p| format!(" on {p}"))
                    .unwrap_or_default(),
                join(
                    release
                        .artifacts
                        .iter()
                        .map(|a| format!("{} ({}, {})", a.path, a.profile, a.platform))
                )
            ),
        )),
        many => Err(Error::refused(
            format!("release {}", release.version),
            format!(
                "has several artifacts for profile {}: {}; pass --platform to pick one",
                sel.profile,
                join(many.iter().map(|a| a.platform.as_str()))
            ),
        )),
    }
}

/// What `check` says (SPEC §4): its JSON form is the `--json` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// The running version.
    pub current: Version,
    /// The newest release of the channel and profile that is not yanked.
    pub latest: Version,
    /// The hops, in order, ending at `latest` (empty: up to date).
    pub path: Vec<Version>,
    /// The advisories that affect the running version.
    pub advisories: Vec<Advisory>,
    /// The verdict.
    pub status: Status,
}

/// The verdict of `check`, and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Nothing newer (exit 0).
    UpToDate,
    /// A newer release is available (exit 10).
    Update,
    /// The running version is affected by an advisory (exit 11).
    Security,
}

impl Status {
    /// The exit code of SPEC §4.
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            Status::UpToDate => 0,
            Status::Update => 10,
            Status::Security => 11,
        }
    }
}

/// Answers "what should this install do next": latest, the upgrade path
/// (fewest hops, newest per hop, never skipping a required release), and
/// the advisories that affect `current`.
///
/// # Errors
/// [`Error::Refused`] for a pin violation, for a channel and profile with
/// no release, or when no upgrade path exists (naming what is missing).
pub fn check(
    mirror: &VerifiedMirror,
    policy: &TrustPolicy,
    sel: &Selector,
    current: &Version,
) -> Result<CheckReport> {
    check_pins(mirror, policy, sel)?;
    let cands = candidates(&mirror.index, sel);
    let latest = upgrade::latest(&cands).cloned().ok_or_else(|| {
        Error::refused(
            format!("channel {} profile {}", sel.channel, sel.profile),
            "the mirror holds no release for it".to_string(),
        )
    })?;
    let path = if &latest > current {
        upgrade::plan(current, &latest, &cands)?
    } else {
        Vec::new()
    };
    let advisories: Vec<Advisory> = upgrade::affecting(current, &mirror.hints.advisories)
        .into_iter()
        .cloned()
        .collect();
    let status = if !advisories.is_empty() {
        Status::Security
    } else if path.is_empty() {
        Status::UpToDate
    } else {
        Status::Update
    };
    Ok(CheckReport {
        current: current.clone(),
        latest,
        path,
        advisories,
        status,
    })
}

#[cfg(test)]
mod tests;
