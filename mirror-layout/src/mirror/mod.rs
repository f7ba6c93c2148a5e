//! The internal mirror (SPEC §3.7): a static tree any web server can serve.
//!
//! ```text
//! ferry-mirror.toml          product, channels, profiles, mirror key id (fixed at init)
//! index.json(.minisig)       ferry.mirror-index/v1, signed by the mirror key
//! feed/hints.json(.minisig)  ferry.hints/v1, signed by the mirror key
//! releases/<version>/…       immutable once written
//! manifests/<sha256>/        every imported manifest and its signatures
//! audit/log.jsonl            hash-chained log; its head is in the index
//! .ferry/                    lock, staging, commit journal (never served)
//! ```
//!
//! Every change takes the exclusive lock (`.ferry/lock`, released by the
//! kernel if the process dies), stages inside the mirror (same filesystem,
//! so renames are atomic), syncs files and directories, and publishes the
//! signed index last: the index is the commit point.

pub mod commit;
pub mod conflicts;
pub mod failpoint;
pub mod import;
pub mod index;
pub mod prune;
pub mod published;
pub mod repair;
pub mod state;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use ferry_manifests::digest::{BUF_SIZE, Sha256Digest, Sha256Hasher};
use ferry_manifests::minisig::{KeySet, Legacy, SecretKey, SignatureFile, read_small_bytes};
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;

use crate::audit::{self, Action, Head};
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, is_regular_file, write_atomic};
use index::{MirrorIndex, hints_comment, index_comment};

/// The mirror's configuration file.
pub const CONFIG_FILE: &str = "ferry-mirror.toml";
/// The signed index.
pub const INDEX_FILE: &str = "index.json";
/// The hint feed.
pub const HINTS_FILE: &str = "feed/hints.json";
/// The audit log.
pub const AUDIT_FILE: &str = "audit/log.jsonl";
/// The private folder (never served).
pub const PRIVATE_DIR: &str = ".ferry";

/// `ferry-mirror.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    /// The product.
    pub product: Name,
    /// Channels accepted.
    pub channels: Vec<Name>,
    /// Profiles accepted.
    pub profiles: Vec<Name>,
    /// The mirror key's id (informational; trust comes from the policy).
    pub key_id: String,
    /// The mirror key's public base64 line (used by `fsck` without `--trust`).
    pub public_key: String,
}

/// An open mirror.
#[derive(Debug, Clone)]
pub struct Mirror {
    root: PathBuf,
    config: MirrorConfig,
}

/// The held exclusive lock; released on drop (or by the kernel on death).
#[derive(Debug)]
pub struct MirrorLock {
    _file: File,
}

impl Mirror {
    /// Creates a mirror in `root` (new or empty).
    ///
    /// # Errors
    /// [`Error::Refused`] if `root` holds anything; [`Error::Io`].
    pub fn init(
        root: &Path,
        product: Name,
        channels: Vec<Name>,
        profiles: Vec<Name>,
        key: &SecretKey,
        now: Timestamp,
    ) -> Result<Mirror> {
        if root.exists()
            && fs::read_dir(root)
                .map_err(|e| Error::io(root, "read directory", e))?
                .next()
                .is_some()
        {
            return Err(Error::Refused {
                what: root.display().to_string(),
                reason: "is not empty; a mirror is created in a new or empty folder".into(),
            });
        }
        if channels.is_empty() || profiles.is_empty() {
            return Err(Error::Refused {
                what: root.display().to_string(),
                reason: "a mirror needs at least one channel and one profile".into(),
            });
        }
        create_dir_all_durable(root)?;
        crate::fsutil::set_public_dir(root)?;
        create_dir_all_durable(&root.join(PRIVATE_DIR))?;
        crate::fsutil::set_private_dir(&root.join(PRIVATE_DIR))?;
        for d in ["releases", "manifests", "feed", "audit"] {
            create_dir_all_durable(&root.join(d))?;
        }
        let pk = key.public_key();
        let config = MirrorConfig {
            product,
            channels,
            profiles,
            key_id: key.id().to_string(),
            public_key: pk.base64().to_string(),
        };
        let text = toml::to_string(&config).map_err(|e| Error::Refused {
            what: CONFIG_FILE.into(),
            reason: e.to_string(),
        })?;
        write_atomic(
            &root.join(CONFIG_FILE),
            format!("# ferry mirror: fixed at init\n{text}").as_bytes(),
        )?;
        let mirror = Mirror {
            root: root.to_path_buf(),
            config,
        };
        let _lock = mirror.lock()?;
        let entry = audit::next_entry(
            None,
            now,
            Action::Init,
            &audit::current_actor(),
            serde_json::json!({"product": mirror.config.product, "channels": mirror.config.channels, "profiles": mirror.config.profiles, "key_id": mirror.config.key_id}),
        );
        let head = mirror.append_audit(&entry)?;
        let index = MirrorIndex {
            schema: index::SCHEMA.to_string(),
            product: mirror.config.product.clone(),
            channels: mirror.config.channels.clone(),
            profiles: mirror.config.profiles.clone(),
            sequence: 1,
            manifest_sequence: 0,
            generated: now,
            expires: None,
            audit_head: head,
            releases: Vec::new(),
            manifests: Vec::new(),
            files: Vec::new(),
        };
        mirror.publish(&index, key)?;
        Ok(mirror)
    }

