//! Split volumes (SPEC §3.6): `NAME.000`, `NAME.001`, … beside
//! `NAME.volumes.json` (`ferry.volumes/v1`).
//!
//! `volumes.json` is not signed by itself: the real check is the signed
//! manifest inside the stream. It only orders the volumes (never their file
//! names, ATTACKS B22) and localises damage: each volume's size and SHA-256
//! are checked while it streams, so a bad copy is reported by volume name.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use ferry_manifests::digest::{Sha256Digest, Sha256Hasher};
use ferry_manifests::json;
use serde::{Deserialize, Serialize};

use super::BUF;
use super::pack::Format;
use crate::error::{Error, Result};

/// The schema of `NAME.volumes.json`.
pub const VOLUMES_SCHEMA: &str = "ferry.volumes/v1";

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeEntry {
    /// File name, beside `volumes.json`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
}

/// Reed–Solomon parity over the data volumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParityInfo {
    /// Shard size: the largest data volume rounded up to even; shorter
    /// volumes count as zero-padded to it.
    pub shard_size: u64,
    /// The parity volumes (`NAME.p00`, …), each `shard_size` bytes.
    pub volumes: Vec<VolumeEntry>,
}

/// `NAME.volumes.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSet {
    /// Always [`VOLUMES_SCHEMA`].
    pub schema: String,
    /// `tar` or `tar.gz`.
    pub format: String,
    /// SHA-256 of the manifest inside the stream.
    pub manifest_sha256: Sha256Digest,
    /// Sum of the data volumes' sizes.
    pub total_size: u64,
    /// The split size (every volume but the last has exactly this size).
    pub volume_size: u64,
    /// The data volumes, in stream order.
    pub volumes: Vec<VolumeEntry>,
    /// Parity volumes, if any.
    #[serde(default)]
    pub parity: Option<ParityInfo>,
}

impl VolumeSet {
    /// Reads and checks a `volumes.json` (at most 16 MiB).
    ///
    /// # Errors
    /// Unreadable (exit 3) or malformed (exit 1).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = ferry_manifests::minisig::read_small_bytes(path, json::MAX_DOCUMENT_BYTES)?;
        let doc = path.display().to_string();
        let set: VolumeSet = json::parse_document(&bytes, &doc, VOLUMES_SCHEMA)?;
        let mut names = std::collections::HashSet::new();
        let all = set
            .volumes
            .iter()
            .chain(set.parity.iter().flat_map(|p| p.volumes.iter()));
        for v in all {
            let ok = !v.name.is_empty()
                && v.name.len() <= 255
                && v.name != "."
                && v.name != ".."
                && v.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
            if !ok {
                return Err(Error::bundle(
                    &doc,
                    format!(
                        "volume name \"{}\" is not a plain file name (refused)",
                        ferry_manifests::error::escape_untrusted(&v.name)
                    ),
                ));
            }
            if !names.insert(v.name.clone()) {
                return Err(Error::bundle(
                    &doc,
                    format!("volume {} listed twice", v.name),
                ));
            }
        }
        if set.volumes.is_empty() {
            return Err(Error::bundle(&doc, "no volumes listed"));
        }
        let sum = set
            .volumes
            .iter()
            .try_fold(0u64, |a, v| a.checked_add(v.size));
        if sum != Some(set.total_size) {
            return Err(Error::bundle(
                &doc,
                "total_size is not the sum of the volumes",
            ));
        }
        // Parity geometry is what `ferry pack` writes, nothing else: it
        // drives `--repair`'s stripe loop, and this file is not signed.
        if let Some(p) = &set.parity {
            let max = set.volumes.iter().map(|v| v.size).max().unwrap_or(0);
            if Some(p.shard_size) != max.checked_add(max & 1) {
                return Err(Error::bundle(
                    &doc,
                    format!(
                        "parity shard_size {} is not the largest volume's size rounded up to even (refused)",
                        p.shard_size
                    ),
                ));
            }
            if let Some(v) = p.volumes.iter().find(|v| v.size != p.shard_size) {
                return Err(Error::bundle(
                    &doc,
                    format!(
                        "parity volume {} is {} bytes, not the shard_size {} (refused)",
                        v.name, v.size, p.shard_size
                    ),
                ));
            }
        }
        if set.format != "tar" && set.format != "tar.gz" {
            return Err(Error::bundle(
                &doc,
                format!(
                    "unknown format \"{}\"",
                    ferry_manifests::error::escape_untrusted(&set.format)
                ),
            ));
        }
        Ok(set)
    }
}

