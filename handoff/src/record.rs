//! The hand-off record, `handoff.json` (`ferry.handoff/v1`, SPEC §3.10):
//! written beside the artifact before the installer runs, then rewritten
//! (atomically) with the installer's exit code, the health checks and the
//! rollback's outcome, so it always says how far the hand-off got.

use std::path::Path;

use semver::Version;
use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;

use super::preflight::CheckResult;
use ferry_durable::fsutil::write_atomic;
use ferry_mirror_layout::error::Result;

/// The schema string of a hand-off record.
pub const SCHEMA: &str = "ferry.handoff/v1";

/// The record's file name, beside the artifact in `--to`.
pub const FILE_NAME: &str = "handoff.json";

/// `handoff.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffRecord {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// When the hand-off started.
    pub created: Timestamp,
    /// The mirror (directory or URL).
    pub mirror: String,
    /// The mirror index's publish sequence.
    pub index_sequence: u64,
    /// SHA-256 of the index bytes that verified.
    pub index_sha256: Sha256Digest,
    /// The channel followed.
    pub channel: Name,
    /// The installed profile.
    pub profile: Name,
    /// The running version.
    pub current: Version,
    /// The version handed over.
    pub target: Version,
    /// The upgrade path from `current` to the channel's latest (the target
    /// is its first hop when the hop is supported).
    pub upgrade_path: Vec<Version>,
    /// What was handed over.
    pub artifact: ArtifactRecord,
    /// Every pre-flight check with its measured value.
    pub checks: Vec<CheckResult>,
    /// The installer, once it ran.
    pub installer: Option<CommandRecord>,
    /// The post-upgrade checks, in order.
    pub health: Vec<HealthRecord>,
    /// The rollback, if it ran.
    pub rollback: Option<CommandRecord>,
    /// The step that failed (`installer`, `health-url URL`, `health-cmd`),
    /// or `null`.
    pub failed_step: Option<String>,
    /// `handed-over` (before the installer), `installed`, `rolled-back`,
    /// `rollback-failed`, `failed` (no rollback configured).
    pub status: String,
}

/// The artifact handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Its path on the mirror.
    pub mirror_path: String,
    /// The verified local file given to the installer.
    pub file: String,
    /// Platform.
    pub platform: Name,
    /// Format.
    pub format: Name,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
    /// The vendor signatures that verified (`minisign KEYID`, `sigstore SAN`).
    pub signatures: Vec<String>,
    /// For a container image: the reference by digest the installer got
    /// as `FERRY_IMAGE` (`file` is then the verified OCI archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A command ferry ran and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// The command line (run with `sh -c`).
    pub command: String,
    /// Its exit code (`null` if killed by a signal or never started).
    pub exit_code: Option<i32>,
    /// A note (`timed out after 60s`, `could not start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One post-upgrade check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    /// `url` or `cmd`.
    pub kind: String,
    /// The URL or command.
    pub target: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was seen (`HTTP 200 after 2 tries`, `exit 3`).
    pub detail: String,
}

/// Keeps the record of an earlier hand-off into the same `--to` (issue
/// 10: a second install overwrote it): `handoff.json` becomes
/// `handoff.<n>.json`, the first `n` not taken, never over an existing
/// file (a hard link that fails if the name exists, then the old name is
/// removed). Returns the new name of the earlier record, if there was one.
///
/// # Errors
/// [`ferry_mirror_layout::Error::Io`].
pub fn archive_previous(to: &Path) -> Result<Option<std::path::PathBuf>> {
    let current = to.join(FILE_NAME);
    if std::fs::symlink_metadata(&current).is_err() {
        return Ok(None);
    }
    for n in 1u32.. {
        let kept = to.join(format!("handoff.{n}.json"));
        match std::fs::hard_link(&current, &kept) {
            Ok(()) => {
                std::fs::remove_file(&current)
                    .map_err(|e| ferry_mirror_layout::Error::io(&current, "remove", e))?;
                ferry_durable::fsutil::sync_dir(to)?;
                return Ok(Some(kept));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(ferry_mirror_layout::Error::io(
                    &kept,
                    "keep the earlier record",
                    e,
                ));
            }
        }
    }
    Ok(None)
}

impl HandoffRecord {
    /// Writes the record atomically to `path`.
    ///
    /// # Errors
    /// [`ferry_mirror_layout::Error::Io`].
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("hand-off records serialize");
        bytes.push(b'\n');
        write_atomic(path, &bytes)
    }
}
