//! The reproducible tar writer: entries in a fixed order (manifest,
//! signatures sorted by name, `ferry/SHA256SUMS`, then files in manifest
//! order, each preceded by its parent directories), mode 0644/0755, uid/gid
//! 0, empty owner names, mtime = the manifest's `created`; and the gzip
//! framing around it (fixed header).

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use super::source::{Workspace, copy_item};
use crate::error::{Error, Result};

/// Writes the reproducible tar stream of a workspace to `out`.
pub(crate) fn write_tar(w: &Workspace, out: &mut dyn Write, out_name: &Path) -> Result<()> {
    let mtime = u64::try_from(w.manifest.created.unix()).unwrap_or(0);
    let mut dirs: HashSet<String> = HashSet::new();
    let werr = |e: std::io::Error| Error::io(out_name, "write", e);
    for item in &w.items {
        for a in item.path.ancestors() {
            if dirs.insert(a.as_str().to_string()) {
                let name = format!("{}/", a.as_str());
                write_header(out, &name, 0, 0o755, tar::EntryType::Directory, mtime)
                    .map_err(werr)?;
            }
        }
        write_header(
            out,
            item.path.as_str(),
            item.size,
            0o644,
            tar::EntryType::Regular,
            mtime,
        )
        .map_err(werr)?;
        copy_item(w, item, out, out_name)?;
        let pad = (512 - item.size % 512) % 512;
        out.write_all(&[0u8; 512][..usize::try_from(pad).unwrap_or(0)])
            .map_err(werr)?;
    }
    out.write_all(&[0u8; 1024]).map_err(werr)?;
    Ok(())
}

/// One ustar header (plus a PAX header when the name or size does not fit).
fn write_header(
    out: &mut dyn Write,
    name: &str,
    size: u64,
    mode: u32,
    kind: tar::EntryType,
    mtime: u64,
) -> std::io::Result<()> {
    const USTAR_MAX: u64 = 0o777_7777_7777;
    let mut pax: Vec<(&str, String)> = Vec::new();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    if size > USTAR_MAX {
        pax.push(("size", size.to_string()));
        h.set_size(0);
        h.as_mut_bytes()[124..136].copy_from_slice(b"77777777777\0");
    } else {
        h.set_size(size);
    }
    let bytes = name.as_bytes();
    let ustar = h.as_ustar_mut().expect("new_ustar");
    if bytes.len() <= 100 {
        ustar.name[..bytes.len()].copy_from_slice(bytes);
    } else if let Some(split) = (0..bytes.len())
        .rev()
        .find(|&i| bytes[i] == b'/' && i <= 155 && bytes.len() - i - 1 <= 100 && i > 0)
    {
        ustar.prefix[..split].copy_from_slice(&bytes[..split]);
        ustar.name[..bytes.len() - split - 1].copy_from_slice(&bytes[split + 1..]);
    } else {
        pax.push(("path", name.to_string()));
    }
    if !pax.is_empty() {
        let mut data = Vec::new();
        for (k, v) in &pax {
            let body = format!(" {k}={v}\n");
            // The length counts its own digits.
            let mut len = body.len() + 1;
            while len.to_string().len() + body.len() != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        let mut x = tar::Header::new_ustar();
        x.set_entry_type(tar::EntryType::XHeader);
        x.set_mode(0o644);
        x.set_uid(0);
        x.set_gid(0);
        x.set_mtime(mtime);
        x.set_size(data.len() as u64);
        x.set_cksum();
        out.write_all(x.as_bytes())?;
        out.write_all(&data)?;
        let pad = (512 - data.len() % 512) % 512;
        out.write_all(&[0u8; 512][..pad])?;
    }
    h.set_cksum();
    out.write_all(h.as_bytes())
}
pub(crate) fn gz_writer<W: Write>(w: W) -> flate2::write::GzEncoder<W> {
    // Fixed header (no name, mtime 0): the same tar gives the same bytes.
    flate2::GzBuilder::new()
        .mtime(0)
        .write(w, flate2::Compression::fast())
}
