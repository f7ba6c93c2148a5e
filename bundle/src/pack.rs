//! `ferry pack` (SPEC §3.6, §4): a signed workspace into a bundle.
//!
//! Every file is hashed while it is copied and checked against the
//! manifest; a workspace whose files do not match is refused, and nothing
//! is left behind (output goes to a temporary name, renamed at the end).
//! The tar writer is reproducible: entries in a fixed order (manifest,
//! signatures sorted by name, `ferry/SHA256SUMS`, then files in manifest
//! order, each preceded by its parent directories), mode 0644/0755, uid/gid
//! 0, empty owner names, mtime = the manifest's `created`.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use ferry_manifests::digest::{Sha256Digest, Sha256Hasher};
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::manifest::{MANIFEST_PATH, Manifest, SHA256SUMS_PATH, SIGNATURES_DIR};
use ferry_manifests::minisig::{MAX_SIGNATURE_BYTES, read_small_bytes};
use ferry_manifests::path::BundlePath;
use serde::Serialize;

use super::volumes::{SplitWriter, VolumeSet};
use super::{BUF, MAX_SIGNATURES};
use crate::error::{Error, Result};

/// The carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Uncompressed ustar/PAX (default; reproducible; one-pass verify).
    Tar,
    /// The same tar, gzip-compressed.
    #[serde(rename = "tar.gz")]
    TarGz,
    /// A zip archive (stored entries, fixed timestamps).
    Zip,
    /// A plain directory tree.
    Dir,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "tar" => Ok(Format::Tar),
            "tar.gz" | "tgz" => Ok(Format::TarGz),
            "zip" => Ok(Format::Zip),
            "dir" => Ok(Format::Dir),
            _ => Err(format!("unknown format \"{s}\" (tar, tar.gz, zip, dir)")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
            Format::Dir => "dir",
        })
    }
}

/// `--split SIZE|fat32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split(pub u64);

impl Split {
    /// FAT32's largest file: 4 GiB − 1 byte.
    pub const FAT32: Split = Split(4 * 1024 * 1024 * 1024 - 1);
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("fat32") {
            return Ok(Split::FAT32);
        }
        let (num, mult) = match s.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => {
                let m: u64 = match c.to_ascii_uppercase() {
                    'K' => 1 << 10,
                    'M' => 1 << 20,
                    'G' => 1 << 30,
                    'T' => 1 << 40,
                    _ => return Err(format!("bad size \"{s}\" (e.g. 100M, 4G, fat32)")),
                };
                (&s[..i], m)
            }
            _ => (s, 1),
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("bad size \"{s}\" (e.g. 100M, 4G, fat32)"))?;
        let v = n
            .checked_mul(mult)
            .ok_or_else(|| format!("size \"{s}\" is too large"))?;
        if v < 1024 {
            return Err(format!("split size \"{s}\" is below 1024 bytes"));
        }
        Ok(Split(v))
    }
}

