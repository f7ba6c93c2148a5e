//! Recovery of an interrupted commit (SPEC §5 rule 2; the steps are in
//! [`super::commit`]): an armed journal is checked, then rolled forward;
//! unarmed journals, stale staging and temporary files are removed.

use std::collections::{HashMap, HashSet};
use std::fs;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::FileEntry;
use ferry_manifests::minisig::{KeySet, read_small_bytes};

use super::commit::{
    ARMED, COMMIT_DIR, JOURNAL_SCHEMA, Journal, STAGING_DIR, final_path, remove_any, staged_path,
};
use super::index::MirrorIndex;
use super::journal::read_publish_file;
use super::published::{PUBLISHED_FILE, verify_published};
use super::{HINTS_FILE, INDEX_FILE, Mirror, MirrorLock, PRIVATE_DIR};
use crate::audit::Head;
use crate::error::{Error, Result};
use crate::fsutil::{is_regular_file, sync_dir};

impl Mirror {
    /// Finishes an interrupted change and cleans what an unfinished one
    /// left (SPEC §5 rule 2). Call with the lock held, before anything else.
    /// Returns the transaction rolled forward, if any.
    ///
    /// # Errors
    /// [`Error::Io`], or [`Error::Refused`] if the journal is unreadable or
    /// cannot be completed (the mirror is then left untouched for a human).
    pub fn recover(&self, _lock: &MirrorLock) -> Result<Option<String>> {
        // ATTACKS D9: leftovers are removed only inside the mirror's own
        // private folders, never through a link planted in their place.
        for d in [PRIVATE_DIR, STAGING_DIR, COMMIT_DIR] {
            if let Ok(m) = fs::symlink_metadata(self.root.join(d))
                && !m.is_dir()
            {
                let kind = if m.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "not a folder"
                };
                return Err(Error::refused(
                    d,
                    format!(
                        "is {kind}; refused, nothing was removed through it (remove it by hand, then run ferry-mirror fsck)"
                    ),
                ));
            }
        }
        let armed = self.root.join(ARMED);
        let mut done = None;
        if armed.exists() {
            let bytes = read_small_bytes(&armed, 256 * 1024 * 1024)?;
            let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| {
                Error::refused(
                    ARMED,
                    format!("unreadable journal ({e}); inspect it by hand"),
                )
            })?;
            if journal.schema != JOURNAL_SCHEMA {
                return Err(Error::refused(
                    ARMED,
                    format!("schema \"{}\" is not {JOURNAL_SCHEMA}", journal.schema),
                ));
            }
            self.check_journal(&journal)?;
            self.roll_forward(&journal).map_err(|e| Error::Recovery {
                action: journal.action.clone(),
                txn: journal.txn.clone(),
                source: Box::new(e),
            })?;
            done = Some(journal.txn);
        }
        // Unarmed journals: the change never happened.
        let commit = self.root.join(COMMIT_DIR);
        if let Ok(rd) = fs::read_dir(&commit) {
            let mut removed = false;
            for e in rd.flatten() {
                let p = e.path();
                fs::remove_file(&p).map_err(|err| Error::io(&p, "remove", err))?;
                removed = true;
            }
            if removed {
                sync_dir(&commit)?;
            }
        }
        // Stale staging.
        let staging = self.root.join(STAGING_DIR);
        if let Ok(rd) = fs::read_dir(&staging) {
            let mut removed = false;
            for e in rd.flatten() {
                let p = e.path();
                remove_any(&p)?;
                removed = true;
            }
            if removed {
                sync_dir(&staging)?;
            }
        }
        // Temporary files of an interrupted atomic write.
        for d in [".", "feed", "audit", PRIVATE_DIR] {
            let dir = self.root.join(d);
            if let Ok(rd) = fs::read_dir(&dir) {
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().starts_with(".ferry-tmp-")
                        && e.file_type().is_ok_and(|t| t.is_file())
                    {
                        let p = e.path();
                        fs::remove_file(&p).map_err(|err| Error::io(&p, "remove", err))?;
                    }
                }
            }
        }
        Ok(done)
    }

    /// Before recovery acts on an armed journal (ATTACKS D7/D8, C11): its
    /// index and feed are signed by the mirror key and follow the current
    /// index (no replay of an old change); its audit line is the one that
    /// index records; every file it moves into place is listed there and
    /// its staged (or already moved) bytes hash as listed; nothing it
    /// removes is listed. Anything else is refused, nothing is touched.
    fn check_journal(&self, j: &Journal) -> Result<()> {
        // The staging folder is .ferry/staging/<txn>: a plain name only,
        // checked before anything is read from it.
        let plain = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
        if j.txn.is_empty() || j.txn == "." || j.txn == ".." || !j.txn.chars().all(plain) {
            return refuse_journal(format!(
                "its transaction id \"{}\" is not a plain name",
                j.txn
            ));
        }
        let keys = self.journal_keys(j)?;
        let index_bytes = read_publish_file(&self.root, &j.txn, INDEX_FILE)?;
        let hints_bytes = read_publish_file(&self.root, &j.txn, HINTS_FILE)?;
        let next = super::verify_index_bytes(&index_bytes, j.index_sig.as_bytes(), &keys, ARMED)?;
        super::verify_hints_bytes(&hints_bytes, j.hints_sig.as_bytes(), &keys, ARMED)?;
        if next.product != self.config.product || hints_bytes != next.hints().to_bytes() {
            return refuse_journal("its feed or product does not match its signed index".into());
        }
        // The envelope holds exactly that index, verified again.
        let envelope = read_publish_file(&self.root, &j.txn, PUBLISHED_FILE)?;
        if verify_published(&envelope, &keys, ARMED)?.index_bytes != index_bytes {
            return refuse_journal("its published.json does not hold its signed index".into());
        }
        self.check_journal_follows_index(&index_bytes, &next, &keys)?;
        let line_head = Head {
            seq: j.audit_prev.seq.saturating_add(1),
            sha256: Sha256Digest::of(j.audit_line.as_bytes()),
        };
        if line_head != next.audit_head {
            return refuse_journal("its audit line is not the one its signed index records".into());
        }
        self.check_journal_renames(j, &next)?;
        for v in &j.views {
            super::commit::view_path(&self.root, v)?;
        }
        let files: HashSet<&str> = next.files.iter().map(|f| f.path.as_str()).collect();
        for rel in &j.removes {
            if files.contains(rel.as_str()) {
                return refuse_journal(format!(
                    "it removes {rel}, which its signed index still lists"
                ));
            }
        }
        Ok(())
    }

    /// The journal's index `next` is the one after the mirror's (or the
    /// mirror's already, or the one a crash left unsigned on disk).
    fn check_journal_follows_index(
        &self,
        index_bytes: &[u8],
        next: &MirrorIndex,
        keys: &KeySet,
    ) -> Result<()> {
        match self.read_index(keys) {
            Ok((cur, bytes)) => {
                let done = next.sequence == cur.sequence && bytes == index_bytes;
                if next.sequence != cur.sequence.saturating_add(1) && !done {
                    return refuse_journal(format!(
                        "its index sequence {} does not follow the mirror's {} (an old or foreign change)",
                        next.sequence, cur.sequence
                    ));
                }
            }
            Err(_) => {
                // Only a crash between the index and its signature leaves an
                // index that does not verify: it must be this journal's.
                let on_disk = read_small_bytes(
                    &self.root.join(INDEX_FILE),
                    ferry_manifests::json::MAX_DOCUMENT_BYTES,
                )
                .unwrap_or_default();
                if on_disk != index_bytes {
                    return refuse_journal(
                        "the mirror's index does not verify and is not the journal's".into(),
                    );
                }
            }
        }
        Ok(())
    }

    /// Every file the journal moves into place is listed in `next`, and its
    /// staged (or already moved) bytes hash as listed.
    fn check_journal_renames(&self, j: &Journal, next: &MirrorIndex) -> Result<()> {
        let listed: HashMap<&str, &FileEntry> = next
            .files
            .iter()
            .chain(&next.trust)
            .map(|f| (f.path.as_str(), f))
            .collect();
        for r in &j.renames {
            let Some(entry) = listed.get(r.to.as_str()).copied() else {
                return refuse_journal(format!(
                    "it moves {} into place, which its signed index does not list",
                    r.to
                ));
            };
            let from = staged_path(&self.root, &j.txn, &r.from)?;
            let to = final_path(&self.root, &r.to)?;
            let p = if is_regular_file(&from) { from } else { to };
            if !is_regular_file(&p) {
                return refuse_journal(format!("{} is neither staged nor in place", r.to));
            }
            {
                let (d, n) = super::hash_file(&p)?;
                let shown = p
                    .strip_prefix(&self.root)
                    .unwrap_or(&p)
                    .display()
                    .to_string();
                ferry_manifests::digest::check(&shown, (&entry.sha256, entry.size), (&d, n))
                    .map_err(|e| Error::refused(ARMED, format!("{e}; refused, nothing was changed (the staged copy was damaged or altered after the interruption: import the bundle again after removing the journal and .ferry/staging)")))?;
            }
        }
        Ok(())
    }
}

/// Refuses an armed journal recovery must not act on.
fn refuse_journal(reason: String) -> Result<()> {
    Err(Error::refused(
        ARMED,
        format!(
            "{reason}; refused, nothing was changed (restore the mirror from backup, or remove the journal and .ferry/staging to abandon the change)"
        ),
    ))
}
