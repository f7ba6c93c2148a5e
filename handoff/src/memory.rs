//! Hosts remember (SPEC §5 rule 7): `ferry-handoff` keeps, per mirror, the
//! highest index sequence it accepted and refuses an older signed index —
//! a replayed or frozen mirror (an old, validly signed copy in which a
//! release later yanked is not yet yanked) — with exit 1.
//!
//! One small JSON document per product and mirror
//! (`ferry.host-memory/v1`), in a folder the binary chooses (`--state`),
//! written atomically after each accepted index.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::error::{Error, Result};

use crate::VerifiedMirror;

/// The schema.
pub const SCHEMA: &str = "ferry.host-memory/v1";

/// What a host remembers of one mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: String,
    /// The mirror (URL without credentials, or folder).
    pub mirror: String,
    /// The highest index sequence accepted.
    pub index_sequence: u64,
    /// SHA-256 of that index.
    pub index_sha256: Sha256Digest,
    /// When it was accepted.
    pub accepted: Timestamp,
}

/// The file for `mirror` of `product` in `dir`.
#[must_use]
pub fn file_for(dir: &Path, product: &str, mirror: &str) -> PathBuf {
    let key = Sha256Digest::of(mirror.trim_end_matches('/').as_bytes());
    dir.join(format!("{product}-{}.json", &key.to_string()[..16]))
}

/// Checks `mirror` against what this host accepted before from the same
/// place, then remembers it when it is newer.
///
/// # Errors
/// [`Error::Refused`] (exit 1) for an older index than one accepted
/// before; I/O errors naming the state file.
pub fn check_and_remember(dir: &Path, mirror: &VerifiedMirror, now: Timestamp) -> Result<()> {
    let product = mirror.index.product.to_string();
    let path = file_for(dir, &product, &mirror.location);
    let seen: Option<Memory> = match ferry_manifests::minisig::read_small_bytes(&path, 64 * 1024) {
        Ok(bytes) => Some(
            ferry_manifests::json::parse_document(&bytes, &path.display().to_string(), SCHEMA)
                .map_err(Error::from)?,
        ),
        Err(ferry_manifests::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            None
        }
        Err(e) => return Err(e.into()),
    };
    let seq = mirror.index.sequence;
    if let Some(m) = &seen {
        if seq < m.index_sequence {
            return Err(Error::refused(
                mirror.location.clone(),
                format!(
                    "serves signed index sequence {seq}, older than sequence {} this host accepted from it on {}: a replayed or frozen copy of the mirror (suspect whoever serves it), or a mirror restored from an old backup; ask the mirror admin to publish again. Nothing was installed. (Host memory: {})",
                    m.index_sequence,
                    m.accepted,
                    path.display()
                ),
            ));
        }
        if seq == m.index_sequence {
            if mirror.index_sha256 != m.index_sha256 {
                return Err(Error::refused(
                    mirror.location.clone(),
                    format!(
                        "serves a different signed index with the same sequence {seq} this host accepted before: two indexes with one sequence (equivocation); ask the mirror admin. Nothing was installed."
                    ),
                ));
            }
            return Ok(());
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create the state folder", e))?;
    let memory = Memory {
        schema: SCHEMA.into(),
        product,
        mirror: mirror.location.clone(),
        index_sequence: seq,
        index_sha256: mirror.index_sha256,
        accepted: now,
    };
    ferry_mirror_layout::fsutil::write_atomic(
        &path,
        &ferry_manifests::json::to_document_bytes(&memory),
    )
}
