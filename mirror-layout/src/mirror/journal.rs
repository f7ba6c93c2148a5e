//! Building a change's journal (SPEC §5 rule 2, [`super::commit`]): the
//! audit line, and the publish — views, feed, index and `published.json`,
//! signed — staged as files under `.ferry/staging/<txn>/publish/`, which
//! the journal names but never carries (issue 17: at 100,000 files those
//! documents are tens of megabytes). Shared by import, prune and
//! publish-entry.

use std::path::Path;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::{SecretKey, read_small_bytes};
use ferry_manifests::path::BundlePath;

use super::commit::{JOURNAL_SCHEMA, Journal, PUBLISH_STAGE, Rename, STAGING_DIR, view_path};
use super::index::MirrorIndex;
use super::published::{PUBLISHED_FILE, SignedPublish, sign_publish};
use super::{AUDIT_FILE, HINTS_FILE, INDEX_FILE, Mirror};
use crate::audit;
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, create_new_public, is_regular_file};

/// The file changes of one journaled transaction.
pub(crate) struct Change<'a> {
    /// The transaction id.
    pub(crate) txn: &'a str,
    /// `import`, `prune` or `publish`.
    pub(crate) action: &'a str,
    /// Staged files moved into place.
    pub(crate) renames: Vec<Rename>,
    /// Files removed after the index is visible.
    pub(crate) removes: Vec<String>,
}

impl Mirror {
    /// Builds the journal for a change: sets `next.audit_head`, signs the
    /// feed and index with `key` (checked by the caller).
    pub(crate) fn journal(
        &self,
        key: &SecretKey,
        next: &mut MirrorIndex,
        entry: &audit::Entry,
        change: Change<'_>,
    ) -> Result<Journal> {
        let line = entry.to_line();
        next.audit_head = audit::Head {
            seq: entry.seq,
            sha256: Sha256Digest::of(&line),
        };
        // The publish goes to the staging folder as files, one at a time,
        // so no more than one document is held at once (issue 17).
        let stage = PublishStage::new(&self.root, change.txn);
        let mut views = Vec::new();
        for v in super::views::render(&self.root, next, key)? {
            stage.write(&v.path, v.content.as_bytes())?;
            views.push(v.path);
        }
        let (hints_sig, index_sig) = stage.write_signed(&sign_publish(next, key)?)?;
        Ok(Journal {
            schema: JOURNAL_SCHEMA.into(),
            txn: change.txn.to_string(),
            action: change.action.to_string(),
            renames: change.renames,
            removes: change.removes,
            audit_prev: prev_head(entry)?,
            audit_line: String::from_utf8(line)
                .map_err(|_| Error::refused(AUDIT_FILE, "not UTF-8 (internal error)"))?,
            hints_sig,
            index_sig,
            new_config: None,
            views,
        })
    }
}

fn prev_head(entry: &audit::Entry) -> Result<audit::Head> {
    let seq = entry.seq.checked_sub(1).ok_or_else(|| {
        Error::refused(
            AUDIT_FILE,
            "an import cannot be the first entry (internal error)",
        )
    })?;
    Ok(audit::Head {
        seq,
        sha256: entry.prev,
    })
}

/// The staged copy of the publish file `rel` (a view, the feed, the index
/// or `published.json`) of transaction `txn`.
///
/// # Errors
/// [`Error::Refused`] for a path that is not plain.
pub(super) fn staged_publish_path(root: &Path, txn: &str, rel: &str) -> Result<std::path::PathBuf> {
    Ok(root
        .join(STAGING_DIR)
        .join(txn)
        .join(PUBLISH_STAGE)
        .join(BundlePath::new(rel)?.as_str()))
}

/// Where the publish file `rel` goes: a view under its folder, the feed,
/// the index and the envelope at their fixed names.
pub(super) fn publish_final_path(root: &Path, rel: &str) -> Result<std::path::PathBuf> {
    if [HINTS_FILE, INDEX_FILE, PUBLISHED_FILE].contains(&rel) {
        Ok(root.join(rel))
    } else {
        view_path(root, rel)
    }
}

/// The bytes of an armed journal's publish file `rel`: the staged copy
/// while it is there, else (already moved: a rename is atomic) the one in
/// place. Recovery verifies what it reads before acting on it.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub(super) fn read_publish_file(root: &Path, txn: &str, rel: &str) -> Result<Vec<u8>> {
    let staged = staged_publish_path(root, txn, rel)?;
    let p = if is_regular_file(&staged) {
        staged
    } else {
        publish_final_path(root, rel)?
    };
    Ok(read_small_bytes(
        &p,
        ferry_manifests::json::MAX_DOCUMENT_BYTES,
    )?)
}

/// Writes the files of a publish into a change's staging folder (no
/// `fsync`: [`Mirror::commit`] syncs the filesystem once before arming).
pub(crate) struct PublishStage<'a> {
    root: &'a Path,
    txn: &'a str,
}

impl<'a> PublishStage<'a> {
    /// The publish stage of transaction `txn`.
    pub(crate) fn new(root: &'a Path, txn: &'a str) -> Self {
        PublishStage { root, txn }
    }

    /// Stages the publish file `rel`, written by `write`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file; `write`'s.
    fn write_with(
        &self,
        rel: &str,
        write: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<()> {
        use std::io::Write as _;
        let p = staged_publish_path(self.root, self.txn, rel)?;
        create_dir_all_durable(p.parent().unwrap_or(self.root))?;
        let mut f = std::io::BufWriter::new(create_new_public(&p)?);
        write(&mut f)?;
        f.flush().map_err(|e| Error::io(&p, "write", e))
    }

    /// Stages `bytes` as the publish file `rel`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub(crate) fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        self.write_with(rel, |f| {
            f.write_all(bytes)
                .map_err(|e| Error::io(Path::new(rel), "write", e))
        })
    }

    /// Stages the feed, the index and the envelope of `p` (refused, with
    /// only staging touched, when a reader would refuse it); returns their
    /// signatures for the journal.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file; [`Error::Refused`].
    pub(crate) fn write_signed(&self, p: &SignedPublish) -> Result<(String, String)> {
        self.write_with(PUBLISHED_FILE, |f| p.write_envelope(f))?;
        self.write(HINTS_FILE, &p.hints)?;
        self.write(INDEX_FILE, &p.index)?;
        Ok((p.hints_sig.clone(), p.index_sig.clone()))
    }
}
