//! What `ferry pack` reads: the signed workspace, checked enough to pack
//! (every file hashed while it is copied, against the manifest), and the
//! temporary output name every writer uses.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ferry_manifests::digest::{Sha256Digest, Sha256Hasher};
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::manifest::{MANIFEST_PATH, Manifest, SHA256SUMS_PATH, SIGNATURES_DIR};
use ferry_manifests::minisig::{MAX_SIGNATURE_BYTES, read_small_bytes};
use ferry_manifests::path::BundlePath;

use super::MAX_SIGNATURES;
use crate::error::{Error, Result};

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
    /// Where the bytes copied are reported.
    pub(crate) progress: ferry_durable::progress::ProgressHandle,
}

pub(crate) fn load_workspace(ws: &Path) -> Result<Workspace> {
    let mpath = ws.join(MANIFEST_PATH);
    let bytes = read_small_bytes(&mpath, MAX_DOCUMENT_BYTES)?;
    let manifest = Manifest::parse(&bytes)?;
    let manifest_sha256 = Sha256Digest::of(&bytes);
    let sigs = read_signatures(ws)?;
    // The trust chain travels first (SPEC §3.11), so a manifest signed by
    // keys a new version names verifies where the bundle brings them.
    let mut items = trust_items(ws)?;
    items.push(Item {
        path: BundlePath::new(MANIFEST_PATH)?,
        size: bytes.len() as u64,
        source: Source::Bytes(bytes),
        sha256: None,
    });
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
        progress: Default::default(),
    })
}

/// The workspace's trust chain (`ferry/trust/`, put there by `ferry sign
/// --trust-chain`), every file of it, in name order.
fn trust_items(ws: &Path) -> Result<Vec<Item>> {
    let dir = ws.join(ferry_manifests::trust::BUNDLE_DIR);
    let mut out = Vec::new();
    for c in ferry_manifests::trust::read_dir(&dir)? {
        let docs = std::iter::once((ferry_manifests::trust::doc_name(c.version), c.bytes));
        let sigs = c.signatures.into_iter().map(|s| {
            let name = Path::new(&s.name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, s.bytes)
        });
        let roots = c.sigstore_root.into_iter().map(|r| {
            (
                format!("sigstore/{}.trusted_root.json", c.version),
                r.as_ref().clone(),
            )
        });
        for (rel, bytes) in docs.chain(sigs).chain(roots) {
            out.push(Item {
                path: BundlePath::new(&format!("{}/{rel}", ferry_manifests::trust::BUNDLE_DIR))?,
                size: bytes.len() as u64,
                source: Source::Bytes(bytes),
                sha256: None,
            });
        }
    }
    Ok(out)
}

/// The workspace's manifest signatures (`*.minisig` regular files, never
/// symlinks), sorted by name: at least one, at most [`MAX_SIGNATURES`].
fn read_signatures(ws: &Path) -> Result<Vec<(String, Vec<u8>)>> {
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
    Ok(sigs)
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
pub(crate) fn copy_item(
    w: &Workspace,
    item: &Item,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<()> {
    match &item.source {
        Source::Bytes(b) => out
            .write_all(b)
            .map_err(|e| Error::io(out_name, "write", e)),
        Source::File(p) => {
            let mut f = open_item(p, item.size, &item.path)?;
            let mut counted = w.progress.reader(&mut f);
            let (d, n) = hash_while_copying(&mut counted, item, p, out, out_name)?;
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
    f: &mut dyn Read,
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

/// A writer that counts the bytes passing through it (pack's output, the
/// mirror's `published.json` against the readers' limit).
#[derive(Debug)]
pub struct Counting<W> {
    /// Where the bytes go.
    pub inner: W,
    /// How many went.
    pub n: u64,
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
pub(crate) fn partial_name(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".ferry-partial");
    PathBuf::from(s)
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
