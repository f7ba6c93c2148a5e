//! OCI archives: a tar of an image layout (`oci-layout`, `blobs/…`,
//! `index.json`), streamed as the image is walked and checked, so what is
//! written is exactly the verified image. `skopeo copy oci-archive:FILE`
//! and `docker load` read it (SPEC §3.12, hand-off).

use std::io::{Read, Write};

use ferry_manifests::digest::OciDigest;

use crate::error::{Error, Result};
use crate::layout::{INDEX_FILE, LayoutIndex, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, blob_path};
use crate::model::Descriptor;
use crate::platform::PlatformName;
use crate::walk::{BlobSource, Reached, walk};

/// Writes the image `root` of `source` for `platform` as an OCI archive
/// to `out`, the root tagged `tag`: every blob checked while it is copied.
/// Entries are regular files 0644 and folders 0755, owner 0, mtime 0, in
/// walk order, so the same image gives the same bytes.
///
/// On an error the bytes written so far are not an image: the caller
/// removes them (write into a temp file, rename on success).
///
/// # Errors
/// The walk's errors naming the blob; [`Error::Io`] for `out`, named `what`.
pub fn write_archive<W: Write>(
    source: &dyn BlobSource,
    root: &OciDigest,
    platform: &PlatformName,
    tag: &str,
    out: W,
    what: &std::path::Path,
) -> Result<Vec<Reached>> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    let io = |e| Error::io(what, "write", e);
    append(
        &mut tar,
        OCI_LAYOUT_FILE,
        OCI_LAYOUT_CONTENT.len() as u64,
        OCI_LAYOUT_CONTENT,
    )
    .map_err(io)?;
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        tar.append_data(&mut h, dir, std::io::empty()).map_err(io)?;
    }
    let reached = walk(
        source,
        root,
        platform,
        &mut |r: &Reached, data: &mut dyn Read| {
            append(&mut tar, &blob_path(&r.digest), r.size, data)
                .map_err(|e| Error::io(what, "write", e))
        },
    )?;
    let first = reached.first().expect("a walk reaches its root");
    let index = LayoutIndex::single(
        &Descriptor::new(&first.media_type, first.digest, first.size),
        tag,
    );
    let bytes = index.to_bytes();
    append(&mut tar, INDEX_FILE, bytes.len() as u64, &bytes[..]).map_err(io)?;
    tar.into_inner().map_err(io)?.flush().map_err(io)?;
    Ok(reached)
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
) -> std::io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    tar.append_data(&mut h, path, data)
}
