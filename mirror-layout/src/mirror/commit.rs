//! The crash-safe commit of a mirror change (SPEC §5 rule 2, ATTACKS D1).
//!
//! A change (import, prune) first stages everything it adds under
//! `.ferry/staging/<txn>/`, and the files of its publish — views, feed,
//! index and `published.json`, already signed — under
//! `.ferry/staging/<txn>/publish/` (the journal names them; it never
//! carries their text: a 100,000-file mirror's index and views are tens of
//! megabytes, issue 17). Then:
//!
//! 1. the journal `.ferry/commit/<txn>.pending` is written and synced
//!    (an *unarmed* journal: discarded by recovery, the change never happened);
//! 2. it is *armed* by renaming it to `.ferry/commit/journal.json` and
//!    syncing the directory: from here on the change will happen;
//! 3. the staged files are renamed to their final names (each destination
//!    directory synced), removed files are removed;
//! 4. the audit line is appended (the log is rewritten atomically);
//! 5. the views, the feed, then its signature, the index, then its
//!    signature, then `published.json` (all four in one file,
//!    [`super::published`]: the commit point for ferry's readers) are put
//!    in place, each by one atomic rename of its staged copy (signatures,
//!    which are small and in the journal, written atomically); one
//!    `syncfs` then makes the new names durable;
//! 6. files the change removes (prune) are removed, only now, so a reader
//!    of the previous index still finds what it names;
//! 7. the journal and the staging folder are removed.
//!
//! Every step is idempotent, so recovery (done under the lock by every later
//! mutating command and by `fsck`) rolls an armed journal forward from the
//! start. A crash therefore leaves the mirror as before (nothing armed) or,
//! after the next command, as after.
//!
//! `index.json` and `index.json.minisig` are two files, each replaced
//! atomically; between the two renames a reader other than ferry can see a
//! new index with the old signature (it then fails verification and should
//! retry). ferry's readers read `published.json`, one file, and never see
//! a mix; ferry's own commands hold the lock and roll forward first.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::read_small_bytes;
use ferry_manifests::path::BundlePath;

use super::failpoint::hit;
use super::journal::{publish_final_path, staged_publish_path};
use super::published::PUBLISHED_FILE;
use super::{AUDIT_FILE, HINTS_FILE, INDEX_FILE, Mirror, MirrorLock};
use crate::audit::{self, Head};
use crate::error::{Error, Result};
use crate::fsutil::{
    create_dir_all_durable, is_regular_file, sync_dir, sync_filesystem, write_atomic, write_new,
};

/// Schema of the journal.
/// v2 (issue 17): the publish is staged as files, not carried as text.
pub const JOURNAL_SCHEMA: &str = "ferry.mirror-journal/v2";
/// The staging folder (under the mirror root).
pub const STAGING_DIR: &str = ".ferry/staging";
/// The commit folder (under the mirror root).
pub const COMMIT_DIR: &str = ".ferry/commit";
/// The armed journal.
pub const ARMED: &str = ".ferry/commit/journal.json";
/// The folder of a staging folder holding the publish's files.
pub const PUBLISH_STAGE: &str = "publish";

/// One staged file and its final name, both relative to the mirror root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// Under `.ferry/staging/<txn>/`.
    pub from: String,
    /// Under `releases/` or `manifests/`.
    pub to: String,
}

/// Everything a change does, computed before anything final is touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// Always [`JOURNAL_SCHEMA`].
    pub schema: String,
    /// The transaction id (its staging folder's name).
    pub txn: String,
    /// `import` or `prune`.
    pub action: String,
    /// Files to move into place.
    pub renames: Vec<Rename>,
    /// Files to remove (prune), relative to the root.
    #[serde(default)]
    pub removes: Vec<String>,
    /// The audit head the new line follows.
    pub audit_prev: Head,
    /// The new audit line (no newline).
    pub audit_line: String,
    /// The signature of the staged `feed/hints.json`.
    pub hints_sig: String,
    /// The signature of the staged `index.json`.
    pub index_sig: String,
    /// A new `ferry-mirror.toml` naming the mirror key the trust chain
    /// rotated to (SPEC §3.11): written before the index it signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_config: Option<String>,
    /// The view files of the new index (SPEC §3.13), staged under
    /// `publish/` and moved into place, in this order, before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
}

/// A transaction id unique on this host: time, process id, a counter.
#[must_use]
pub fn new_txn(now: ferry_manifests::time::Timestamp) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{}-{n}", now.unix(), std::process::id())
}

