//! `ferry pack` (SPEC §3.6, §4): a signed workspace into a bundle.
//!
//! Every file is hashed while it is copied and checked against the
//! manifest; a workspace whose files do not match is refused, and nothing
//! is left behind (output goes to a temporary name, renamed at the end).
//! The tar writer is reproducible: entries in a fixed order (manifest,
//! signatures sorted by name, `ferry/SHA256SUMS`, then files in manifest
//! order, each preceded by its parent directories), mode 0644/0755, uid/gid
//! 0, empty owner names, mtime = the manifest's `created`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ferry_manifests::digest::Sha256Digest;
use serde::Serialize;

use super::BUF;
use super::format::{Format, Split};
use super::source::{Counting, Workspace, load_workspace, partial_name};
use super::tar_write::{gz_writer, write_tar};
use super::volumes::{SplitWriter, VolumeSet};
use crate::error::{Error, Result};

/// How to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The carrier.
    pub format: Format,
    /// Cut the archive into volumes of at most this size (tar, tar.gz).
    pub split: Option<Split>,
    /// Reed–Solomon parity volumes to add (needs `split`).
    pub parity: usize,
    /// Where the payload bytes packed are reported (issue 16).
    pub progress: ferry_durable::progress::ProgressHandle,
}

/// What `pack` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// The bundle (file, directory, or `NAME.volumes.json`).
    pub out: PathBuf,
    /// The carrier.
    pub format: Format,
    /// SHA-256 of the manifest.
    pub manifest_sha256: Sha256Digest,
    /// Files packed (besides manifest and signatures).
    pub files: usize,
    /// Signatures packed.
    pub signatures: usize,
    /// Bytes of payload packed.
    pub payload_bytes: u64,
    /// Bytes written (archive size; for dir the payload).
    pub bytes_written: u64,
    /// Volumes, when split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<VolumeSet>,
}

/// The first file a pack into `out` would create that already exists:
/// `out` itself, or with `--split` its volumes (`NAME.000`…), parity
/// volumes (`NAME.p00`…) and `NAME.volumes.json` (issue 10: the error
/// named `out`, not the volume in the way).
fn existing_output(out: &Path, split: bool) -> Option<std::path::PathBuf> {
    if out.symlink_metadata().is_ok() {
        return Some(out.to_path_buf());
    }
    if !split {
        return None;
    }
    let name = out.file_name()?.to_string_lossy().to_string();
    let dir = crate::fsutil::parent_dir(out);
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.strip_prefix(&name)
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|r| {
                    r == "volumes.json"
                        || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
                        || (r.len() == 3
                            && r.starts_with('p')
                            && r[1..].bytes().all(|b| b.is_ascii_digit()))
                })
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Packs the signed workspace `ws` into `out`.
///
/// # Errors
/// [`Error::Refused`] when the workspace does not match its manifest or
/// is not signed; [`Error::Io`] when writing fails. Nothing is left behind
/// on failure.
pub fn pack(ws: &Path, out: &Path, opts: &PackOptions) -> Result<PackReport> {
    let mut w = load_workspace(ws)?;
    check_options(out, opts)?;
    let payload: u64 = w.manifest.total_size();
    w.progress = opts.progress.clone();
    opts.progress.start("pack", payload);
    let mut report = PackReport {
        out: out.to_path_buf(),
        format: opts.format,
        manifest_sha256: w.manifest_sha256,
        files: w.manifest.files.len(),
        signatures: w.signatures,
        payload_bytes: payload,
        bytes_written: 0,
        volumes: None,
    };
    match (opts.format, opts.split) {
        (Format::Dir, _) => {
            report.bytes_written = super::dir::write_dir(&w, out)?;
        }
        (Format::Zip, _) => {
            report.bytes_written = super::zip_write::write_zip(&w, out)?;
        }
        (fmt, Some(split)) => {
            let set = write_volumes(&w, out, fmt, split, opts.parity)?;
            report.bytes_written = set.total_size;
            report.out = super::volumes::volumes_json_path(out);
            report.volumes = Some(set);
        }
        (fmt, None) => {
            report.bytes_written = write_archive(&w, out, fmt)?;
        }
    }
    opts.progress.finish();
    Ok(report)
}

/// Refuses options that do not go together, and an output (or one of its
/// volumes) that already exists.
fn check_options(out: &Path, opts: &PackOptions) -> Result<()> {
    if opts.parity > 0 && opts.split.is_none() {
        return Err(
            ferry_manifests::Error::config("--parity", "parity volumes need --split").into(),
        );
    }
    if opts.split.is_some() && matches!(opts.format, Format::Zip | Format::Dir) {
        return Err(ferry_manifests::Error::config(
            "--split",
            "only tar and tar.gz bundles can be split into volumes",
        )
        .into());
    }
    if let Some(existing) = existing_output(out, opts.split.is_some()) {
        return Err(Error::io(
            &existing,
            "create",
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "already exists (an output of --out {}); nothing was written: remove it or choose another --out",
                    out.display()
                ),
            ),
        ));
    }
    Ok(())
}

/// The tar stream of the workspace into `dest`, gzipped for tar.gz.
fn write_tar_as(w: &Workspace, fmt: Format, dest: &mut dyn Write, out: &Path) -> Result<()> {
    if fmt == Format::TarGz {
        let mut gz = gz_writer(dest);
        write_tar(w, &mut gz, out)?;
        gz.finish().map_err(|e| Error::io(out, "write", e))?;
    } else {
        write_tar(w, dest, out)?;
    }
    Ok(())
}

/// A tar or tar.gz cut into volumes (with parity when asked); the volumes
/// written so far are removed on failure.
fn write_volumes(
    w: &Workspace,
    out: &Path,
    fmt: Format,
    split: Split,
    parity: usize,
) -> Result<VolumeSet> {
    let mut sw = SplitWriter::new(out, split.0)?;
    if let Err(e) = write_tar_as(w, fmt, &mut sw, out) {
        sw.abandon();
        return Err(e);
    }
    sw.finish(fmt, w.manifest_sha256, parity)
}

/// A single tar or tar.gz file, written under a temporary name, synced,
/// then renamed to `out`. Returns the bytes written.
fn write_archive(w: &Workspace, out: &Path, fmt: Format) -> Result<u64> {
    let tmp = partial_name(out);
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, "create", e))?;
    let mut cw = Counting {
        inner: BufWriter::with_capacity(BUF, file),
        n: 0,
    };
    let mut written = 0u64;
    let res = (|| -> Result<()> {
        write_tar_as(w, fmt, &mut cw, out)?;
        written = cw.n;
        let f = cw
            .inner
            .into_inner()
            .map_err(|e| Error::io(&tmp, "write", e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&tmp, "fsync", e))?;
        std::fs::rename(&tmp, out).map_err(|e| Error::io(out, "rename", e))?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(written)
}
