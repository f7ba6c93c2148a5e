//! Reed–Solomon parity volumes (`NAME.p00`, …) and `--repair` (SPEC §3.6).
//!
//! The data volumes are the original shards (shorter ones count as
//! zero-padded to the shard size); `K` parity volumes let any `K` lost or
//! damaged volumes be rebuilt. Both directions work stripe by stripe, so
//! memory stays bounded (about 32 MiB) whatever the volume size.
//!
//! Repair never modifies the originals: a rebuilt volume is written as
//! `NAME.NNN.repaired` beside it, or under its own name in `--repair-dir`,
//! and is checked against `volumes.json` before it is used.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ferry_manifests::digest::Sha256Hasher;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
use serde::Serialize;

use super::volume_io::{check_volume, open_volume};
use crate::error::{Error, Result};
use ferry_manifests::volumes::{ParityInfo, VolumeEntry, VolumeSet};

/// Memory budget for one stripe across all shards.
const STRIPE_BUDGET: u64 = 32 * 1024 * 1024;

fn stripe_size(shards: usize, shard_size: u64) -> u64 {
    let per = (STRIPE_BUDGET / shards.max(1) as u64).max(64) & !63;
    per.min(shard_size).max(2)
}

fn rs_err(e: reed_solomon_simd::Error) -> Error {
    Error::bundle("parity", format!("Reed-Solomon: {e}"))
}

/// Reads up to `buf.len()` bytes of a shard at its current position,
/// zero-filling past the volume's end.
fn read_shard(f: &mut File, buf: &mut [u8], left: &mut u64, name: &Path) -> Result<()> {
    let take = usize::try_from((*left).min(buf.len() as u64)).unwrap_or(buf.len());
    f.read_exact(&mut buf[..take])
        .map_err(|e| Error::io(name, "read", e))?;
    buf[take..].fill(0);
    *left -= take as u64;
    Ok(())
}

/// Writes `k` parity volumes for the data volumes of `set` in `dir`.
pub(crate) fn encode(dir: &Path, set: &VolumeSet, base: &Path, k: usize) -> Result<ParityInfo> {
    let n = set.volumes.len();
    let max = set.volumes.iter().map(|v| v.size).max().unwrap_or(0);
    let shard_size = max + (max & 1);
    let mut inputs = Vec::with_capacity(n);
    for v in &set.volumes {
        let p = dir.join(&v.name);
        inputs.push((
            ferry_manifests::input::open_regular(&p).map_err(|e| Error::io(&p, "open", e))?,
            v.size,
            p,
        ));
    }
    let mut outs = Vec::with_capacity(k);
    for j in 0..k {
        let mut s = base.as_os_str().to_owned();
        s.push(format!(".p{j:02}"));
        let p = PathBuf::from(s);
        let f = File::options()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(|e| Error::io(&p, "create", e))?;
        outs.push((f, Sha256Hasher::new(), p));
    }
    let stripe = stripe_size(n + k, shard_size);
    let mut bufs = vec![vec![0u8; usize::try_from(stripe).unwrap_or(0)]; n];
    let mut off = 0u64;
    let mut enc: Option<ReedSolomonEncoder> = None;
    while off < shard_size {
        let len = usize::try_from(stripe.min(shard_size - off)).unwrap_or(0);
        match &mut enc {
            Some(e) => e.reset(n, k, len).map_err(rs_err)?,
            None => enc = Some(ReedSolomonEncoder::new(n, k, len).map_err(rs_err)?),
        }
        let e = enc.as_mut().expect("set");
        for (i, (f, left, p)) in inputs.iter_mut().enumerate() {
            read_shard(f, &mut bufs[i][..len], left, p)?;
            e.add_original_shard(&bufs[i][..len]).map_err(rs_err)?;
        }
        let r = e.encode().map_err(rs_err)?;
        for (j, shard) in r.recovery_iter().enumerate() {
            let (f, h, p) = &mut outs[j];
            f.write_all(shard).map_err(|e| Error::io(&*p, "write", e))?;
            h.update(shard);
        }
        off += len as u64;
    }
    let mut volumes = Vec::with_capacity(k);
    for (f, h, p) in outs {
        f.sync_all().map_err(|e| Error::io(&p, "fsync", e))?;
        let (sha256, size) = h.finish();
        volumes.push(VolumeEntry {
            name: p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size,
            sha256,
        });
    }
    Ok(ParityInfo {
        shard_size,
        volumes,
    })
}

