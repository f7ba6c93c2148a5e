//! Opening and checking one volume file, for the reader of split bundles
//! and for parity repair alike.

use std::fs::File;
use std::path::Path;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::volumes::VolumeEntry;

use crate::error::{Error, Result};

/// Opens a volume: a regular file (not a symlink) of the listed size.
pub(crate) fn open_volume(path: &Path, v: &VolumeEntry) -> Result<File> {
    let meta = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::volume(
                &v.name,
                "missing: copy it again from the source medium, or use --repair with parity volumes",
            ));
        }
        Err(e) => return Err(Error::io(path, "stat", e)),
    };
    if !meta.is_file() {
        return Err(Error::volume(
            &v.name,
            "not a regular file (symlinks and special files are refused)",
        ));
    }
    let f = ferry_manifests::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let len = f.metadata().map_err(|e| Error::io(path, "stat", e))?.len();
    if len != v.size {
        return Err(Error::volume(
            &v.name,
            format!(
                "size mismatch (expected {} bytes, got {len}): the copy is truncated or damaged; copy it again, or use --repair with parity volumes",
                v.size
            ),
        ));
    }
    Ok(f)
}

pub(crate) fn check_volume(v: &VolumeEntry, d: Sha256Digest, n: u64) -> Result<()> {
    if n != v.size {
        return Err(Error::volume(
            &v.name,
            format!(
                "size mismatch (expected {} bytes, got {n}): copy it again, or use --repair with parity volumes",
                v.size
            ),
        ));
    }
    if d != v.sha256 {
        return Err(Error::volume(
            &v.name,
            format!(
                "sha256 mismatch (expected {}, got {}): the copy is damaged; copy it again, or use --repair with parity volumes",
                v.sha256, d
            ),
        ));
    }
    Ok(())
}