pub(super) fn final_path(root: &Path, rel: &str) -> Result<std::path::PathBuf> {
    let p = BundlePath::new(rel)?;
    // The trust chain (SPEC §3.11) moves with the index too.
    if !(p.starts_with_dir("releases")
        || p.starts_with_dir("manifests")
        || p.starts_with_dir(super::images::OCI_DIR)
        || p.starts_with_dir(ferry_manifests::trust::MIRROR_DIR))
    {
        return Err(Error::refused(
            ARMED,
            format!("names \"{rel}\" outside releases/, manifests/, oci/ and trust/ (refused)"),
        ));
    }
    refuse_symlinked_parents(root, p.as_str())?;
    Ok(p.under(root))
}

/// A view's path (SPEC §3.13): under `feed/graph/`, `feed/csaf/` or
/// `tuf/`, below no symlink.
///
/// # Errors
/// [`Error::Refused`] for any other path.
pub(super) fn view_path(root: &Path, rel: &str) -> Result<std::path::PathBuf> {
    if !super::views::is_view_path(rel) {
        return Err(Error::refused(
            ARMED,
            format!("names the view \"{rel}\" outside feed/graph/, feed/csaf/ and tuf/ (refused)"),
        ));
    }
    refuse_symlinked_parents(root, rel)?;
    Ok(root.join(rel))
}

/// Refuses a path of the mirror below a symlink or a non-folder (ATTACKS
/// B4/D7: a planted `releases/x -> /etc` is corruption, never written
/// through). Checks every existing parent of `rel`, below `root`.
///
/// # Errors
/// [`Error::Refused`] naming the link; [`Error::Io`].
pub(crate) fn refuse_symlinked_parents(root: &Path, rel: &str) -> Result<()> {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut p = root.to_path_buf();
    for (i, c) in parts.iter().enumerate().take(parts.len().saturating_sub(1)) {
        p.push(c);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                let kind = if m.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "not a folder"
                };
                return Err(Error::refused(
                    parts[..=i].join("/"),
                    format!(
                        "is {kind} in the mirror (only regular files and folders belong here; nothing is written through it): run ferry-mirror fsck and remove it"
                    ),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&p, "stat", e)),
        }
    }
    Ok(())
}

pub(super) fn staged_path(root: &Path, txn: &str, rel: &str) -> Result<std::path::PathBuf> {
    let prefix = format!("{STAGING_DIR}/{txn}/");
    let inner = rel.strip_prefix(&prefix).ok_or_else(|| {
        Error::refused(
            ARMED,
            format!("names \"{rel}\" outside its staging folder (refused)"),
        )
    })?;
    Ok(root
        .join(STAGING_DIR)
        .join(txn)
        .join(BundlePath::new(inner)?.as_str()))
}

