//! The `zip` carrier's writer: stored entries, fixed timestamps, no
//! directory entries.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::source::{Workspace, copy_item, partial_name};
use crate::error::{Error, Result};

/// Writes a workspace as a zip archive into `out` (via a temporary name).
pub(crate) fn write_zip(w: &Workspace, out: &Path) -> Result<u64> {
    let tmp = partial_name(out);
    let file = File::options()
        .write(true)
        .read(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, "create", e))?;
    let res = (|| -> Result<u64> {
        let created = time::OffsetDateTime::from_unix_timestamp(w.manifest.created.unix())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let dt = zip::DateTime::from_date_and_time(
            u16::try_from(created.year())
                .unwrap_or(1980)
                .clamp(1980, 2107),
            created.month() as u8,
            created.day(),
            created.hour(),
            created.minute(),
            created.second(),
        )
        .unwrap_or_default();
        let mut z = zip::ZipWriter::new(BufWriter::with_capacity(super::BUF, file));
        let zerr = |e: zip::result::ZipError| {
            Error::bundle(out.display().to_string(), format!("zip: {e}"))
        };
        for item in &w.items {
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .last_modified_time(dt)
                .unix_permissions(0o644)
                .large_file(item.size >= 0xFFFF_FFFF);
            z.start_file(item.path.as_str(), opts).map_err(zerr)?;
            copy_item(w, item, &mut z, &tmp)?;
        }
        let bw = z.finish().map_err(zerr)?;
        let f = bw
            .into_inner()
            .map_err(|e| Error::io(&tmp, "write", e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&tmp, "fsync", e))?;
        let len = f.metadata().map_err(|e| Error::io(&tmp, "stat", e))?.len();
        std::fs::rename(&tmp, out).map_err(|e| Error::io(out, "rename", e))?;
        Ok(len)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
