//! Small helpers of the checker: size limits for documents read whole,
//! entry names as bundle paths, exact small reads.

use std::io::Read;

use ferry_manifests::manifest::SIGNATURES_DIR;
use ferry_manifests::path::BundlePath;

use super::io_err;
use crate::error::{Error, Result};

/// A small document read whole must be at most `limit` bytes.
pub(super) fn check_small(what: &str, size: u64, limit: u64) -> Result<()> {
    if size > limit {
        return Err(ferry_manifests::Error::DocumentTooLarge {
            doc: what.to_string(),
            limit,
        }
        .into());
    }
    Ok(())
}

pub(super) fn is_signature(p: &BundlePath) -> bool {
    p.parent().is_some_and(|d| d.as_str() == SIGNATURES_DIR) && p.file_name().ends_with(".minisig")
}

/// A name from a carrier, as a bundle path (SPEC §3.1), refusing anything
/// that would need cleaning (ATTACKS B1–B3, B19, B20).
pub(crate) fn bundle_path(name: &str) -> Result<BundlePath> {
    BundlePath::new(name).map_err(|e| {
        Error::bundle(
            format!(
                "entry \"{}\"",
                ferry_manifests::error::escape_untrusted(name)
            ),
            format!("{e}"),
        )
    })
}

pub(super) fn read_exact_small(reader: &mut dyn Read, size: u64, what: &str) -> Result<Vec<u8>> {
    // `size` is within the caller's limit (check_small): the exact size,
    // not read_to_end's doublings (a 30 MB manifest grew a 64 MiB buffer).
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    reader
        .take(size)
        .read_to_end(&mut out)
        .map_err(|e| io_err(e, what))?;
    if out.len() as u64 != size {
        return Err(Error::bundle(
            what,
            format!("truncated: {} of {size} bytes present", out.len()),
        ));
    }
    Ok(out)
}
