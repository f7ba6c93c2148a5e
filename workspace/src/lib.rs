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
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use ferry_manifests::digest::{Sha256Digest, hash_reader};
use ferry_manifests::json;
use ferry_manifests::manifest::{
    FileEntry, MANIFEST_PATH, Manifest, ManifestRelease, SCHEMA as MANIFEST_SCHEMA,
    SHA256SUMS_PATH, SIGNATURES_DIR, Selection, Source, render_sha256sums, trusted_comment,
};
use ferry_manifests::minisig::{KeyId, SecretKey, read_small_bytes};
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::release::YankNotice;
use ferry_manifests::time::{Duration, Timestamp};
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
        write_atomic(&self.root.join(STATE_FILE), &json::to_document_bytes(state))
    }

    /// Moves a verified partial download into place (fsync, rename, fsync
    /// of the folder). Call only once the bytes passed every check.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn commit_partial(&self, p: &BundlePath) -> Result<()> {
        let from = self.partial_path(p);
        let to = self.path(p);
        let f =
            ferry_manifests::input::open_regular(&from).map_err(|e| Error::io(&from, "open", e))?;
        f.sync_all().map_err(|e| Error::io(&from, "sync", e))?;
        drop(f);
        let parent = to.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create directory", e))?;
        fs::rename(&from, &to).map_err(|e| Error::io(&to, "rename", e))?;
        sync_dir(parent)
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
                        && joined.ends_with(".minisig"));
                if !signed_part {
                    if p.starts_with_dir(SIGNED_DIR) {
                        return Err(refused(
                            &joined,
                            "unexpected file under ferry/ (only manifest.json, SHA256SUMS and signatures/*.minisig belong there); remove it",
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

fn refused(what: &str, reason: &str) -> Error {
    Error::Refused {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// Writes `bytes` to `path` atomically: a temp file beside it, fsync,
/// rename, fsync of the folder (SPEC §5.2).
///
/// # Errors
/// [`Error::Io`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fsutil::create_dir_all_durable(parent)?;
    fsutil::write_atomic(path, bytes)
}

/// Orders manifest files as the packer and the one-pass verifier need:
/// `ferry/SHA256SUMS` first, then per release (in version order) its notes,
/// then per artifact its upstream signatures followed by the artifact
/// itself, so a streaming verifier has a signature before the bytes it
/// signs arrive.
///
/// # Errors
/// [`Error::Refused`] if a file named by a release is not in `files`.
pub fn ordered_files(
    sums: Option<FileEntry>,
    releases: &[ManifestRelease],
    files: &[FileEntry],
) -> Result<Vec<FileEntry>> {
    let by_path: HashMap<&BundlePath, &FileEntry> = files.iter().map(|f| (&f.path, f)).collect();
    let mut out: Vec<FileEntry> = sums.into_iter().collect();
    let mut sorted: Vec<&ManifestRelease> = releases.iter().collect();
    sorted.sort_by(|a, b| a.version.cmp(&b.version));
    let mut take = |p: &BundlePath| -> Result<()> {
        let f = by_path.get(p).ok_or_else(|| {
            refused(
                p.as_str(),
                "named by a release but missing from the workspace; run `ferry sync` again",
            )
        })?;
        out.push((*f).clone());
        Ok(())
    };
    for r in sorted {
        take(&r.notes)?;
        for a in &r.artifacts {
            for u in &a.upstream {
                take(u.path())?;
            }
            take(&a.path)?;
        }
    }
    Ok(out)
}

/// What [`sign`] did.
#[derive(Debug, Clone, Serialize)]
pub struct SignReport {
    /// Whether a new manifest was written (false: a signature was added to
    /// the existing one).
    pub new_manifest: bool,
    /// The product.
    pub product: Name,
    /// The manifest's sequence.
    pub sequence: u64,
    /// SHA-256 of `ferry/manifest.json`.
    pub manifest_sha256: Sha256Digest,
    /// The signing key.
    pub key_id: String,
    /// The signature file written, relative to the workspace.
    pub signature: String,
    /// Expiry of the manifest.
    pub expires: Timestamp,
    /// Files listed.
    pub files: usize,
    /// Bytes listed.
    pub bytes: u64,
}

/// Options of [`sign`].
#[derive(Debug, Clone, Copy)]
pub struct SignOptions {
    /// How long the manifest stays valid (new manifests only).
    pub expires: Duration,
    /// Refuse a validity longer than this (the policy's `max_validity`).
    pub max_validity: Option<Duration>,
    /// The current time.
    pub now: Timestamp,
    /// The highest sequence the signing side knows was issued elsewhere
    /// (its counter across workspaces): a new manifest's sequence exceeds
    /// it (issue 10: two workspaces signed in one second collided).
    pub issued_elsewhere: u64,
}

/// The sequence of a new manifest (SPEC §3.3, issue 10): above every
/// sequence the signing side can know of — this workspace's last one, the
/// counter across its workspaces, and with `--since` the highest the
/// mirror imported — and never below the clock (seconds), so a fresh
/// workspace still goes forward.
fn next_sequence(
    state: &State,
    opts: &SignOptions,
    since: Option<&ferry_manifests::mirror_state::LoadedState>,
) -> u64 {
    let now_unix = u64::try_from(opts.now.unix()).unwrap_or(0);
    let above = |s: u64| s.saturating_add(1);
    [
        Some(now_unix),
        state.last_sequence.map(above),
        (opts.issued_elsewhere > 0).then(|| above(opts.issued_elsewhere)),
        since.map(|s| above(s.state.manifest_sequence)),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(now_unix)
}

/// `ferry sign`: writes `ferry/manifest.json` (SPEC §3.3) and
/// `ferry/SHA256SUMS` over every workspace file and signs it with `key`
/// into `ferry/signatures/<KEYID>.minisig`; or, when a manifest is already
/// there and the workspace still matches it, adds a signature without
/// changing the manifest.
///
/// # Errors
/// [`Error::Refused`] when files changed since sync or since the manifest
/// was written (exit 1), [`Error::Io`].
pub fn sign(ws: &Workspace, key: &SecretKey, opts: SignOptions) -> Result<SignReport> {
    sign_since(ws, key, opts, None)
}

/// `ferry sign --since STATE.json`: as [`sign`], but a new manifest lists
/// only the releases with at least one file the mirror that exported
/// `since` lacks (each such release with all its files, as a manifest must
/// list every file its releases name), and records `base_state_sha256`.
/// Releases the mirror holds entirely are left out. Co-signing an
/// incremental manifest needs the same state file.
///
/// # Errors
/// As [`sign`]; [`Error::Refused`] when the mirror already holds everything
/// or the state is for another product or another base.
pub fn sign_since(
    ws: &Workspace,
    key: &SecretKey,
    opts: SignOptions,
    since: Option<&ferry_manifests::mirror_state::LoadedState>,
) -> Result<SignReport> {
    let _lock = ws.lock()?;
    let mut state = ws.load_state()?.ok_or_else(|| {
        refused(
            &ws.root.join(STATE_FILE).display().to_string(),
            "missing: run `ferry sync` into this workspace first",
        )
    })?;
    // Re-hash every file; each must be one sync verified, unchanged.
    let listed = ws.list_files()?;
    let recorded: BTreeMap<&BundlePath, &FileEntry> =
        state.files.iter().map(|f| (&f.path, f)).collect();
    let mut current = Vec::with_capacity(listed.len());
    for p in &listed {
        let Some(rec) = recorded.get(p) else {
            return Err(refused(
                p.as_str(),
                "not fetched and verified by `ferry sync`; remove it from the workspace",
            ));
        };
        let (sha256, size) = ws.hash_file(p)?;
        if sha256 != rec.sha256 || size != rec.size {
            return Err(refused(
                p.as_str(),
                &format!(
                    "changed since `ferry sync` verified it (expected {} bytes sha256 {}, found {size} bytes sha256 {sha256}); run `ferry sync` again",
                    rec.size, rec.sha256
                ),
            ));
        }
        current.push(FileEntry {
            path: p.clone(),
            size,
            sha256,
        });
    }
    let manifest_path = ws.root.join(MANIFEST_PATH);
    let (bytes, manifest, new_manifest) = if manifest_path.exists() {
        let bytes = read_small_bytes(&manifest_path, json::MAX_DOCUMENT_BYTES)?;
        let manifest = Manifest::parse(&bytes)?;
        // A co-signer adds a signature to the manifest as written: it need
        // not repeat --since; a --since naming another state is refused.
        if since.is_some() && manifest.base_state_sha256 != since.map(|s| s.sha256) {
            return Err(refused(
                MANIFEST_PATH,
                "was written with another --since state (or without one); co-sign with the same state file, or remove ferry/ to issue a new manifest",
            ));
        }
        check_unchanged(ws, &manifest, &current)?;
        (bytes, manifest, false)
    } else {
        ferry_manifests::decide::validity(
            MANIFEST_PATH,
            Some(opts.now),
            opts.now.plus(opts.expires),
            opts.now,
            opts.max_validity,
        )
        .map_err(|r| {
            r.advise(format!(
                "--expires {} is too long; choose a shorter validity",
                opts.expires
            ))
        })
        .map_err(ferry_manifests::Error::from)?;
        let sequence = next_sequence(&state, &opts, since);
        let (releases, current) = match since {
            None => (state.releases.clone(), current),
            Some(ls) => incremental(&state, current, ls)?,
        };
        let sums_bytes = render_sha256sums(&ordered_files(None, &releases, &current)?);
        let sums = FileEntry {
            path: BundlePath::new(SHA256SUMS_PATH)?,
            size: sums_bytes.len() as u64,
            sha256: Sha256Digest::of(&sums_bytes),
        };
        let files = ordered_files(Some(sums), &releases, &current)?;
        if files.len() != current.len() + 1 {
            let named: std::collections::HashSet<&BundlePath> =
                files.iter().map(|f| &f.path).collect();
            let extra = current
                .iter()
                .find(|f| !named.contains(&f.path))
                .map_or_else(String::new, |f| f.path.to_string());
            return Err(refused(
                &extra,
                "not named by any selected release; run `ferry sync` again",
            ));
        }
        let manifest = Manifest {
            schema: MANIFEST_SCHEMA.to_string(),
            product: state.product.clone(),
            sequence,
            created: opts.now,
            expires: opts.now.plus(opts.expires),
            source: state.source.clone(),
            selection: state.selection.clone(),
            base_state_sha256: since.map(|s| s.sha256),
            releases,
            yanks: state.yanks.clone(),
            files,
        };
        manifest.validate()?;
        let bytes = manifest.to_bytes();
        // The counter moves first: a crash after this never reissues it.
        state.last_sequence = Some(sequence);
        ws.save_state(&state)?;
        // Signatures over an earlier manifest would only be junk in a bundle.
        let sig_dir = ws.root.join(SIGNATURES_DIR);
        match fs::remove_dir_all(&sig_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&sig_dir, "remove", e)),
        }
        write_atomic(&ws.root.join(SHA256SUMS_PATH), &sums_bytes)?;
        write_atomic(&manifest_path, &bytes)?;
        (bytes, manifest, true)
    };
    let digest = Sha256Digest::of(&bytes);
    let comment = trusted_comment(&manifest.product, manifest.sequence, &digest);
    let sig = key.sign(&bytes[..], &comment)?;
    let sig_rel = format!("{SIGNATURES_DIR}/{}.minisig", key.id());
    write_atomic(&ws.root.join(&sig_rel), sig.as_bytes())?;
    Ok(SignReport {
        new_manifest,
        product: manifest.product.clone(),
        sequence: manifest.sequence,
        manifest_sha256: digest,
        key_id: key.id().to_string(),
        signature: sig_rel,
        expires: manifest.expires,
        files: manifest.files.len(),
        bytes: manifest.total_size(),
    })
}

/// The releases (and their files) a mirror in state `ls` lacks.
fn incremental(
    state: &State,
    current: Vec<FileEntry>,
    ls: &ferry_manifests::mirror_state::LoadedState,
) -> Result<(Vec<ManifestRelease>, Vec<FileEntry>)> {
    if ls.state.product != state.product {
        return Err(refused(
            "--since",
            &format!(
                "the mirror state is for product \"{}\", the workspace for \"{}\"",
                ls.state.product, state.product
            ),
        ));
    }
    let by_path: HashMap<&BundlePath, &FileEntry> = current.iter().map(|f| (&f.path, f)).collect();
    let mut keep = Vec::new();
    let mut paths = std::collections::HashSet::new();
    for r in &state.releases {
        let mut named = vec![&r.notes];
        for a in &r.artifacts {
            named.push(&a.path);
            named.extend(
                a.upstream
                    .iter()
                    .map(ferry_manifests::manifest::Upstream::path),
            );
        }
        let lacks = named
            .iter()
            .any(|p| by_path.get(p).is_none_or(|f| !ls.state.holds(f)));
        if lacks {
            paths.extend(named.into_iter().cloned());
            keep.push(r.clone());
        }
    }
    if keep.is_empty() && state.yanks.is_empty() {
        return Err(refused(
            "--since",
            "the mirror already holds every release of this workspace; there is nothing to carry",
        ));
    }
    let current = current
        .into_iter()
        .filter(|f| paths.contains(&f.path))
        .collect();
    Ok((keep, current))
}

/// Checks that an existing manifest still describes the workspace exactly
/// (an incremental one: every file it lists, unchanged).
fn check_unchanged(ws: &Workspace, manifest: &Manifest, current: &[FileEntry]) -> Result<()> {
    let stale = |what: &str, why: &str| {
        refused(
            what,
            &format!(
                "{why} since ferry/manifest.json was written; it no longer describes the workspace, so no signature is added. Run `ferry sync` again (it clears ferry/) or remove ferry/ to issue a new manifest"
            ),
        )
    };
    let listed: HashMap<&BundlePath, &FileEntry> =
        manifest.files.iter().map(|f| (&f.path, f)).collect();
    for f in current {
        match listed.get(&f.path) {
            None if manifest.base_state_sha256.is_some() => {}
            None => return Err(stale(f.path.as_str(), "added")),
            Some(m) if m.sha256 != f.sha256 || m.size != f.size => {
                return Err(stale(f.path.as_str(), "changed"));
            }
            Some(_) => {}
        }
    }
    for f in &manifest.files {
        if f.path.as_str() == SHA256SUMS_PATH {
            let (sha, size) = ws.hash_file(&f.path)?;
            if sha != f.sha256 || size != f.size {
                return Err(stale(SHA256SUMS_PATH, "changed"));
            }
        } else if !current.iter().any(|c| c.path == f.path) {
            return Err(stale(f.path.as_str(), "removed"));
        }
    }
    Ok(())
}

/// The key id of a signature file name `<KEYID>.minisig`, if it is one.
#[must_use]
pub fn signature_key_id(file_name: &str) -> Option<KeyId> {
    KeyId::parse(file_name.strip_suffix(".minisig")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_manifests::manifest::{ManifestArtifact, Upstream};

    fn keys_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys/demo")
    }

    fn bp(s: &str) -> BundlePath {
        BundlePath::new(s).unwrap()
    }

    /// A workspace with one release (notes, one artifact, its signature)
    /// as `ferry sync` would leave it.
    fn synced(dir: &Path, last_sequence: Option<u64>) -> Workspace {
        let ws = Workspace::open(dir).unwrap();
        let files = [
            ("releases/1.0.0/NOTES.md", b"notes".as_slice()),
            ("releases/1.0.0/no-training/app.deb", b"artifact bytes"),
            ("releases/1.0.0/no-training/app.deb.minisig", b"sig"),
        ];
        let mut entries = Vec::new();
        for (p, bytes) in files {
            write_atomic(&ws.path(&bp(p)), bytes).unwrap();
            entries.push(FileEntry {
                path: bp(p),
                size: bytes.len() as u64,
                sha256: Sha256Digest::of(bytes),
            });
        }
        let state = State {
            schema: STATE_SCHEMA.into(),
            product: Name::new("novantra").unwrap(),
            source: Source {
                index_url: "http://127.0.0.1/index.json".into(),
                index_sha256: Sha256Digest::of(b"index"),
                fetched: Timestamp::from_unix(1_795_000_000),
            },
            selection: Selection {
                channels: vec![Name::new("stable").unwrap()],
                profiles: vec![Name::new("no-training").unwrap()],
            },
            releases: vec![ManifestRelease {
                version: Version::new(1, 0, 0),
                channels: vec![Name::new("stable").unwrap()],
                published: Timestamp::from_unix(1_795_000_000),
                supported_from: None,
                required: false,
                yanked: None,
                advisories: Vec::new(),
                notes: bp("releases/1.0.0/NOTES.md"),
                artifacts: vec![ManifestArtifact {
                    path: bp("releases/1.0.0/no-training/app.deb"),
                    profile: Name::new("no-training").unwrap(),
                    platform: Name::new("linux-amd64").unwrap(),
                    format: Name::new("deb").unwrap(),
                    upstream: vec![Upstream::Minisign {
                        path: bp("releases/1.0.0/no-training/app.deb.minisig"),
                        key_id: "8936E40753ACD100".into(),
                    }],
                }],
            }],
            files: entries,
            seen_versions: vec![Version::new(1, 0, 0)],
            yanks: Vec::new(),
            last_sequence,
            index_generated: None,
        };
        ws.save_state(&state).unwrap();
        ws
    }

    fn key(name: &str) -> SecretKey {
        SecretKey::from_file(&keys_dir().join(format!("{name}.key")), None).unwrap()
    }

    fn opts(now: i64) -> SignOptions {
        SignOptions {
            issued_elsewhere: 0,
            expires: Duration::days(30),
            max_validity: None,
            now: Timestamp::from_unix(now),
        }
    }

    #[test]
    fn files_in_packer_order_and_cosign_keeps_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let ws = synced(dir.path(), None);
        let r1 = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap();
        assert!(r1.new_manifest);
        assert_eq!(
            r1.sequence, 1_800_000_000,
            "a fresh workspace starts at now"
        );
        let bytes = fs::read(dir.path().join(MANIFEST_PATH)).unwrap();
        let m = Manifest::parse(&bytes).unwrap();
        let order: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            order,
            [
                SHA256SUMS_PATH,
                "releases/1.0.0/NOTES.md",
                "releases/1.0.0/no-training/app.deb.minisig",
                "releases/1.0.0/no-training/app.deb",
            ]
        );
        let r2 = sign(&ws, &key("org2"), opts(1_800_000_100)).unwrap();
        assert!(!r2.new_manifest);
        assert_eq!(r2.sequence, r1.sequence);
        assert_eq!(fs::read(dir.path().join(MANIFEST_PATH)).unwrap(), bytes);
        // A file changed: no co-signature over a stale manifest.
        fs::write(dir.path().join("releases/1.0.0/NOTES.md"), b"other").unwrap();
        let err = sign(&ws, &key("org3"), opts(1_800_000_200)).unwrap_err();
        assert!(err.to_string().contains("NOTES.md"), "{err}");
        assert_eq!(fs::read(dir.path().join(MANIFEST_PATH)).unwrap(), bytes);
    }

    #[test]
    fn sequence_never_goes_back_even_if_the_clock_does() {
        let dir = tempfile::tempdir().unwrap();
        let ws = synced(dir.path(), Some(2_000_000_000));
        let r = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap();
        assert_eq!(r.sequence, 2_000_000_001);
        ws.clear_signed().unwrap();
        let r = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap();
        assert_eq!(r.sequence, 2_000_000_002);
    }

    #[test]
    fn unknown_files_and_overlong_validity_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ws = synced(dir.path(), None);
        let mut o = opts(1_800_000_000);
        o.max_validity = Some(Duration::days(7));
        assert!(sign(&ws, &key("org1"), o).is_err());
        fs::write(dir.path().join("releases/1.0.0/stray.bin"), b"x").unwrap();
        let err = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap_err();
        assert!(err.to_string().contains("stray.bin"), "{err}");
        assert!(!dir.path().join(MANIFEST_PATH).exists());
    }

    #[test]
    fn partial_downloads_live_under_dot_ferry() {
        let ws = Workspace {
            root: PathBuf::from("/w"),
        };
        assert_eq!(
            ws.partial_path(&bp("releases/1.0.0/p/a.deb")),
            PathBuf::from("/w/.ferry/partial/releases/1.0.0/p/a.deb.part")
        );
    }
}