    /// Opens an existing mirror.
    ///
    /// # Errors
    /// [`Error::Io`] if it is not a mirror; [`Error::Manifest`] for a bad config.
    pub fn open(root: &Path) -> Result<Mirror> {
        let path = root.join(CONFIG_FILE);
        let bytes = read_small_bytes(&path, 64 * 1024)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ferry_manifests::Error::config(&path, "not UTF-8"))?;
        let config: MirrorConfig = toml::from_str(text)
            .map_err(|e| ferry_manifests::Error::config(&path, e.to_string().trim().to_string()))?;
        Ok(Mirror {
            root: root.to_path_buf(),
            config,
        })
    }

    /// The root folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &MirrorConfig {
        &self.config
    }

    /// The public key recorded at init, as a key set.
    ///
    /// # Errors
    /// [`Error::Manifest`] if the recorded key is malformed.
    pub fn recorded_keys(&self) -> Result<KeySet> {
        let pk =
            ferry_manifests::minisig::PublicKey::from_base64(&self.config.public_key, CONFIG_FILE)?;
        KeySet::new(vec![pk]).map_err(|m| Error::Refused {
            what: CONFIG_FILE.into(),
            reason: m,
        })
    }

    /// Takes the exclusive lock without waiting.
    ///
    /// # Errors
    /// [`Error::Locked`] naming the lock file if another process holds it.
    pub fn lock(&self) -> Result<MirrorLock> {
        let path = self.root.join(PRIVATE_DIR).join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, "open lock", e))?;
        match file.try_lock() {
            Ok(()) => Ok(MirrorLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, "lock", e)),
        }
    }

    /// Reads `index.json`, checks its signature with `keys` and the exact
    /// trusted comment, then parses those same bytes.
    ///
    /// # Errors
    /// [`Error::Manifest`] for a bad signature or document.
    pub fn read_index(&self, keys: &KeySet) -> Result<(MirrorIndex, Vec<u8>)> {
        let path = self.root.join(INDEX_FILE);
        let bytes = read_small_bytes(&path, ferry_manifests::json::MAX_DOCUMENT_BYTES)?;
        let sig = read_small_bytes(
            &self.root.join(format!("{INDEX_FILE}.minisig")),
            ferry_manifests::minisig::MAX_SIGNATURE_BYTES as u64,
        )?;
        let index = verify_index_bytes(&bytes, &sig, keys, INDEX_FILE)?;
        if index.product != self.config.product {
            return Err(Error::Refused {
                what: INDEX_FILE.into(),
                reason: format!(
                    "is for product {}, the mirror for {}",
                    index.product, self.config.product
                ),
            });
        }
        Ok((index, bytes))
    }

    /// Writes the hint feed and the index, each signed, each atomically.
    /// The index goes last: it is the commit point.
    ///
    /// # Errors
    /// [`Error::Io`] or a signing error.
    pub fn publish(&self, index: &MirrorIndex, key: &SecretKey) -> Result<()> {
        let hints = index.hints().to_bytes();
        let hints_sig = key.sign(
            &hints[..],
            &hints_comment(&index.product, index.sequence, &Sha256Digest::of(&hints)),
        )?;
        let bytes = index.to_bytes();
        let index_sig = key.sign(
            &bytes[..],
            &index_comment(&index.product, index.sequence, &Sha256Digest::of(&bytes)),
        )?;
        let text = |b: &[u8], what: &str| {
            String::from_utf8(b.to_vec())
                .map_err(|_| Error::refused(what, "is not UTF-8 (a bug: nothing was written)"))
        };
        let env = published::Published::new(
            &text(&bytes, INDEX_FILE)?,
            &index_sig,
            &text(&hints, HINTS_FILE)?,
            &hints_sig,
        );
        let env_bytes = published::check_publishable(&env)?;
        write_atomic(&self.root.join(HINTS_FILE), &hints)?;
        write_atomic(
            &self.root.join(format!("{HINTS_FILE}.minisig")),
            hints_sig.as_bytes(),
        )?;
        write_atomic(&self.root.join(INDEX_FILE), &bytes)?;
        write_atomic(
            &self.root.join(format!("{INDEX_FILE}.minisig")),
            index_sig.as_bytes(),
        )?;
        write_atomic(&self.root.join(published::PUBLISHED_FILE), &env_bytes)?;
        Ok(())
    }

    /// Appends an entry to the audit log (rewritten atomically, so a crash
    /// never leaves a cut line) and returns the new head.
    ///
    /// # Errors
    /// [`Error::Io`], or [`Error::Refused`] if the existing log is broken.
    pub fn append_audit(&self, entry: &audit::Entry) -> Result<Head> {
        let path = self.root.join(AUDIT_FILE);
        let mut log = if path.exists() {
            read_small_bytes(&path, audit::MAX_LOG_BYTES)?
        } else {
            Vec::new()
        };
        let (_, head) = audit::verify_chain(&log, AUDIT_FILE)?;
        if head.map_or(0, |h| h.seq + 1) != entry.seq {
            return Err(Error::Refused {
                what: AUDIT_FILE.into(),
                reason: format!(
                    "entry {} does not follow the head {:?}",
                    entry.seq,
                    head.map(|h| h.seq)
                ),
            });
        }
        let line = entry.to_line();
        log.extend_from_slice(&line);
        log.push(b'\n');
        write_atomic(&path, &log)?;
        Ok(Head {
            seq: entry.seq,
            sha256: Sha256Digest::of(&line),
        })
    }

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
        // The feed: signed and equal to what the index implies.
        match read_signed(&self.root.join(HINTS_FILE), keys) {
            Ok((bytes, comment)) => {
                let expected = index.hints().to_bytes();
                if bytes != expected {
                    report
                        .problems
                        .push(format!("{HINTS_FILE}: does not match the signed index"));
                } else if comment
                    != hints_comment(&index.product, index.sequence, &Sha256Digest::of(&bytes))
                {
                    report.problems.push(format!(
                        "{HINTS_FILE}.minisig: trusted comment does not match"
                    ));
                }
            }
            Err(e) => report.problems.push(e.to_string()),
        }
        // The audit log: an unbroken chain whose head the index records.
        match read_small_bytes(&self.root.join(AUDIT_FILE), audit::MAX_LOG_BYTES)
            .map_err(Error::from)
            .and_then(|b| audit::verify_chain(&b, AUDIT_FILE))
        {
            Ok((_, Some(head))) if head == index.audit_head => {}
            Ok((_, head)) => report.problems.push(format!(
                "{AUDIT_FILE}: head {head:?} is not the one the signed index records ({:?})",
                index.audit_head
            )),
            Err(e) => report.problems.push(e.to_string()),
        }
        // Every listed file, re-hashed; nothing else under releases/ and manifests/.
        let mut listed = std::collections::HashSet::new();
        for f in &index.files {
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
            report.files += 1;
        }
        for top in ["releases", "manifests"] {
            match fs::symlink_metadata(self.root.join(top)) {
                Ok(m) if m.is_dir() => {}
                Ok(m) => {
                    let kind = if m.file_type().is_symlink() {
                        "a symlink in the mirror"
                    } else {
                        "not a folder"
                    };
                    report.problems.push(format!(
                        "{top}: {kind} (only regular files and folders belong here)"
                    ));
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    report.problems.push(format!("{top}: cannot be read ({e})"));
                    continue;
                }
            }
            walk_files(&self.root, &self.root.join(top), &mut |rel, kind| {
                if kind.contains("cannot be") {
                    report.problems.push(format!(
                        "{rel}: a {kind}; fsck cannot vouch for what it cannot read (check its owner and mode)"
                    ));
                } else if kind != "file" {
                    report.problems.push(format!(
                        "{rel}: a {kind} in the mirror (only regular files belong here)"
                    ));
                } else if !listed.contains(rel) {
                    report
                        .problems
                        .push(format!("{rel}: not listed in the signed index"));
                }
            });
        }
        Ok(report)
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

