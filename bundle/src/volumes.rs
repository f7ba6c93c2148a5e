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

use super::BUF;
use super::format::Format;
use super::volume_io::{check_volume, open_volume};
use crate::error::{Error, Result};

pub use ferry_manifests::volumes::{ParityInfo, VOLUMES_SCHEMA, VolumeEntry, VolumeSet};

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
        let tmp = super::source::partial_name(&json_path);
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
