//! # ferry-workspace
//!
//! The connected side's workspace (SPEC §3.3, §4 `sync`, `sign`).
//!
//! The workspace *is* the bundle tree: artifacts, upstream signatures and
//! notes under `releases/`, the manifest and its signatures under `ferry/`
//! once signed. A hidden `.ferry/` folder holds the state file and the
//! partial downloads; it is never listed in a manifest nor packed.
//!
//! Only verified bytes ever sit outside `.ferry/partial/`: `ferry sync`
//! downloads there and renames a file into place once its size, digest and
//! vendor signatures passed ([`Workspace::commit_partial`]).
//!
//! ```text
//! WORKSPACE/
//!   .ferry/state.json              product, index source, selection, releases, last sequence
//!   .ferry/partial/releases/…      downloads in progress (unverified)
//!   releases/<version>/NOTES.md
//!   releases/<version>/<profile>/<name>           the artifact
//!   releases/<version>/<profile>/<name>.minisig   its vendor signature
//!   ferry/manifest.json, ferry/SHA256SUMS, ferry/signatures/<KEYID>.minisig
//! ```

use ferry_durable::fsutil::{self, sync_dir};
use std::fs;
use std::path::{Path, PathBuf};

use ferry_manifests::digest::{Sha256Digest, hash_reader};
use ferry_manifests::json;
use ferry_manifests::manifest::{
    FileEntry, MANIFEST_PATH, ManifestRelease, SHA256SUMS_PATH, SIGNATURES_DIR, Selection, Source,
};
use ferry_manifests::minisig::read_small_bytes;
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::release::YankNotice;
use semver::Version;
use serde::{Deserialize, Serialize};

use ferry_durable::{Error, Result};

/// The hidden state folder.
pub const STATE_DIR: &str = ".ferry";
/// Where partial (unverified) downloads live.
pub const PARTIAL_DIR: &str = ".ferry/partial";
/// The state file.
pub const STATE_FILE: &str = ".ferry/state.json";
/// The schema of the state file.
pub const STATE_SCHEMA: &str = "ferry.workspace-state/v1";
/// The lock file: one `ferry sync` or `ferry sign` at a time.
pub const LOCK_FILE: &str = ".ferry/lock";
/// Present (durably) while a `ferry sync` has renamed files into place that
/// are not yet known to be on disk: see [`Workspace::begin_unsynced`].
pub const UNSYNCED_FILE: &str = ".ferry/unsynced";
/// The folder `ferry sign` writes.
pub const SIGNED_DIR: &str = "ferry";

/// What `ferry sync` recorded about a workspace: everything `ferry sign`
/// needs to write the manifest, and the last sequence issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Always [`STATE_SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// The vendor index the releases came from.
    pub source: Source,
    /// What was selected.
    pub selection: Selection,
    /// The releases carried, as the manifest will list them.
    pub releases: Vec<ManifestRelease>,
    /// Every verified file under `releases/` (size and digest from the index).
    pub files: Vec<FileEntry>,
    /// Every version an earlier sync of this workspace carried.
    #[serde(default)]
    pub seen_versions: Vec<Version>,
    /// Versions the index now marks yanked that an earlier sync carried.
    #[serde(default)]
    pub yanks: Vec<YankNotice>,
    /// The sequence of the last manifest issued from this workspace.
    #[serde(default)]
    pub last_sequence: Option<u64>,
    /// The newest `generated` time of a vendor index this workspace
    /// accepted: an older index is refused (SPEC §5 rule 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_generated: Option<ferry_manifests::time::Timestamp>,
}

impl State {
    /// Whether `other` would produce the same manifest content (releases,
    /// files, yanks), ignoring provenance timestamps.
    #[must_use]
    pub fn same_content(&self, other: &State) -> bool {
        self.product == other.product
            && self.selection == other.selection
            && self.releases == other.releases
            && self.files == other.files
            && self.yanks == other.yanks
    }
}