/// How to pack.
#[derive(Debug, Clone, Copy)]
pub struct PackOptions {
    /// The carrier.
    pub format: Format,
    /// Cut the archive into volumes of at most this size (tar, tar.gz).
    pub split: Option<Split>,
    /// Reed–Solomon parity volumes to add (needs `split`).
    pub parity: usize,
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

/// One thing to pack, in order.
pub(crate) struct Item {
    pub(crate) path: BundlePath,
    pub(crate) source: Source,
    pub(crate) size: u64,
    pub(crate) sha256: Option<Sha256Digest>,
}

pub(crate) enum Source {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// The signed workspace, read and checked enough to pack.
pub(crate) struct Workspace {
    pub(crate) manifest: Manifest,
    pub(crate) manifest_sha256: Sha256Digest,
    pub(crate) items: Vec<Item>,
    pub(crate) signatures: usize,
}

pub(crate) fn load_workspace(ws: &Path) -> Result<Workspace> {
    let mpath = ws.join(MANIFEST_PATH);
    let bytes = read_small_bytes(&mpath, MAX_DOCUMENT_BYTES)?;
    let manifest = Manifest::parse(&bytes)?;
    let manifest_sha256 = Sha256Digest::of(&bytes);
    let sig_dir = ws.join(SIGNATURES_DIR);
    let mut sigs: Vec<(String, Vec<u8>)> = Vec::new();
    match std::fs::read_dir(&sig_dir) {
        Ok(rd) => {
            for e in rd {
                let e = e.map_err(|e| Error::io(&sig_dir, "list", e))?;
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".minisig") {
                    continue;
                }
                let meta = e
                    .path()
                    .symlink_metadata()
                    .map_err(|err| Error::io(e.path(), "stat", err))?;
                if !meta.is_file() {
                    return Err(Error::bundle(
                        e.path().display().to_string(),
                        "not a regular file (symlinks are never packed)",
                    ));
                }
                let b = read_small_bytes(&e.path(), MAX_SIGNATURE_BYTES as u64)?;
                sigs.push((name, b));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&sig_dir, "list", e)),
    }
    if sigs.is_empty() {
        return Err(Error::refused(
            ws.join(SIGNATURES_DIR).display().to_string(),
            "no manifest signatures: sign the workspace with `ferry sign` first",
        ));
    }
    if sigs.len() > MAX_SIGNATURES {
        return Err(Error::refused(
            sig_dir.display().to_string(),
            format!("more than {MAX_SIGNATURES} signatures"),
        ));
    }
    sigs.sort();
    let mut items = vec![Item {
        path: BundlePath::new(MANIFEST_PATH)?,
        size: bytes.len() as u64,
        source: Source::Bytes(bytes),
        sha256: None,
    }];
    let signatures = sigs.len();
    for (name, b) in sigs {
        items.push(Item {
            path: BundlePath::new(&format!("{SIGNATURES_DIR}/{name}"))?,
            size: b.len() as u64,
            source: Source::Bytes(b),
            sha256: None,
        });
    }
    let sums = manifest
        .files
        .iter()
        .filter(|f| f.path.as_str() == SHA256SUMS_PATH);
    let rest = manifest
        .files
        .iter()
        .filter(|f| f.path.as_str() != SHA256SUMS_PATH);
    for f in sums.chain(rest) {
        items.push(Item {
            path: f.path.clone(),
            source: Source::File(f.path.under(ws)),
            size: f.size,
            sha256: Some(f.sha256),
        });
    }
    Ok(Workspace {
        manifest,
        manifest_sha256,
        items,
        signatures,
    })
}

/// Opens a workspace file for packing: a regular file (never a symlink) of
/// exactly the manifest's size.
fn open_item(path: &Path, size: u64, name: &BundlePath) -> Result<File> {
    let meta = path
        .symlink_metadata()
        .map_err(|e| Error::io(path, "stat", e))?;
    if !meta.is_file() {
        return Err(Error::bundle(
            name.as_str(),
            format!(
                "{} is not a regular file in the workspace (symlinks and special files are never packed)",
                path.display()
            ),
        ));
    }
    let f = ferry_manifests::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let m = f.metadata().map_err(|e| Error::io(path, "stat", e))?;
    if !m.is_file() || m.len() != size {
        return Err(Error::refused(
            name.as_str(),
            format!(
                "the workspace file has {} bytes, the manifest says {size}: the workspace changed after signing; run `ferry sync` and `ferry sign` again",
                m.len()
            ),
        ));
    }
    Ok(f)
}

/// Streams an item into `out`, hashing as it goes, and checks it against
/// the manifest (no second read).
fn copy_item(item: &Item, out: &mut dyn Write, out_name: &Path) -> Result<()> {
    match &item.source {
        Source::Bytes(b) => out
            .write_all(b)
            .map_err(|e| Error::io(out_name, "write", e)),
        Source::File(p) => {
            let mut f = open_item(p, item.size, &item.path)?;
            let (d, n) = hash_while_copying(&mut f, item, p, out, out_name)?;
            if let Some(expected) = item.sha256 {
                ferry_manifests::digest::check(item.path.as_str(), (&expected, item.size), (&d, n))
                    .map_err(|e| {
                        Error::refused(
                            format!("workspace file {}", item.path),
                            format!("{e}; refusing to pack a workspace that does not match its signed manifest"),
                        )
                    })?;
            }
            Ok(())
        }
    }
}

/// Copies a workspace file into the bundle while a second thread hashes
/// the same buffers (SPEC §6: pack at about the speed of one SHA-256).
fn hash_while_copying(
    f: &mut File,
    item: &Item,
    src: &Path,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<(Sha256Digest, u64)> {
    use std::sync::mpsc::{channel, sync_channel};
    const CHUNK: usize = 1024 * 1024;
    const BUFFERS: usize = 6;
    let (tx, rx) = sync_channel::<Vec<u8>>(3);
    let (ret_tx, ret_rx) = channel::<Vec<u8>>();
    std::thread::scope(|sc| -> Result<(Sha256Digest, u64)> {
        let hasher = sc.spawn(move || {
            let mut h = Sha256Hasher::new();
            for b in rx {
                h.update(&b);
                let _ = ret_tx.send(b);
            }
            h.finish()
        });
        let mut allocated = 0;
        let mut total = 0u64;
        let mut failure = None;
        loop {
            let mut buf = match ret_rx.try_recv() {
                Ok(b) => b,
                Err(_) if allocated < BUFFERS => {
                    allocated += 1;
                    vec![0u8; CHUNK]
                }
                Err(_) => ret_rx.recv().unwrap_or_else(|_| vec![0u8; CHUNK]),
            };
            buf.resize(CHUNK, 0);
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    failure = Some(Error::io(src, "read", e));
                    break;
                }
            };
            total += n as u64;
            if total > item.size {
                failure = Some(Error::refused(
                    item.path.as_str(),
                    "the workspace file grew while it was packed",
                ));
                break;
            }
            if let Err(e) = out.write_all(&buf[..n]) {
                failure = Some(Error::io(out_name, "write", e));
                break;
            }
            buf.truncate(n);
            let _ = tx.send(buf);
        }
        drop(tx);
        let r = hasher
            .join()
            .map_err(|_| Error::bundle(item.path.as_str(), "hashing thread failed"))?;
        match failure {
            Some(e) => Err(e),
            None => Ok(r),
        }
    })
}

