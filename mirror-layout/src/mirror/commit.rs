//! The crash-safe commit of a mirror change (SPEC §5 rule 2, ATTACKS D1).
//!
//! A change (import, prune) first stages everything it adds under
//! `.ferry/staging/<txn>/` and computes the new audit line, feed and index
//! (already signed). Then:
//!
//! 1. the journal `.ferry/commit/<txn>.pending` is written and synced
//!    (an *unarmed* journal: discarded by recovery, the change never happened);
//! 2. it is *armed* by renaming it to `.ferry/commit/journal.json` and
//!    syncing the directory: from here on the change will happen;
//! 3. the staged files are renamed to their final names (each destination
//!    directory synced), removed files are removed;
//! 4. the audit line is appended (the log is rewritten atomically);
//! 5. the feed and its signature, then the index and its signature are
//!    written atomically, then `published.json` (all four in one file,
//!    [`super::published`]): the commit point for ferry's readers;
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
use super::published::{PUBLISHED_FILE, Published, check_publishable};
use super::{AUDIT_FILE, HINTS_FILE, INDEX_FILE, Mirror, MirrorLock, PRIVATE_DIR};
use crate::audit::{self, Head};
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, is_regular_file, sync_dir, write_atomic, write_new};

/// Schema of the journal.
pub const JOURNAL_SCHEMA: &str = "ferry.mirror-journal/v1";
/// The staging folder (under the mirror root).
pub const STAGING_DIR: &str = ".ferry/staging";
/// The commit folder (under the mirror root).
pub const COMMIT_DIR: &str = ".ferry/commit";
/// The armed journal.
pub const ARMED: &str = ".ferry/commit/journal.json";

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
    /// New `feed/hints.json`.
    pub hints: String,
    /// Its signature.
    pub hints_sig: String,
    /// New `index.json`.
    pub index: String,
    /// Its signature.
    pub index_sig: String,
}

impl Journal {
    /// The envelope of the publish this change makes.
    #[must_use]
    pub fn published(&self) -> Published {
        Published::new(&self.index, &self.index_sig, &self.hints, &self.hints_sig)
    }
}

/// A transaction id unique on this host: time, process id, a counter.
#[must_use]
pub fn new_txn(now: ferry_manifests::time::Timestamp) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{}-{n}", now.unix(), std::process::id())
}

