//! Staging: the import's new files (and `fsck --repair`'s damaged ones)
//! written under `.ferry/staging/<txn>/` as the verifier streams them, and
//! the imported manifest kept for audit. Nothing here is served until the
//! journal renames it into place. Staged files are not synced one by one:
//! the commit makes all of them durable with one `syncfs` before it arms
//! the journal (issue 17).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_bundle::{Sink, VerifiedManifest};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::FileEntry;
use ferry_manifests::path::BundlePath;

use super::failpoint::hit;
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, create_new_public, sync_dir, write_new};

/// Writes each wanted file into staging as the verifier streams it (the
/// import's new files; `fsck --repair`'s damaged ones). With `same_bytes`,
/// a file is taken only when the bundle lists it with the wanted size and
/// SHA-256 (repair restores exactly what the signed index lists).
pub(crate) struct StageSink {
    pub(crate) dir: PathBuf,
    pub(crate) wanted: HashMap<String, FileEntry>,
    pub(crate) same_bytes: bool,
    pub(crate) current: Option<(File, PathBuf, String)>,
    pub(crate) staged: Vec<String>,
}

impl Sink for StageSink {
    fn start(&mut self, file: &FileEntry) -> Result<()> {
        self.current = None;
        // Wanted by its path, or (repair) an image blob wanted in the
        // mirror's store under its digest, whichever layout carries it.
        let (found, via_store) = match self.wanted.get_key_value(file.path.as_str()) {
            Some(kv) => (Some(kv), false),
            None => (
                super::images::store_path_of(file).and_then(|p| self.wanted.get_key_value(&p)),
                true,
            ),
        };
        let Some((rel, want)) = found else {
            return Ok(());
        };
        if self.same_bytes && (want.sha256 != file.sha256 || want.size != file.size) {
            return Ok(());
        }
        if via_store && self.staged.contains(rel) {
            return Ok(()); // a blob two versions' layouts both carry
        }
        let rel = rel.clone();
        let p = self.dir.join(&rel);
        if let Some(parent) = p.parent() {
            create_dir_all_durable(parent)?;
        }
        // 0644 whatever the umask: renamed into the served tree (§3.7).
        let f = create_new_public(&p)?;
        self.current = Some((f, p, rel));
        Ok(())
    }

    fn data(&mut self, buf: &[u8]) -> Result<()> {
        if let Some((f, p, _)) = &mut self.current {
            f.write_all(buf).map_err(|e| Error::io(&*p, "write", e))?;
        }
        Ok(())
    }

    fn done(&mut self, _file: &FileEntry) -> Result<()> {
        // Not synced one by one (issue 17): the commit syncs the whole
        // filesystem once before it arms the journal (`Mirror::commit`).
        if let Some((f, _, rel)) = self.current.take() {
            drop(f);
            self.staged.push(rel);
            hit(&format!("staged-{}", self.staged.len()));
        }
        Ok(())
    }
}

/// The manifest and its signatures, kept under `manifests/<sha256>/` for
/// audit; `staged` counts the files staged so far (for the kill points).
pub(crate) fn keep_manifest(
    staging: &Path,
    vm: &VerifiedManifest,
    staged: usize,
) -> Result<Vec<FileEntry>> {
    let mdir = format!("manifests/{}", vm.sha256);
    let mut kept: Vec<(String, Vec<u8>)> =
        vec![(format!("{mdir}/manifest.json"), vm.bytes.clone())];
    for s in &vm.signatures {
        let name = BundlePath::new(&s.name)?;
        kept.push((
            format!("{mdir}/signatures/{}", name.file_name()),
            s.bytes.clone(),
        ));
    }
    let mut n = staged;
    let mut files = Vec::new();
    for (rel, bytes) in &kept {
        let p = staging.join(rel);
        if let Some(parent) = p.parent() {
            create_dir_all_durable(parent)?;
        }
        write_new(&p, bytes)?;
        sync_dir(p.parent().unwrap_or(staging))?;
        n += 1;
        hit(&format!("staged-{n}"));
        files.push(FileEntry {
            path: BundlePath::new(rel)?,
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(bytes),
        });
    }
    Ok(files)
}

/// Stages the trust-chain files the mirror lacks (SPEC §3.11): every file
/// of `policy`'s applied chain not already under `trust/`, written and
/// synced under staging like any import file. Returns them as the index
/// lists them (`trust/…`); the journal renames them into place with it.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub(crate) fn stage_trust(
    root: &Path,
    staging: &Path,
    policy: &ferry_manifests::policy::TrustPolicy,
) -> Result<Vec<FileEntry>> {
    use ferry_manifests::trust::{MIRROR_DIR, chain_files};
    let mut out = Vec::new();
    for (rel, bytes) in chain_files(&policy.chain)? {
        let to = format!("{MIRROR_DIR}/{rel}");
        if root.join(&to).exists() {
            continue;
        }
        let p = staging.join(&to);
        if let Some(parent) = p.parent() {
            create_dir_all_durable(parent)?;
        }
        write_new(&p, &bytes)?;
        sync_dir(p.parent().unwrap_or(staging))?;
        hit(&format!("staged-trust-{}", out.len() + 1));
        out.push(FileEntry {
            path: BundlePath::new(&to)?,
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(&bytes),
        });
    }
    Ok(out)
}
