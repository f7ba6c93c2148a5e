//! The `NAME.volumes.json` document of a split bundle (`ferry.volumes/v1`,
//! SPEC §3.6): the order, sizes and digests of the volumes and of the
//! parity volumes. It is not signed: the signed manifest inside the stream
//! is the real check, so parsing refuses anything `ferry pack` would not
//! write (names that are not plain file names, parity geometry).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::json;

/// The schema of `NAME.volumes.json`.
pub const VOLUMES_SCHEMA: &str = "ferry.volumes/v1";

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeEntry {
    /// File name, beside `volumes.json`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
}

/// Reed–Solomon parity over the data volumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParityInfo {
    /// Shard size: the largest data volume rounded up to even; shorter
    /// volumes count as zero-padded to it.
    pub shard_size: u64,
    /// The parity volumes (`NAME.p00`, …), each `shard_size` bytes.
    pub volumes: Vec<VolumeEntry>,
}

/// `NAME.volumes.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSet {
    /// Always [`VOLUMES_SCHEMA`].
    pub schema: String,
    /// `tar` or `tar.gz`.
    pub format: String,
    /// SHA-256 of the manifest inside the stream.
    pub manifest_sha256: Sha256Digest,
    /// Sum of the data volumes' sizes.
    pub total_size: u64,
    /// The split size (every volume but the last has exactly this size).
    pub volume_size: u64,
    /// The data volumes, in stream order.
    pub volumes: Vec<VolumeEntry>,
    /// Parity volumes, if any.
    #[serde(default)]
    pub parity: Option<ParityInfo>,
}

impl VolumeSet {
    /// Reads and checks a `volumes.json` (at most 16 MiB).
    ///
    /// # Errors
    /// Unreadable (exit 3) or malformed (exit 1).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::minisig::read_small_bytes(path, json::MAX_DOCUMENT_BYTES)?;
        Self::parse(&bytes, &path.display().to_string())
    }

    /// Parses and checks `volumes.json` bytes; `doc` names the file in errors.
    ///
    /// # Errors
    /// [`Error::Format`] (exit 1).
    pub fn parse(bytes: &[u8], doc: &str) -> Result<Self> {
        let set: VolumeSet = json::parse_document(bytes, doc, VOLUMES_SCHEMA)?;
        let mut names = std::collections::HashSet::new();
        let all = set
            .volumes
            .iter()
            .chain(set.parity.iter().flat_map(|p| p.volumes.iter()));
        for v in all {
            let ok = !v.name.is_empty()
                && v.name.len() <= 255
                && v.name != "."
                && v.name != ".."
                && v.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
            if !ok {
                return Err(Error::format(
                    doc,
                    "volumes",
                    format!(
                        "volume name \"{}\" is not a plain file name (refused)",
                        crate::error::escape_untrusted(&v.name)
                    ),
                ));
            }
            if !names.insert(v.name.clone()) {
                return Err(Error::format(
                    doc,
                    "volumes",
                    format!("volume {} listed twice", v.name),
                ));
            }
        }
        if set.volumes.is_empty() {
            return Err(Error::format(doc, "volumes", "no volumes listed"));
        }
        let sum = set
            .volumes
            .iter()
            .try_fold(0u64, |a, v| a.checked_add(v.size));
        if sum != Some(set.total_size) {
            return Err(Error::format(
                doc,
                "volumes",
                "total_size is not the sum of the volumes",
            ));
        }
        // Parity geometry is what `ferry pack` writes, nothing else: it
        // drives `--repair`'s stripe loop, and this file is not signed.
        if let Some(p) = &set.parity {
            let max = set.volumes.iter().map(|v| v.size).max().unwrap_or(0);
            if Some(p.shard_size) != max.checked_add(max & 1) {
                return Err(Error::format(
                    doc,
                    "volumes",
                    format!(
                        "parity shard_size {} is not the largest volume's size rounded up to even (refused)",
                        p.shard_size
                    ),
                ));
            }
            if let Some(v) = p.volumes.iter().find(|v| v.size != p.shard_size) {
                return Err(Error::format(
                    doc,
                    "volumes",
                    format!(
                        "parity volume {} is {} bytes, not the shard_size {} (refused)",
                        v.name, v.size, p.shard_size
                    ),
                ));
            }
        }
        if set.format != "tar" && set.format != "tar.gz" {
            return Err(Error::format(
                doc,
                "volumes",
                format!(
                    "unknown format \"{}\"",
                    crate::error::escape_untrusted(&set.format)
                ),
            ));
        }
        Ok(set)
    }
}