/// What `repair` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    /// Volumes found damaged or missing, with the reason.
    pub damaged: Vec<(String, String)>,
    /// Rebuilt data volumes: name → where the rebuilt copy was written.
    pub rebuilt: Vec<(String, PathBuf)>,
}

impl RepairReport {
    /// Overrides for [`super::volumes::VolumeReader::new`].
    #[must_use]
    pub fn overrides(&self) -> HashMap<String, PathBuf> {
        self.rebuilt.iter().cloned().collect()
    }
}

fn hash_volume(path: &Path, v: &VolumeEntry) -> Result<()> {
    let mut f = open_volume(path, v)?;
    let (d, n) = ferry_manifests::digest::hash_reader(&mut f, v.size, &v.name)?;
    check_volume(v, d, n)
}

/// Checks every volume of the set described by `volumes_json` and rebuilds
/// damaged or missing data volumes from parity, into `repair_dir` (under
/// their own names) or beside them as `NAME.NNN.repaired`. The originals are
/// never modified. The rebuilt copies are checked against `volumes.json`;
/// the caller then verifies the bundle through them.
///
/// # Errors
/// More damaged volumes than parity volumes, or I/O errors.
pub fn repair(volumes_json: &Path, repair_dir: Option<&Path>) -> Result<RepairReport> {
    let set = VolumeSet::load(volumes_json)?;
    let dir = volumes_json
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut report = RepairReport::default();
    let n = set.volumes.len();
    let parity = set.parity.clone();
    let k = parity.as_ref().map_or(0, |p| p.volumes.len());
    let all: Vec<&VolumeEntry> = set
        .volumes
        .iter()
        .chain(parity.iter().flat_map(|p| p.volumes.iter()))
        .collect();
    let good = check_volumes(dir, &all, &mut report);
    let bad_data: Vec<usize> = (0..n).filter(|&i| !good[i]).collect();
    if bad_data.is_empty() {
        return Ok(report);
    }
    let parity = repairable(&set, &good, &bad_data, k)?;
    if let Some(d) = repair_dir {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, "create", e))?;
    }
    let out_path = |name: &str| -> PathBuf {
        match repair_dir {
            Some(d) => d.join(name),
            None => dir.join(format!("{name}.repaired")),
        }
    };
    let mut readers = open_good_shards(dir, &all, &good)?;
    let mut outs = create_rebuilt(&set, &bad_data, out_path)?;
    let stripes = Stripes {
        n,
        k,
        shard_size: parity.shard_size,
    };
    if let Err(e) = rebuild(&stripes, &mut readers, &mut outs) {
        for o in &outs {
            let _ = std::fs::remove_file(&o.path);
        }
        return Err(e);
    }
    for o in outs {
        report.rebuilt.push(check_rebuilt(o, &set)?);
    }
    Ok(report)
}

/// Hashes every volume (data, then parity); returns which are good and
/// records the others in the report.
fn check_volumes(dir: &Path, all: &[&VolumeEntry], report: &mut RepairReport) -> Vec<bool> {
    let mut good = vec![true; all.len()];
    for (i, v) in all.iter().enumerate() {
        if let Err(e) = hash_volume(&dir.join(&v.name), v) {
            good[i] = false;
            report.damaged.push((v.name.clone(), e.to_string()));
        }
    }
    good
}

/// Refuses a repair that cannot succeed: no parity, or more damaged
/// volumes than parity volumes. Returns the parity description.
fn repairable(set: &VolumeSet, good: &[bool], bad_data: &[usize], k: usize) -> Result<ParityInfo> {
    let bad = good.iter().filter(|g| !**g).count();
    let Some(parity) = set.parity.clone() else {
        return Err(Error::volume(
            &set.volumes[bad_data[0]].name,
            "damaged or missing, and this bundle has no parity volumes: copy it again from the source medium",
        ));
    };
    if bad > k {
        return Err(Error::volume(
            &set.volumes[bad_data[0]].name,
            format!(
                "{bad} volumes are damaged or missing but only {k} parity volume(s) exist: copy at least {} of them again",
                bad - k
            ),
        ));
    }
    Ok(parity)
}

/// A good shard being read: the file, the bytes left, its path.
type ShardReader = (File, u64, PathBuf);