/// Reads a document and its `.minisig`, verifies the signature with `keys`
/// (prehashed only) and returns the bytes and the authenticated trusted
/// comment. The caller parses the bytes and checks the comment binds them.
///
/// # Errors
/// [`Error::Manifest`].
pub fn read_signed(path: &Path, keys: &KeySet) -> Result<(Vec<u8>, String)> {
    let bytes = read_small_bytes(path, ferry_manifests::json::MAX_DOCUMENT_BYTES)?;
    let sig_path = PathBuf::from(format!("{}.minisig", path.display()));
    let sig_bytes = read_small_bytes(
        &sig_path,
        ferry_manifests::minisig::MAX_SIGNATURE_BYTES as u64,
    )?;
    let comment = verify_signed(&bytes, &sig_bytes, keys, &sig_path.display().to_string())?;
    Ok((bytes, comment))
}

/// Verifies detached-signature bytes over document bytes with `keys`
/// (prehashed only); returns the authenticated trusted comment. For
/// documents fetched over HTTP as well as read from disk.
///
/// # Errors
/// [`Error::Manifest`] naming `what` (the signature file or URL).
pub fn verify_signed(bytes: &[u8], sig_bytes: &[u8], keys: &KeySet, what: &str) -> Result<String> {
    let sig = SignatureFile::parse(sig_bytes, what)?;
    let key = keys.get(sig.key_id()).ok_or_else(|| {
        ferry_manifests::Error::signature(
            what,
            format!(
                "made by key {}, which the trust policy does not list as a mirror key",
                sig.key_id()
            ),
        )
    })?;
    key.verify(bytes, &sig, Legacy::Refuse, what)?;
    Ok(sig.trusted_comment().to_string())
}