/// `NAME.volumes.json` for an output `NAME`.
#[must_use]
pub fn volumes_json_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".volumes.json");
    PathBuf::from(s)
}

/// For a first volume `NAME.000`, its `NAME.volumes.json`.
#[must_use]
pub fn json_for_first_volume(p: &Path) -> Option<PathBuf> {
    let s = p.to_str()?;
    let base = s.strip_suffix(".000")?;
    Some(PathBuf::from(format!("{base}.volumes.json")))
}

fn volume_name(base: &Path, i: usize) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(format!(".{i:03}"));
    PathBuf::from(s)
}

/// Cuts a stream into volumes of at most `limit` bytes each, hashing each.
pub struct SplitWriter {
    base: PathBuf,
    limit: u64,
    cur: Option<(BufWriter<File>, Sha256Hasher, PathBuf)>,
    done: Vec<(PathBuf, VolumeEntry)>,
}

impl SplitWriter {
    /// Starts volumes named `base.000`, `base.001`, …
    ///
    /// # Errors
    /// Never yet; reserved.
    pub fn new(base: &Path, limit: u64) -> Result<Self> {
        Ok(SplitWriter {
            base: base.to_path_buf(),
            limit,
            cur: None,
            done: Vec::new(),
        })
    }

    fn close_current(&mut self) -> std::io::Result<()> {
        if let Some((w, h, path)) = self.cur.take() {
            let f = w
                .into_inner()
                .map_err(std::io::IntoInnerError::into_error)?;
            f.sync_all()?;
            let (sha256, size) = h.finish();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.done.push((path, VolumeEntry { name, size, sha256 }));
        }
        Ok(())
    }

    /// Removes everything written (after a failure).
    pub fn abandon(mut self) {
        if let Some((_, _, p)) = self.cur.take() {
            let _ = std::fs::remove_file(p);
        }
        for (p, _) in &self.done {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Closes the last volume, adds parity, writes `volumes.json` last
    /// (atomically), and returns the set.
    ///
    /// # Errors
    /// I/O errors; everything written is removed then.
    pub fn finish(
        mut self,
        format: Format,
        manifest_sha256: Sha256Digest,
        parity: usize,
    ) -> Result<VolumeSet> {
        let base = self.base.clone();
        if let Err(e) = self.close_current() {
            self.abandon();
            return Err(Error::io(&base, "write", e));
        }
        let volumes: Vec<VolumeEntry> = self.done.iter().map(|(_, v)| v.clone()).collect();
        let total_size = volumes.iter().map(|v| v.size).sum();
        let mut set = VolumeSet {
            schema: VOLUMES_SCHEMA.into(),
            format: format.to_string(),
            manifest_sha256,
            total_size,
            volume_size: self.limit,
            volumes,
            parity: None,
        };
        let dir = base
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        if parity > 0 {
            match super::parity::encode(&dir, &set, &base, parity) {
                Ok(p) => set.parity = Some(p),
                Err(e) => {
                    self.abandon();
                    return Err(e);
                }
            }
        }
        let json_path = volumes_json_path(&base);
        let tmp = super::pack::partial_name(&json_path);
        let res = (|| -> std::io::Result<()> {
            let mut f = File::options().write(true).create_new(true).open(&tmp)?;
            f.write_all(&json::to_document_bytes(&set))?;
            f.sync_all()?;
            std::fs::rename(&tmp, &json_path)
        })();
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            if let Some(p) = &set.parity {
                for v in &p.volumes {
                    let _ = std::fs::remove_file(dir.join(&v.name));
                }
            }
            self.abandon();
            return Err(Error::io(&json_path, "write", e));
        }
        Ok(set)
    }
}

impl Write for SplitWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self
            .cur
            .as_ref()
            .is_some_and(|(_, h, _)| h.len() >= self.limit)
        {
            self.close_current()?;
        }
        if self.cur.is_none() {
            let path = volume_name(&self.base, self.done.len());
            let f = File::options().write(true).create_new(true).open(&path)?;
            self.cur = Some((BufWriter::with_capacity(BUF, f), Sha256Hasher::new(), path));
        }
        let (w, h, _) = self.cur.as_mut().expect("opened");
        let room = usize::try_from(self.limit - h.len()).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        w.write_all(&buf[..n])?;
        h.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.cur {
            Some((w, _, _)) => w.flush(),
            None => Ok(()),
        }
    }
}

