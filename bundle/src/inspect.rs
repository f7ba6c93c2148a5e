//! `ferry-verify inspect` (SPEC §4): what a bundle holds — product,
//! sequence, releases, sizes, the key ids its signature files name — read
//! WITHOUT a policy. Nothing here is verified: no signature is checked and
//! no file is hashed; the caller must say so.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::manifest::{MANIFEST_PATH, Manifest, SIGNATURES_DIR};
use ferry_manifests::minisig::{MAX_SIGNATURE_BYTES, SignatureFile};

use super::volumes::{VolumeReader, VolumeSet, json_for_first_volume};
use crate::error::{Error, Result};

/// What a bundle says about itself, unverified.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The carrier: `tar`, `tar.gz`, `zip`, `dir` or `volumes`.
    pub format: &'static str,
    /// The manifest as found (parsed, signatures NOT checked).
    pub manifest: Manifest,
    /// SHA-256 of the manifest bytes.
    pub manifest_sha256: Sha256Digest,
    /// The key id each signature file names (not checked), or the file
    /// name when it does not parse.
    pub signatures: Vec<String>,
}

#[derive(Default)]
struct Found {
    manifest: Option<Vec<u8>>,
    signatures: Vec<(String, Vec<u8>)>,
}

impl Found {
    /// Takes an entry if it is the manifest or a signature; returns
    /// whether the entries ferry puts first are over.
    fn entry(&mut self, name: &str, size: u64, r: &mut dyn Read) -> Result<bool> {
        let name = name.trim_start_matches("./");
        if name == MANIFEST_PATH {
            self.manifest = Some(read_capped(r, size, MAX_DOCUMENT_BYTES, name)?);
        } else if name.starts_with(&format!("{SIGNATURES_DIR}/")) && name.ends_with(".minisig") {
            let b = read_capped(r, size, MAX_SIGNATURE_BYTES as u64, name)?;
            self.signatures.push((name.to_string(), b));
        } else if name.starts_with("releases/") && self.manifest.is_some() {
            return Ok(true);
        }
        Ok(false)
    }

    fn finish(self, what: &Path, format: &'static str) -> Result<Unverified> {
        let Some(bytes) = self.manifest else {
            return Err(Error::bundle(
                what.display().to_string(),
                format!("no {MANIFEST_PATH} found: not a ferry bundle"),
            ));
        };
        let manifest = Manifest::parse(&bytes)?;
        let signatures = self
            .signatures
            .iter()
            .map(|(name, b)| {
                SignatureFile::parse(b, name)
                    .map_or_else(|_| name.clone(), |s| s.key_id().to_string())
            })
            .collect();
        Ok(Unverified {
            format,
            manifest,
            manifest_sha256: Sha256Digest::of(&bytes),
            signatures,
        })
    }
}

fn read_capped(r: &mut dyn Read, size: u64, limit: u64, what: &str) -> Result<Vec<u8>> {
    if size > limit {
        return Err(Error::bundle(
            what,
            format!("{size} bytes, more than {limit}: refused"),
        ));
    }
    let mut out = Vec::new();
    r.take(limit)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(PathBuf::from(what), "read", e))?;
    Ok(out)
}

/// Reads what the bundle at `path` says it holds (any carrier ferry
/// writes: tar, tar.gz, zip, a folder, volumes), checking nothing.
///
/// # Errors
/// [`Error::Io`] for an unreadable path; [`Error::Bundle`] when there is
/// no manifest; a manifest error when it does not parse.
pub fn inspect(path: &Path) -> Result<Unverified> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "open", e))?;
    if meta.is_dir() {
        return from_dir(path);
    }
    let json = if path.to_string_lossy().ends_with(".volumes.json") {
        Some(path.to_path_buf())
    } else {
        json_for_first_volume(path).filter(|j| j.exists())
    };
    let mut found = Found::default();
    if let Some(json) = json {
        let set = VolumeSet::load(&json)?;
        let dir = json
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let gz = set.format == "tar.gz";
        let vr = VolumeReader::new(dir, set, HashMap::new());
        tar_entries(vr, gz, path, &mut found)?;
        return found.finish(path, "volumes");
    }
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).map_err(|e| Error::io(path, "read", e))?;
    drop(f);
    if n == 4 && magic[..2] == *b"PK" {
        return from_zip(path);
    }
    let gz = n >= 2 && magic[..2] == [0x1f, 0x8b];
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    tar_entries(BufReader::new(f), gz, path, &mut found)?;
    found.finish(path, if gz { "tar.gz" } else { "tar" })
}

fn tar_entries<R: Read>(r: R, gz: bool, what: &Path, found: &mut Found) -> Result<()> {
    let r: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(r))
    } else {
        Box::new(r)
    };
    let io = |e| Error::io(what, "read", e);
    let mut archive = tar::Archive::new(r);
    for entry in archive.entries().map_err(io)? {
        let mut e = entry.map_err(io)?;
        let name = e.path().map_err(io)?.to_string_lossy().to_string();
        let size = e.size();
        if found.entry(&name, size, &mut e)? {
            break;
        }
    }
    Ok(())
}

fn from_zip(path: &Path) -> Result<Unverified> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let bad = |e: zip::result::ZipError| Error::bundle(path.display().to_string(), e.to_string());
    let mut z = zip::ZipArchive::new(f).map_err(bad)?;
    let mut found = Found::default();
    for i in 0..z.len() {
        let mut e = z.by_index(i).map_err(bad)?;
        let name = e.name().map_err(bad)?.to_string();
        let size = e.size();
        found.entry(&name, size, &mut e)?;
    }
    found.finish(path, "zip")
}

fn from_dir(root: &Path) -> Result<Unverified> {
    let mut found = Found::default();
    let mp = root.join(MANIFEST_PATH);
    let mut f = std::fs::File::open(&mp).map_err(|e| Error::io(&mp, "open", e))?;
    let size = f.metadata().map_err(|e| Error::io(&mp, "stat", e))?.len();
    found.entry(MANIFEST_PATH, size, &mut f)?;
    let sd = root.join(SIGNATURES_DIR);
    let mut names: Vec<_> = std::fs::read_dir(&sd)
        .map_err(|e| Error::io(&sd, "read directory", e))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    for n in names {
        let p = sd.join(&n);
        if let Ok(mut f) = std::fs::File::open(&p) {
            let size = f.metadata().map_or(0, |m| m.len());
            found.entry(&format!("{SIGNATURES_DIR}/{n}"), size, &mut f)?;
        }
    }
    found.finish(root, "dir")
}
