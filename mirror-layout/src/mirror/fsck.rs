//! `ferry-mirror fsck` (SPEC §4): everything re-checked against the signed
//! index: the published envelope, the feed, the audit chain, every listed
//! file re-hashed, and nothing unlisted, unreadable or not a regular file
//! under `releases/`, `manifests/` and `trust/`.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use serde::Serialize;

use ferry_manifests::digest::{BUF_SIZE, Sha256Digest, Sha256Hasher};
use ferry_manifests::minisig::{KeySet, read_small_bytes};

use super::index::{MirrorIndex, hints_comment};
use super::{AUDIT_FILE, HINTS_FILE, Mirror, published, read_signed};
use crate::audit;
use crate::error::{Error, Result};
use crate::fsutil::is_regular_file;

impl Mirror {
    /// Re-hashes everything against the signed index (SPEC §4 `fsck`).
    ///
    /// # Errors
    /// [`Error::Manifest`] if the index itself does not verify; other
    /// problems are collected in the report.
    pub fn fsck(&self, keys: &KeySet) -> Result<FsckReport> {
        let (index, index_bytes) = self.read_index(keys)?;
        let mut report = FsckReport {
            index_sequence: index.sequence,
            ..FsckReport::default()
        };
        if let Some(p) = published::fsck_problem(&self.root, keys, &index_bytes) {
            report.problems.push(p);
        }
        report.problems.extend(self.feed_problem(&index, keys));
        report.problems.extend(self.audit_problem(&index));
        report
            .problems
            .extend(super::views::check::problems(&self.root, &index, keys));
        let listed = self.rehash_listed(&index, &mut report);
        for top in [
            "releases",
            "manifests",
            super::images::OCI_DIR,
            ferry_manifests::trust::MIRROR_DIR,
        ] {
            self.check_unlisted(top, &listed, &mut report.problems);
        }
        Ok(report)
    }

    /// The feed: signed and equal to what the index implies.
    fn feed_problem(&self, index: &MirrorIndex, keys: &KeySet) -> Option<String> {
        match read_signed(&self.root.join(HINTS_FILE), keys) {
            Ok((bytes, comment)) => {
                if bytes != index.hints().to_bytes() {
                    Some(format!("{HINTS_FILE}: does not match the signed index"))
                } else if comment
                    != hints_comment(&index.product, index.sequence, &Sha256Digest::of(&bytes))
                {
                    Some(format!(
                        "{HINTS_FILE}.minisig: trusted comment does not match"
                    ))
                } else {
                    None
                }
            }
            Err(e) => Some(e.to_string()),
        }
    }

    /// The audit log: an unbroken chain whose head the index records.
    fn audit_problem(&self, index: &MirrorIndex) -> Option<String> {
        match read_small_bytes(&self.root.join(AUDIT_FILE), audit::MAX_LOG_BYTES)
            .map_err(Error::from)
            .and_then(|b| audit::verify_chain(&b, AUDIT_FILE))
        {
            Ok((_, Some(head))) if head == index.audit_head => None,
            Ok((_, head)) => Some(format!(
                "{AUDIT_FILE}: head {head:?} is not the one the signed index records ({:?})",
                index.audit_head
            )),
            Err(e) => Some(e.to_string()),
        }
    }

    /// Every listed file, re-hashed; returns the listed paths.
    fn rehash_listed(&self, index: &MirrorIndex, report: &mut FsckReport) -> HashSet<String> {
        let mut listed = HashSet::new();
        let total = index.files.iter().chain(&index.trust).map(|f| f.size).sum();
        self.progress.start("fsck", total);
        for f in index.files.iter().chain(&index.trust) {
            listed.insert(f.path.as_str().to_string());
            let p = f.path.under(&self.root);
            if !is_regular_file(&p) {
                report
                    .problems
                    .push(format!("{}: missing or not a regular file", f.path));
                report.damaged.push(f.path.as_str().to_string());
                continue;
            }
            match hash_file(&p) {
                Ok((d, n)) => {
                    if let Err(e) = ferry_manifests::digest::check(
                        f.path.as_str(),
                        (&f.sha256, f.size),
                        (&d, n),
                    ) {
                        report.problems.push(e.to_string());
                        report.damaged.push(f.path.as_str().to_string());
                    }
                    report.bytes += n;
                }
                Err(e) => report.problems.push(e.to_string()),
            }
            self.progress.advance(f.size);
            report.files += 1;
        }
        self.progress.finish();
        listed
    }

    /// Nothing else under `top`: no unlisted file, no symlink or special
    /// file, nothing unreadable.
    fn check_unlisted(&self, top: &str, listed: &HashSet<String>, problems: &mut Vec<String>) {
        match fs::symlink_metadata(self.root.join(top)) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                let kind = if m.file_type().is_symlink() {
                    "a symlink in the mirror"
                } else {
                    "not a folder"
                };
                problems.push(format!(
                    "{top}: {kind} (only regular files and folders belong here)"
                ));
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                problems.push(format!("{top}: cannot be read ({e})"));
                return;
            }
        }
        walk_files(&self.root, &self.root.join(top), &mut |rel, kind| {
            if kind.contains("cannot be") {
                problems.push(format!(
                    "{rel}: a {kind}; fsck cannot vouch for what it cannot read (check its owner and mode)"
                ));
            } else if kind != "file" {
                problems.push(format!(
                    "{rel}: a {kind} in the mirror (only regular files belong here)"
                ));
            } else if !listed.contains(rel) {
                problems.push(format!("{rel}: not listed in the signed index"));
            }
        });
    }
}

/// What `fsck` found.
#[derive(Debug, Default, Serialize)]
pub struct FsckReport {
    /// The index's sequence.
    pub index_sequence: u64,
    /// Files re-hashed.
    pub files: usize,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Every problem found (empty: all good).
    pub problems: Vec<String>,
    /// Listed files that are missing or whose bytes differ from the index:
    /// what `fsck --repair BUNDLE` restores.
    pub damaged: Vec<String>,
}

/// SHA-256 and size of a file, streamed.
///
/// # Errors
/// [`Error::Io`].
pub fn hash_file(path: &Path) -> Result<(Sha256Digest, u64)> {
    use std::io::Read;
    let mut f =
        ferry_manifests::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let mut h = Sha256Hasher::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, "read", e))?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// Walks `dir` (not following symlinks), calling `f(relative path, kind)`
/// for every non-directory entry; kind is "file", "symlink" or "special file".
/// Walks `dir`, telling `f` each entry below `root` (relative path, what
/// it is). A folder or entry that cannot be read is told too, never
/// skipped: fsck cannot vouch for what it did not see (issue 10).
fn walk_files(root: &Path, dir: &Path, f: &mut dyn FnMut(&str, &str)) {
    let rel = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .to_string()
    };
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            f(&rel(dir), &format!("folder that cannot be read ({e})"));
            return;
        }
    };
    for e in entries {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                f(&rel(dir), &format!("folder that cannot be listed ({err})"));
                return;
            }
        };
        let p = e.path();
        match e.file_type() {
            Ok(ft) if ft.is_dir() => walk_files(root, &p, f),
            Ok(ft) if ft.is_file() => f(&rel(&p), "file"),
            Ok(ft) if ft.is_symlink() => f(&rel(&p), "symlink"),
            Ok(_) => f(&rel(&p), "special file"),
            Err(err) => f(&rel(&p), &format!("entry that cannot be read ({err})")),
        }
    }
}
