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

use ferry_manifests::decide::{self, Counter, Freshness, Rule, Seen};
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
    let offered = Seen {
        value: seq,
        sha256: Some(mirror.index_sha256),
    };
    let accepted = seen.as_ref().map(|m| Seen {
        value: m.index_sequence,
        sha256: Some(m.index_sha256),
    });
    let fresh = decide::freshness(
        &mirror.location,
        Counter::IndexSequence,
        &offered,
        accepted.as_ref(),
    )
    .map_err(|r| {
        let since = seen.as_ref().map(|m| m.accepted.to_string()).unwrap_or_default();
        let advice = match *r.rule {
            Rule::Rollback { .. } => format!(
                "this host accepted the newer one from this mirror on {since}: a replayed or frozen copy of the mirror (suspect whoever serves it), or a mirror restored from an old backup; ask the mirror admin to publish again. Nothing was installed. (Host memory: {})",
                path.display()
            ),
            _ => "two indexes with one sequence; ask the mirror admin. Nothing was installed.".into(),
        };
        ferry_manifests::Error::from(r.advise(advice))
    })?;
    if fresh == Freshness::Repeat {
        return Ok(());
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
    ferry_durable::fsutil::write_atomic(&path, &ferry_manifests::json::to_document_bytes(&memory))
}