/// A counting writer.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

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
        copy_item(item, out, out_name)?;
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
    let w = load_workspace(ws)?;
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
    let payload: u64 = w.manifest.total_size();
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
            report.bytes_written = super::zip_read::write_zip(&w, out)?;
        }
        (fmt, Some(split)) => {
            let mut sw = SplitWriter::new(out, split.0)?;
            let res = (|| -> Result<()> {
                if fmt == Format::TarGz {
                    let mut gz = gz_writer(&mut sw);
                    write_tar(&w, &mut gz, out)?;
                    gz.finish().map_err(|e| Error::io(out, "write", e))?;
                } else {
                    write_tar(&w, &mut sw, out)?;
                }
                Ok(())
            })();
            if let Err(e) = res {
                sw.abandon();
                return Err(e);
            }
            let set = sw.finish(fmt, w.manifest_sha256, opts.parity)?;
            report.bytes_written = set.total_size;
            report.out = super::volumes::volumes_json_path(out);
            report.volumes = Some(set);
        }
        (fmt, None) => {
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
                if fmt == Format::TarGz {
                    let mut gz = gz_writer(&mut cw);
                    write_tar(&w, &mut gz, out)?;
                    gz.finish().map_err(|e| Error::io(out, "write", e))?;
                } else {
                    write_tar(&w, &mut cw, out)?;
                }
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
            report.bytes_written = written;
        }
    }
    Ok(report)
}

fn gz_writer<W: Write>(w: W) -> flate2::write::GzEncoder<W> {
    // Fixed header (no name, mtime 0): the same tar gives the same bytes.
    flate2::GzBuilder::new()
        .mtime(0)
        .write(w, flate2::Compression::fast())
}

pub(crate) fn partial_name(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".ferry-partial");
    PathBuf::from(s)
}

pub(crate) fn copy_item_to(item: &Item, out: &mut dyn Write, out_name: &Path) -> Result<()> {
    copy_item(item, out, out_name)
}

/// `ferry pack --since STATE.json`: the workspace's manifest must have
/// been written by `ferry sign --since` the same state, so it lists only
/// what that mirror lacks (the packer packs exactly the listed files).
///
/// # Errors
/// [`Error::Refused`] when the manifest is a full one or built on another state.
pub fn check_since(ws: &Path, since: &ferry_manifests::mirror_state::LoadedState) -> Result<()> {
    let bytes = read_small_bytes(&ws.join(MANIFEST_PATH), MAX_DOCUMENT_BYTES)?;
    let manifest = Manifest::parse(&bytes)?;
    match manifest.base_state_sha256 {
        Some(d) if d == since.sha256 => Ok(()),
        Some(d) => Err(Error::refused(
            MANIFEST_PATH,
            format!(
                "was signed for mirror state sha256 {d}, not this one ({}); sign again with `ferry sign --since` this state",
                since.sha256
            ),
        )),
        None => Err(Error::refused(
            MANIFEST_PATH,
            "is a full manifest; sign the workspace with `ferry sign --since STATE.json` first so it lists only what the mirror lacks",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes() {
        assert_eq!("100M".parse::<Split>().unwrap().0, 100 << 20);
        assert_eq!("4G".parse::<Split>().unwrap().0, 4 << 30);
        assert_eq!("fat32".parse::<Split>().unwrap().0, (4 << 30) - 1);
        assert_eq!("2048".parse::<Split>().unwrap().0, 2048);
        assert!("12".parse::<Split>().is_err());
        assert!("1X".parse::<Split>().is_err());
    }
}