impl Mirror {
    /// Refuses to start a change when the audit log is not the unbroken
    /// chain whose head the signed index records (the commit could not
    /// append to it; `fsck` says more).
    ///
    /// # Errors
    /// [`Error::Refused`], [`Error::Io`].
    pub(crate) fn check_audit_head(&self, index_head: Head) -> Result<()> {
        let log = read_small_bytes(&self.root.join(AUDIT_FILE), audit::MAX_LOG_BYTES)?;
        let (_, head) = audit::verify_chain(&log, AUDIT_FILE)?;
        if head != Some(index_head) {
            return Err(Error::refused(
                AUDIT_FILE,
                format!(
                    "head {head:?} is not the one the signed index records ({index_head:?}); nothing was changed: run ferry-mirror fsck"
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a change whose steps meet something other than a regular
    /// file (or nothing) where they rename or remove one.
    fn check_steps(&self, j: &Journal) -> Result<()> {
        let not_a_file = |rel: &str, what: &str| -> Result<()> {
            let p = final_path(&self.root, rel)?;
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_file() => Ok(()),
                Ok(m) => {
                    let kind = if m.is_dir() {
                        "a folder"
                    } else if m.file_type().is_symlink() {
                        "a symlink"
                    } else {
                        "not a regular file"
                    };
                    Err(Error::refused(
                        rel,
                        format!(
                            "is {kind} where this {} {what} a file; nothing was changed: move it out of the mirror, run ferry-mirror fsck, then try again",
                            j.action
                        ),
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io(&p, "stat", e)),
            }
        };
        for r in &j.renames {
            not_a_file(&r.to, "writes")?;
        }
        for rel in &j.removes {
            not_a_file(rel, "removes")?;
        }
        Ok(())
    }

    /// Passes `result` through; when it is an error and no journal is
    /// armed (nothing final was touched), first removes what transaction
    /// `txn` staged, so a refused change leaves the mirror as it was.
    ///
    /// # Errors
    /// `result`'s.
    pub(crate) fn drop_staging_unless_armed<T>(&self, txn: &str, result: Result<T>) -> Result<T> {
        if result.is_err() && !self.root.join(ARMED).exists() {
            let staging = self.root.join(STAGING_DIR);
            if fs::symlink_metadata(staging.join(txn)).is_ok_and(|m| m.is_dir()) {
                let _ = fs::remove_dir_all(staging.join(txn));
                let _ = sync_dir(&staging);
            }
        }
        result
    }

    /// Writes, syncs and arms `journal`, then rolls it forward.
    ///
    /// # Errors
    /// [`Error::Io`]; after arming, a failure leaves the journal for the
    /// next command's recovery.
    pub(crate) fn commit(&self, _lock: &MirrorLock, journal: &Journal) -> Result<()> {
        // Before anything is armed: every step must be possible, so an
        // armed journal never meets a path it cannot handle (issue 10: a
        // removed file replaced by a folder left every later command
        // failing). What readers would refuse was never staged
        // (`published::sign_publish`).
        self.check_steps(journal)?;
        // Every staged file durable, data and names, before the journal
        // that names them is armed: one syncfs for the whole transaction
        // instead of two fsyncs per file (issue 17).
        sync_filesystem(&self.root)?;
        hit("staging-synced");
        let dir = self.root.join(COMMIT_DIR);
        create_dir_all_durable(&dir)?;
        let pending = dir.join(format!("{}.pending", journal.txn));
        let bytes = serde_json::to_vec_pretty(journal).map_err(|e| {
            Error::refused(pending.display().to_string(), format!("cannot encode: {e}"))
        })?;
        write_new(&pending, &bytes)?;
        sync_dir(&dir)?;
        hit("journal-written");
        let armed = self.root.join(ARMED);
        fs::rename(&pending, &armed).map_err(|e| Error::io(&armed, "arm journal", e))?;
        sync_dir(&dir)?;
        hit("journal-armed");
        self.roll_forward(journal)
    }

    /// Performs an armed journal's steps; each is idempotent.
    pub(super) fn roll_forward(&self, j: &Journal) -> Result<()> {
        let (log, head) = self.audit_log_at_either_end(j)?;
        self.move_staged_into_place(j)?;
        if let Some(text) = &j.new_config {
            write_atomic(&self.root.join(super::CONFIG_FILE), text.as_bytes())?;
            hit("config-written");
        }
        // The audit line, once, and only if it continues the chain.
        if head == Some(j.audit_prev) {
            self.append_audit_line(log, j)?;
        }
        hit("audit-appended");
        self.write_publish(j)?;
        // Removals last: a reader still holding the previous index finds
        // every file it names until the new one is visible.
        self.remove_removed(j)?;
        self.remove_journal_and_staging(j)
    }

    /// The audit log must be where the change started or where it ends
    /// before anything is moved or removed. Returns the log and its head.
    fn audit_log_at_either_end(&self, j: &Journal) -> Result<(Vec<u8>, Option<Head>)> {
        let log = read_small_bytes(&self.root.join(AUDIT_FILE), audit::MAX_LOG_BYTES)?;
        let (_, head) = audit::verify_chain(&log, AUDIT_FILE)?;
        let new_head = Head {
            seq: j.audit_prev.seq.saturating_add(1),
            sha256: Sha256Digest::of(j.audit_line.as_bytes()),
        };
        if head != Some(j.audit_prev) && head != Some(new_head) {
            return Err(Error::refused(
                AUDIT_FILE,
                format!(
                    "head {head:?} is neither the one the interrupted {} started from nor the one it writes; restore the mirror from backup",
                    j.action
                ),
            ));
        }
        Ok((log, head))
    }

    /// Step 3: renames each staged file to its final name; one already in
    /// place is left. The renames are made durable together (one syncfs)
    /// before the index that names them is written; until then the armed
    /// journal redoes any a crash lost (a lost rename leaves the file
    /// staged, and rename is atomic: never both names gone).
    fn move_staged_into_place(&self, j: &Journal) -> Result<()> {
        let root = &self.root;
        for (i, r) in j.renames.iter().enumerate() {
            let from = staged_path(root, &j.txn, &r.from)?;
            let to = final_path(root, &r.to)?;
            let parent = to.parent().unwrap_or(root).to_path_buf();
            if is_regular_file(&from) {
                create_dir_all_durable(&parent)?;
                fs::rename(&from, &to).map_err(|e| Error::io(&to, "rename into place", e))?;
            } else if !is_regular_file(&to) {
                return Err(Error::refused(
                    &r.to,
                    format!(
                        "the interrupted {} staged it but it is neither staged nor in place; restore the mirror from backup",
                        j.action
                    ),
                ));
            }
            hit(&format!("renamed-{}", i + 1));
        }
        if !j.renames.is_empty() {
            sync_filesystem(root)?;
            hit("renames-synced");
        }
        Ok(())
    }

    /// Step 4: appends the journal's line to `log` (the log as read) and
    /// rewrites the log atomically.
    fn append_audit_line(&self, mut log: Vec<u8>, j: &Journal) -> Result<()> {
        log.extend_from_slice(j.audit_line.as_bytes());
        log.push(b'\n');
        audit::verify_chain(&log, AUDIT_FILE)?;
        write_atomic(&self.root.join(AUDIT_FILE), &log)
    }

    /// Step 5: the views, the feed and its signature, the index and its
    /// signature, then `published.json`: each staged file renamed into
    /// place (one left in place is already there), each signature written
    /// atomically; then one `syncfs` before anything is removed.
    fn write_publish(&self, j: &Journal) -> Result<()> {
        let root = &self.root;
        for v in &j.views {
            self.move_publish_file(j, v)?;
        }
        hit("views-written");
        self.move_publish_file(j, HINTS_FILE)?;
        hit("feed-written");
        write_atomic(
            &root.join(format!("{HINTS_FILE}.minisig")),
            j.hints_sig.as_bytes(),
        )?;
        hit("feed-signed");
        self.move_publish_file(j, INDEX_FILE)?;
        hit("index-written");
        write_atomic(
            &root.join(format!("{INDEX_FILE}.minisig")),
            j.index_sig.as_bytes(),
        )?;
        hit("index-signed");
        // ferry's readers see the whole publish at once (published.rs).
        self.move_publish_file(j, PUBLISHED_FILE)?;
        sync_filesystem(root)?;
        hit("published-written");
        Ok(())
    }

    /// Renames the staged publish file `rel` into place; one already moved
    /// (no staged copy, one in place) is left.
    fn move_publish_file(&self, j: &Journal, rel: &str) -> Result<()> {
        let from = staged_publish_path(&self.root, &j.txn, rel)?;
        let to = publish_final_path(&self.root, rel)?;
        if is_regular_file(&from) {
            create_dir_all_durable(to.parent().unwrap_or(&self.root))?;
            fs::rename(&from, &to).map_err(|e| Error::io(&to, "rename into place", e))?;
        } else if !is_regular_file(&to) {
            return Err(Error::refused(
                rel,
                format!(
                    "the interrupted {} staged it but it is neither staged nor in place; restore the mirror from backup",
                    j.action
                ),
            ));
        }
        Ok(())
    }

    /// Step 6: removes the files the change removes (each folder synced)
    /// and the folders that leaves empty.
    fn remove_removed(&self, j: &Journal) -> Result<()> {
        let root = &self.root;
        for (i, rel) in j.removes.iter().enumerate() {
            let p = final_path(root, rel)?;
            if fs::symlink_metadata(&p).is_ok() {
                fs::remove_file(&p).map_err(|e| Error::io(&p, "remove", e))?;
            }
            let dir = p.parent().map(Path::to_path_buf);
            if let Some(d) = &dir
                && d.is_dir()
            {
                sync_dir(d)?;
            }
            remove_emptied_dirs(root, dir)?;
            hit(&format!("removed-{}", i + 1));
        }
        Ok(())
    }

    /// Step 7: the journal, then the staging folder.
    fn remove_journal_and_staging(&self, j: &Journal) -> Result<()> {
        let root = &self.root;
        let armed = root.join(ARMED);
        fs::remove_file(&armed).map_err(|e| Error::io(&armed, "remove journal", e))?;
        sync_dir(&root.join(COMMIT_DIR))?;
        hit("journal-removed");
        let staging = root.join(STAGING_DIR).join(&j.txn);
        if staging.exists() {
            remove_any(&staging)?;
            sync_dir(&root.join(STAGING_DIR))?;
        }
        hit("staging-removed");
        Ok(())
    }
}

/// Removes folders a removal emptied, from `dir` up to `releases/` or
/// `manifests/`, syncing each parent.
fn remove_emptied_dirs(root: &Path, mut dir: Option<std::path::PathBuf>) -> Result<()> {
    while let Some(d) = dir {
        let top = d == root.join("releases")
            || d == root.join("manifests")
            || d == root.join(super::images::OCI_BLOBS_DIR);
        if top || !d.starts_with(root) || fs::remove_dir(&d).is_err() {
            break;
        }
        let up = d.parent().map(Path::to_path_buf);
        if let Some(u) = &up {
            sync_dir(u)?;
        }
        dir = up;
    }
    Ok(())
}

pub(super) fn remove_any(p: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(p).map_err(|e| Error::io(p, "stat", e))?;
    if meta.is_dir() {
        fs::remove_dir_all(p).map_err(|e| Error::io(p, "remove", e))
    } else {
        fs::remove_file(p).map_err(|e| Error::io(p, "remove", e))
    }
}