/// Reads the data volumes in `volumes.json` order as one stream, checking
/// each volume's size and SHA-256 as it ends.
pub struct VolumeReader {
    dir: PathBuf,
    set: VolumeSet,
    overrides: HashMap<String, PathBuf>,
    idx: usize,
    cur: Option<(File, Sha256Hasher, u64)>,
    /// Volumes checked so far.
    pub checked: Vec<String>,
}

impl VolumeReader {
    /// Volumes beside `dir`; `overrides` replaces some by repaired copies.
    #[must_use]
    pub fn new(dir: &Path, set: VolumeSet, overrides: HashMap<String, PathBuf>) -> Self {
        VolumeReader {
            dir: dir.to_path_buf(),
            set,
            overrides,
            idx: 0,
            cur: None,
            checked: Vec::new(),
        }
    }

    /// The set.
    #[must_use]
    pub fn set(&self) -> &VolumeSet {
        &self.set
    }

    fn path_of(&self, name: &str) -> PathBuf {
        self.overrides
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.dir.join(name))
    }

    fn open(&mut self) -> Result<()> {
        let v = &self.set.volumes[self.idx];
        let path = self.path_of(&v.name);
        let f = open_volume(&path, v)?;
        self.cur = Some((f, Sha256Hasher::new(), v.size));
        Ok(())
    }

    fn end_volume(&mut self) -> Result<()> {
        let v = self.set.volumes[self.idx].clone();
        let (_, h, _) = self.cur.take().expect("open");
        let (d, n) = h.finish();
        check_volume(&v, d, n)?;
        self.checked.push(v.name);
        self.idx += 1;
        Ok(())
    }

    /// After a failure inside the stream: reads the rest of the current
    /// volume; if that volume is damaged, returns the error naming it
    /// (damage is reported by volume, not by the entry it broke).
    pub fn drain_current(&mut self) -> Option<Error> {
        let (f, h, left) = self.cur.as_mut()?;
        let mut buf = vec![0u8; BUF];
        while *left > 0 {
            let want = usize::try_from((*left).min(BUF as u64)).unwrap_or(BUF);
            match f.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => {
                    h.update(&buf[..n]);
                    *left -= n as u64;
                }
                Err(_) => break,
            }
        }
        self.end_volume().err()
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            if self.idx >= self.set.volumes.len() {
                return Ok(0);
            }
            if self.cur.is_none() {
                self.open()?;
            }
            let (f, h, left) = self.cur.as_mut().expect("open");
            if *left == 0 {
                self.end_volume()?;
                continue;
            }
            let want = usize::try_from((*left).min(buf.len() as u64)).unwrap_or(buf.len());
            let n = loop {
                match f.read(&mut buf[..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let name = self.set.volumes[self.idx].name.clone();
                        return Err(Error::volume(name, format!("read failed: {e}")));
                    }
                }
            };
            if n == 0 {
                let v = &self.set.volumes[self.idx];
                return Err(Error::volume(
                    &v.name,
                    format!(
                        "truncated: {} of {} bytes; copy it again, or use --repair with parity volumes",
                        v.size - *left,
                        v.size
                    ),
                ));
            }
            h.update(&buf[..n]);
            *left -= n as u64;
            return Ok(n);
        }
    }
}

impl Read for VolumeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read_inner(buf)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

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