/// The held workspace lock (released on drop).
#[derive(Debug)]
pub struct WorkspaceLock {
    _file: fs::File,
}

/// A workspace folder.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Opens (creating if needed) a workspace at `root`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn open(root: &Path) -> Result<Self> {
        let partial = root.join(PARTIAL_DIR);
        fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, "create directory", e))?;
        Ok(Workspace {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing workspace (never creates one).
    ///
    /// # Errors
    /// [`Error::Io`] if `root` has no state file.
    pub fn existing(root: &Path) -> Result<Self> {
        let state = root.join(STATE_FILE);
        if !state.is_file() {
            return Err(Error::io(
                &state,
                "open",
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a ferry workspace (run `ferry sync --workspace DIR` first)",
                ),
            ));
        }
        Ok(Workspace {
            root: root.to_path_buf(),
        })
    }

    /// Takes the workspace lock (one `sync` or `sign` at a time); held
    /// until the returned guard is dropped.
    ///
    /// # Errors
    /// [`Error::Locked`] if another ferry process holds it, [`Error::Io`].
    pub fn lock(&self) -> Result<WorkspaceLock> {
        let path = self.root.join(LOCK_FILE);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create directory", e))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, "open", e))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(WorkspaceLock { _file: file }),
            Err(fs4::TryLockError::WouldBlock) => Err(Error::Locked { path }),
            Err(fs4::TryLockError::Error(e)) => Err(Error::io(&path, "lock", e)),
        }
    }

    /// The root folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a bundle path sits in the workspace.
    #[must_use]
    pub fn path(&self, p: &BundlePath) -> PathBuf {
        p.under(&self.root)
    }

    /// Where the partial download of a bundle path sits.
    #[must_use]
    pub fn partial_path(&self, p: &BundlePath) -> PathBuf {
        let mut out = p.under(&self.root.join(PARTIAL_DIR));
        let name = format!("{}.part", p.file_name());
        out.set_file_name(name);
        out
    }

    /// Loads the state file, if any.
    ///
    /// # Errors
    /// [`Error::Manifest`] for a malformed file, [`Error::Io`].
    pub fn load_state(&self) -> Result<Option<State>> {
        let path = self.root.join(STATE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = read_small_bytes(&path, json::MAX_DOCUMENT_BYTES)?;
        Ok(Some(json::parse_document(
            &bytes,
            &path.display().to_string(),
            STATE_SCHEMA,
        )?))
    }

    /// Writes the state file atomically.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save_state(&self, state: &State) -> Result<()> {
        fsutil::write_atomic_creating(&self.root.join(STATE_FILE), &json::to_document_bytes(state))
    }

    /// Moves a verified partial download into place (a rename). Call only
    /// once the bytes passed every check, and only between
    /// [`Workspace::begin_unsynced`] and [`Workspace::make_durable`]: the
    /// file reaches the disk with every other file of the sync, in one
    /// filesystem sync, not one `fsync` a file (issue 17: a sync of 10,000
    /// small files spent most of its time in 30,000 `fsync` calls).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn commit_partial(&self, p: &BundlePath) -> Result<()> {
        let from = self.partial_path(p);
        let to = self.path(p);
        let parent = to.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create directory", e))?;
        fs::rename(&from, &to).map_err(|e| Error::io(&to, "rename", e))
    }

    /// Marks the start of a sync's renames, durably, and says whether the
    /// previous sync was interrupted before its files were known to be on
    /// disk (after a power loss, such a file may be torn: the sync then
    /// downloads it again instead of refusing it as a changed file).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn begin_unsynced(&self) -> Result<bool> {
        let marker = self.root.join(UNSYNCED_FILE);
        let interrupted = marker.exists();
        if !interrupted {
            fsutil::write_atomic_creating(&marker, b"a ferry sync is renaming files into place\n")?;
        }
        Ok(interrupted)
    }

    /// Makes every file renamed since [`Workspace::begin_unsynced`] durable
    /// with one sync of the workspace's filesystem, then removes the marker.
    /// Called at the end of every sync, also a failed one.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn make_durable(&self) -> Result<()> {
        fsutil::sync_filesystem(&self.root)?;
        let marker = self.root.join(UNSYNCED_FILE);
        match fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&marker, "remove", e)),
        }
        sync_dir(&self.root.join(STATE_DIR))
    }

    /// Removes `ferry/` (manifest, sums, signatures): they no longer
    /// describe the workspace once a sync changed it.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn clear_signed(&self) -> Result<()> {
        let dir = self.root.join(SIGNED_DIR);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&dir, "remove", e)),
        }
    }

    /// Removes a file the workspace no longer carries (and empty folders
    /// above it, up to `releases/`).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn remove_file(&self, p: &BundlePath) -> Result<()> {
        let path = self.path(p);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, "remove", e)),
        }
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == self.root || fs::remove_dir(&d).is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    /// Every file of the bundle tree but the manifest, its signatures and
    /// `ferry/SHA256SUMS`, sorted; `.ferry/` is skipped. Refuses symlinks,
    /// special files, unsafe names and unexpected files under `ferry/`.
    ///
    /// # Errors
    /// [`Error::Refused`], [`Error::Io`].
    pub fn list_files(&self) -> Result<Vec<BundlePath>> {
        let mut out = Vec::new();
        self.walk(&self.root, &mut Vec::new(), &mut out)?;
        out.sort();
        Ok(out)
    }

    fn walk(&self, dir: &Path, rel: &mut Vec<String>, out: &mut Vec<BundlePath>) -> Result<()> {
        let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, "read directory", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, "read directory", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if rel.is_empty() && name == STATE_DIR {
                continue;
            }
            rel.push(name);
            let joined = rel.join("/");
            let ft = entry
                .file_type()
                .map_err(|e| Error::io(entry.path(), "stat", e))?;
            if ft.is_dir() {
                self.walk(&entry.path(), rel, out)?;
            } else if ft.is_file() {
                let p = BundlePath::new(&joined)?;
                let signed_part = joined == MANIFEST_PATH
                    || joined == SHA256SUMS_PATH
                    || (p.parent().is_some_and(|d| d.as_str() == SIGNATURES_DIR)
                        && joined.ends_with(".minisig"))
                    || joined
                        .strip_prefix(ferry_manifests::trust::BUNDLE_DIR)
                        .and_then(|r| r.strip_prefix('/'))
                        .is_some_and(|r| ferry_manifests::trust::ChainFile::of(r).is_some());
                if !signed_part {
                    if p.starts_with_dir(SIGNED_DIR) {
                        return Err(refused(
                            &joined,
                            "unexpected file under ferry/ (only manifest.json, SHA256SUMS, signatures/*.minisig and the trust chain under trust/ belong there); remove it",
                        ));
                    }
                    out.push(p);
                }
            } else {
                return Err(refused(
                    &joined,
                    "not a regular file (symlinks and special files never go into a bundle); remove it",
                ));
            }
            rel.pop();
        }
        Ok(())
    }

    /// Hashes a workspace file.
    ///
    /// # Errors
    /// [`Error::Manifest`] / [`Error::Io`].
    pub fn hash_file(&self, p: &BundlePath) -> Result<(Sha256Digest, u64)> {
        let path = self.path(p);
        let f =
            ferry_manifests::input::open_regular(&path).map_err(|e| Error::io(&path, "open", e))?;
        Ok(hash_reader(f, u64::MAX, p.as_str())?)
    }
}

mod chain;
mod sign;

use sign::refused;

pub use chain::carry_trust_chain;
pub use sign::{SignOptions, SignReport, ordered_files, sign, sign_since, signature_key_id};

#[cfg(test)]
mod tests;
