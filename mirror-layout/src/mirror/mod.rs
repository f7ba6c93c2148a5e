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
mod fsck;
pub mod images;
pub mod import;
pub mod index;
mod journal;
pub mod prune;
mod publish_entry;
pub mod published;
mod recovery;
pub mod repair;
mod signed;
mod stage;
pub mod state;
pub mod views;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::{KeySet, SecretKey, read_small_bytes};
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;

use crate::audit::{self, Action, Head};
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, write_atomic};
use index::MirrorIndex;

pub use fsck::{FsckReport, hash_file};
pub use signed::{read_signed, verify_hints_bytes, verify_index_bytes, verify_signed};

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

impl MirrorConfig {
    /// The file's bytes.
    ///
    /// # Errors
    /// [`Error::Refused`] if it cannot be written as TOML (never in practice).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let text = toml::to_string(self).map_err(|e| Error::Refused {
            what: CONFIG_FILE.into(),
            reason: e.to_string(),
        })?;
        Ok(format!(
            "# ferry mirror: fixed at init; the key changes only through the trust chain\n{text}"
        )
        .into_bytes())
    }
}

/// An open mirror.
#[derive(Debug, Clone)]
pub struct Mirror {
    root: PathBuf,
    config: MirrorConfig,
    /// Where import, repair and fsck report bytes checked (issue 16).
    progress: ferry_durable::progress::ProgressHandle,
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
        write_atomic(&root.join(CONFIG_FILE), &config.to_bytes()?)?;
        let mirror = Mirror {
            root: root.to_path_buf(),
            config,
            progress: Default::default(),
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
            trust: Vec::new(),
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
        if !path.exists() {
            return Err(Error::io(
                &path,
                "not a ferry mirror (give the folder `ferry-mirror init` created): open",
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        let bytes = read_small_bytes(&path, 64 * 1024)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ferry_manifests::Error::config(&path, "not UTF-8"))?;
        let config: MirrorConfig = toml::from_str(text)
            .map_err(|e| ferry_manifests::Error::config(&path, e.to_string().trim().to_string()))?;
        Ok(Mirror {
            root: root.to_path_buf(),
            config,
            progress: Default::default(),
        })
    }

    /// The same mirror, reporting the bytes its import, repair and fsck go
    /// through to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: ferry_durable::progress::ProgressHandle) -> Self {
        self.progress = progress;
        self
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

    /// The keys an armed journal's index may be signed by: the recorded
    /// key, and the key a trust-chain rotation in that journal names.
    ///
    /// # Errors
    /// [`Error::Refused`] for a malformed key.
    pub(crate) fn journal_keys(&self, j: &commit::Journal) -> Result<KeySet> {
        let mut keys = self.recorded_keys()?.keys().to_vec();
        if let Some(text) = &j.new_config {
            let c: MirrorConfig = toml::from_str(text).map_err(|e| Error::Refused {
                what: commit::ARMED.into(),
                reason: format!("its new {CONFIG_FILE} does not parse: {e}"),
            })?;
            if c.product != self.config.product {
                return Err(Error::Refused {
                    what: commit::ARMED.into(),
                    reason: "its new configuration is for another product".into(),
                });
            }
            keys.push(ferry_manifests::minisig::PublicKey::from_base64(
                &c.public_key,
                CONFIG_FILE,
            )?);
        }
        KeySet::new(keys).map_err(|m| Error::Refused {
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
        let p = published::sign_publish(index, key)?;
        // Refused before anything is written when a reader would refuse it.
        let mut envelope = Vec::new();
        p.write_envelope(&mut envelope)?;
        write_atomic(&self.root.join(HINTS_FILE), &p.hints)?;
        write_atomic(
            &self.root.join(format!("{HINTS_FILE}.minisig")),
            p.hints_sig.as_bytes(),
        )?;
        write_atomic(&self.root.join(INDEX_FILE), &p.index)?;
        write_atomic(
            &self.root.join(format!("{INDEX_FILE}.minisig")),
            p.index_sig.as_bytes(),
        )?;
        write_atomic(&self.root.join(published::PUBLISHED_FILE), &envelope)?;
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