/// Opens the good shards; damaged ones are `None`.
fn open_good_shards(
    dir: &Path,
    all: &[&VolumeEntry],
    good: &[bool],
) -> Result<Vec<Option<ShardReader>>> {
    let mut readers: Vec<Option<ShardReader>> = Vec::with_capacity(all.len());
    for (i, v) in all.iter().enumerate() {
        if good[i] {
            let p = dir.join(&v.name);
            readers.push(Some((
                ferry_manifests::input::open_regular(&p).map_err(|e| Error::io(&p, "open", e))?,
                v.size,
                p,
            )));
        } else {
            readers.push(None);
        }
    }
    Ok(readers)
}

/// A data volume being rebuilt.
struct Rebuilt {
    /// Its index among the data volumes.
    index: usize,
    file: File,
    hasher: Sha256Hasher,
    /// Bytes still to write (the volume's size, not the shard size).
    left: u64,
    path: PathBuf,
}

/// Creates the output of each damaged data volume (never over a file).
fn create_rebuilt(
    set: &VolumeSet,
    bad_data: &[usize],
    out_path: impl Fn(&str) -> PathBuf,
) -> Result<Vec<Rebuilt>> {
    let mut outs = Vec::new();
    for &i in bad_data {
        let p = out_path(&set.volumes[i].name);
        let f = File::options()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(|e| Error::io(&p, "create", e))?;
        outs.push(Rebuilt {
            index: i,
            file: f,
            hasher: Sha256Hasher::new(),
            left: set.volumes[i].size,
            path: p,
        });
    }
    Ok(outs)
}

/// The shape of the Reed–Solomon code: data shards, parity shards, size.
struct Stripes {
    n: usize,
    k: usize,
    shard_size: u64,
}

/// Decodes stripe by stripe from the good shards into the outputs.
fn rebuild(s: &Stripes, readers: &mut [Option<ShardReader>], outs: &mut [Rebuilt]) -> Result<()> {
    let (n, k, shard_size) = (s.n, s.k, s.shard_size);
    let stripe = stripe_size(n + k, shard_size);
    let mut buf = vec![0u8; usize::try_from(stripe).unwrap_or(0)];
    let mut off = 0u64;
    let mut dec: Option<ReedSolomonDecoder> = None;
    while off < shard_size {
        let len = usize::try_from(stripe.min(shard_size - off)).unwrap_or(0);
        match &mut dec {
            Some(d) => d.reset(n, k, len).map_err(rs_err)?,
            None => dec = Some(ReedSolomonDecoder::new(n, k, len).map_err(rs_err)?),
        }
        let d = dec.as_mut().expect("set");
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some((f, left, p)) = r {
                read_shard(f, &mut buf[..len], left, p)?;
                if i < n {
                    d.add_original_shard(i, &buf[..len]).map_err(rs_err)?;
                } else {
                    d.add_recovery_shard(i - n, &buf[..len]).map_err(rs_err)?;
                }
            }
        }
        let result = d.decode().map_err(rs_err)?;
        for o in outs.iter_mut() {
            let shard = result
                .restored_original(o.index)
                .ok_or_else(|| Error::bundle("parity", "a shard was not restored"))?;
            let take = usize::try_from(o.left.min(len as u64)).unwrap_or(0);
            o.file
                .write_all(&shard[..take])
                .map_err(|e| Error::io(&o.path, "write", e))?;
            o.hasher.update(&shard[..take]);
            o.left -= take as u64;
        }
        off += len as u64;
    }
    Ok(())
}

/// Syncs a rebuilt volume and checks it against `volumes.json` (removed
/// when it does not match). Returns its name and where it was written.
fn check_rebuilt(o: Rebuilt, set: &VolumeSet) -> Result<(String, PathBuf)> {
    let v = &set.volumes[o.index];
    o.file
        .sync_all()
        .map_err(|e| Error::io(&o.path, "fsync", e))?;
    let (d, size) = o.hasher.finish();
    if let Err(e) = check_volume(v, d, size) {
        let _ = std::fs::remove_file(&o.path);
        return Err(Error::volume(
            &v.name,
            format!(
                "the rebuilt copy does not match volumes.json ({e}); too many volumes are damaged"
            ),
        ));
    }
    Ok((v.name.clone(), o.path))
}