/// Verifies and parses a mirror index given as bytes (fetched from a
/// mirror URL or read from disk): signature by a trusted mirror key, then
/// parse, then the exact trusted comment.
///
/// # Errors
/// [`Error::Manifest`].
pub fn verify_index_bytes(
    bytes: &[u8],
    sig_bytes: &[u8],
    keys: &KeySet,
    what: &str,
) -> Result<MirrorIndex> {
    let comment = verify_signed(bytes, sig_bytes, keys, &format!("{what}.minisig"))?;
    let index = MirrorIndex::parse(bytes, what)?;
    let expected = index_comment(&index.product, index.sequence, &Sha256Digest::of(bytes));
    if comment != expected {
        return Err(ferry_manifests::Error::signature(
            format!("{what}.minisig"),
            format!("trusted comment does not match the index (expected \"{expected}\")"),
        )
        .into());
    }
    Ok(index)
}

/// Verifies and parses a hint feed given as bytes.
///
/// # Errors
/// [`Error::Manifest`].
pub fn verify_hints_bytes(
    bytes: &[u8],
    sig_bytes: &[u8],
    keys: &KeySet,
    what: &str,
) -> Result<ferry_manifests::hints::Hints> {
    let comment = verify_signed(bytes, sig_bytes, keys, &format!("{what}.minisig"))?;
    let hints = ferry_manifests::hints::Hints::parse(bytes, what)?;
    let expected = hints_comment(&hints.product, hints.sequence, &Sha256Digest::of(bytes));
    if comment != expected {
        return Err(ferry_manifests::Error::signature(
            format!("{what}.minisig"),
            format!("trusted comment does not match the feed (expected \"{expected}\")"),
        )
        .into());
    }
    Ok(hints)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (SecretKey, tempfile::TempDir) {
        let g = ferry_manifests::minisig::generate(None).unwrap();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.key");
        std::fs::write(&p, g.secret).unwrap();
        (SecretKey::from_file(&p, None).unwrap(), d)
    }

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn init_fsck_lock() {
        let (k, _kd) = key();
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("m");
        let m = Mirror::init(
            &root,
            n("novantra"),
            vec![n("stable")],
            vec![n("no-training")],
            &k,
            Timestamp::now(),
        )
        .unwrap();
        let keys = m.recorded_keys().unwrap();
        let r = m.fsck(&keys).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        // A second lock fails while the first is held, and works after.
        let l = m.lock().unwrap();
        assert!(matches!(m.lock(), Err(Error::Locked { .. })));
        drop(l);
        m.lock().unwrap();
        // A planted file is reported; a tampered index is refused.
        std::fs::write(root.join("releases/evil.so"), b"x").unwrap();
        let r = m.fsck(&keys).unwrap();
        assert!(
            r.problems.iter().any(|p| p.contains("releases/evil.so")),
            "{:?}",
            r.problems
        );
        let idx = root.join(INDEX_FILE);
        let text = std::fs::read_to_string(&idx)
            .unwrap()
            .replace("\"manifest_sequence\": 0", "\"manifest_sequence\": 1");
        std::fs::write(&idx, text).unwrap();
        assert!(m.fsck(&keys).is_err());
        // init refuses a non-empty folder.
        assert!(
            Mirror::init(
                &root,
                n("novantra"),
                vec![n("stable")],
                vec![n("no-training")],
                &k,
                Timestamp::now()
            )
            .is_err()
        );
    }
}