fn final_path(root: &Path, rel: &str) -> Result<std::path::PathBuf> {
    let p = BundlePath::new(rel)?;
    if !(p.starts_with_dir("releases") || p.starts_with_dir("manifests")) {
        return Err(Error::refused(
            ARMED,
            format!("names \"{rel}\" outside releases/ and manifests/ (refused)"),
        ));
    }
    refuse_symlinked_parents(root, p.as_str())?;
    Ok(p.under(root))
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

fn staged_path(root: &Path, txn: &str, rel: &str) -> Result<std::path::PathBuf> {
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

    /// Writes, syncs and arms `journal`, then rolls it forward.
    ///
    /// # Errors
    /// [`Error::Io`]; after arming, a failure leaves the journal for the
    /// next command's recovery.
    pub(crate) fn commit(&self, _lock: &MirrorLock, journal: &Journal) -> Result<()> {
        // Before anything is armed: never publish what readers refuse, and
        // every step must be possible, so an armed journal never meets a
        // path it cannot handle (issue 10: a removed file replaced by a
        // folder left every later command failing).
        check_publishable(&journal.published())?;
        self.check_steps(journal)?;
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
        let keys = self.recorded_keys()?;
        let next =
            super::verify_index_bytes(j.index.as_bytes(), j.index_sig.as_bytes(), &keys, ARMED)?;
        super::verify_hints_bytes(j.hints.as_bytes(), j.hints_sig.as_bytes(), &keys, ARMED)?;
        let bad = |reason: String| {
            Err(Error::refused(
                ARMED,
                format!(
                    "{reason}; refused, nothing was changed (restore the mirror from backup, or remove the journal and .ferry/staging to abandon the change)"
                ),
            ))
        };
        // The staging folder is .ferry/staging/<txn>: a plain name only.
        let plain = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
        if j.txn.is_empty() || j.txn == "." || j.txn == ".." || !j.txn.chars().all(plain) {
            return bad(format!(
                "its transaction id \"{}\" is not a plain name",
                j.txn
            ));
        }
        if next.product != self.config.product || j.hints.as_bytes() != next.hints().to_bytes() {
            return bad("its feed or product does not match its signed index".into());
        }
        match self.read_index(&keys) {
            Ok((cur, bytes)) => {
                let done = next.sequence == cur.sequence && bytes == j.index.as_bytes();
                if next.sequence != cur.sequence.saturating_add(1) && !done {
                    return bad(format!(
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
                if on_disk != j.index.as_bytes() {
                    return bad(
                        "the mirror's index does not verify and is not the journal's".into(),
                    );
                }
            }
        }
        let line_head = Head {
            seq: j.audit_prev.seq.saturating_add(1),
            sha256: Sha256Digest::of(j.audit_line.as_bytes()),
        };
        if line_head != next.audit_head {
            return bad("its audit line is not the one its signed index records".into());
        }
        for r in &j.renames {
            let Some(entry) = next.file(&r.to) else {
                return bad(format!(
                    "it moves {} into place, which its signed index does not list",
                    r.to
                ));
            };
            let from = staged_path(&self.root, &j.txn, &r.from)?;
            let to = final_path(&self.root, &r.to)?;
            let p = if is_regular_file(&from) { from } else { to };
            if !is_regular_file(&p) {
                return bad(format!("{} is neither staged nor in place", r.to));
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
        for rel in &j.removes {
            if next.file(rel).is_some() {
                return bad(format!(
                    "it removes {rel}, which its signed index still lists"
                ));
            }
        }
        Ok(())
    }

    /// Performs an armed journal's steps; each is idempotent.
    fn roll_forward(&self, j: &Journal) -> Result<()> {
        let root = &self.root;
        // The audit log must be where the change started or where it ends
        // before anything is moved or removed.
        let log_path = root.join(AUDIT_FILE);
        let mut log = read_small_bytes(&log_path, audit::MAX_LOG_BYTES)?;
        let (_, head) = audit::verify_chain(&log, AUDIT_FILE)?;
        let line = j.audit_line.as_bytes();
        let new_head = Head {
            seq: j.audit_prev.seq.saturating_add(1),
            sha256: Sha256Digest::of(line),
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
        for (i, r) in j.renames.iter().enumerate() {
            let from = staged_path(root, &j.txn, &r.from)?;
            let to = final_path(root, &r.to)?;
            let parent = to.parent().unwrap_or(root).to_path_buf();
            if is_regular_file(&from) {
                create_dir_all_durable(&parent)?;
                fs::rename(&from, &to).map_err(|e| Error::io(&to, "rename into place", e))?;
                sync_dir(&parent)?;
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
        // The audit line, once, and only if it continues the chain.
        if head == Some(j.audit_prev) {
            log.extend_from_slice(line);
            log.push(b'\n');
            audit::verify_chain(&log, AUDIT_FILE)?;
            write_atomic(&log_path, &log)?;
        }
        hit("audit-appended");
        write_atomic(&root.join(HINTS_FILE), j.hints.as_bytes())?;
        hit("feed-written");
        write_atomic(
            &root.join(format!("{HINTS_FILE}.minisig")),
            j.hints_sig.as_bytes(),
        )?;
        hit("feed-signed");
        write_atomic(&root.join(INDEX_FILE), j.index.as_bytes())?;
        hit("index-written");
        write_atomic(
            &root.join(format!("{INDEX_FILE}.minisig")),
            j.index_sig.as_bytes(),
        )?;
        hit("index-signed");
        // ferry's readers see the whole publish at once (published.rs).
        write_atomic(
            &root.join(PUBLISHED_FILE),
            &check_publishable(&j.published())?,
        )?;
        hit("published-written");
        // Removals last: a reader still holding the previous index finds
        // every file it names until the new one is visible.
        for (i, rel) in j.removes.iter().enumerate() {
            let p = final_path(root, rel)?;
            if fs::symlink_metadata(&p).is_ok() {
                fs::remove_file(&p).map_err(|e| Error::io(&p, "remove", e))?;
            }
            let mut dir = p.parent().map(Path::to_path_buf);
            if let Some(d) = &dir
                && d.is_dir()
            {
                sync_dir(d)?;
            }
            // Remove folders the removal emptied, up to releases/ or manifests/.
            while let Some(d) = dir {
                let top = d == root.join("releases") || d == root.join("manifests");
                if top || !d.starts_with(root) || fs::remove_dir(&d).is_err() {
                    break;
                }
                let up = d.parent().map(Path::to_path_buf);
                if let Some(u) = &up {
                    sync_dir(u)?;
                }
                dir = up;
            }
            hit(&format!("removed-{}", i + 1));
        }
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

fn remove_any(p: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(p).map_err(|e| Error::io(p, "stat", e))?;
    if meta.is_dir() {
        fs::remove_dir_all(p).map_err(|e| Error::io(p, "remove", e))
    } else {
        fs::remove_file(p).map_err(|e| Error::io(p, "remove", e))
    }
}
