//! `ferry sign` (SPEC §4): the manifest of a synced workspace, its sequence,
//! incremental (`--since`) manifests, co-signing.

use ferry_durable::fsutil;
use std::collections::{BTreeMap, HashMap};
use std::fs;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::json;
use ferry_manifests::manifest::{
    FileEntry, MANIFEST_PATH, Manifest, ManifestRelease, SCHEMA as MANIFEST_SCHEMA,
    SHA256SUMS_PATH, SIGNATURES_DIR, render_sha256sums, trusted_comment,
};
use ferry_manifests::minisig::{KeyId, SecretKey, read_small_bytes};
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::time::{Duration, Timestamp};
use serde::Serialize;

use crate::*;

pub(crate) fn refused(what: &str, reason: &str) -> Error {
    Error::Refused {
        what: what.to_string(),
        reason: reason.to_string(),
    }
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
            if a.is_image() {
                // An image is its layout folder: every file under it
                // (SPEC §3.12), after its signatures like a file artifact.
                let mut layout: Vec<&BundlePath> = files
                    .iter()
                    .map(|f| &f.path)
                    .filter(|p| p.starts_with_dir(a.path.as_str()))
                    .collect();
                layout.sort();
                for p in layout {
                    take(p)?;
                }
            } else {
                take(&a.path)?;
            }
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
    let current = rehash_synced(ws, &state)?;
    let manifest_path = ws.root.join(MANIFEST_PATH);
    let (bytes, manifest, new_manifest) = if manifest_path.exists() {
        let (bytes, manifest) = existing_manifest(ws, &manifest_path, since, &current)?;
        (bytes, manifest, false)
    } else {
        let (bytes, manifest) = issue_manifest(ws, &mut state, &opts, since, current)?;
        (bytes, manifest, true)
    };
    let digest = Sha256Digest::of(&bytes);
    let comment = trusted_comment(&manifest.product, manifest.sequence, &digest);
    let sig = key.sign(&bytes[..], &comment)?;
    let sig_rel = format!("{SIGNATURES_DIR}/{}.minisig", key.id());
    fsutil::write_atomic_creating(&ws.root.join(&sig_rel), sig.as_bytes())?;
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

/// Re-hashes every workspace file; each must be one sync verified,
/// unchanged. Returns their entries, in listing order.
fn rehash_synced(ws: &Workspace, state: &State) -> Result<Vec<FileEntry>> {
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
    Ok(current)
}

/// The manifest already at `manifest_path` (bytes and parsed), to co-sign:
/// written with the same `--since` state (if one is given) and still
/// describing the workspace.
fn existing_manifest(
    ws: &Workspace,
    manifest_path: &std::path::Path,
    since: Option<&ferry_manifests::mirror_state::LoadedState>,
    current: &[FileEntry],
) -> Result<(Vec<u8>, Manifest)> {
    let bytes = read_small_bytes(manifest_path, json::MAX_DOCUMENT_BYTES)?;
    let manifest = Manifest::parse(&bytes)?;
    // A co-signer adds a signature to the manifest as written: it need
    // not repeat --since; a --since naming another state is refused.
    if since.is_some() && manifest.base_state_sha256 != since.map(|s| s.sha256) {
        return Err(refused(
            MANIFEST_PATH,
            "was written with another --since state (or without one); co-sign with the same state file, or remove ferry/ to issue a new manifest",
        ));
    }
    check_unchanged(ws, &manifest, current)?;
    Ok((bytes, manifest))
}

/// A new manifest over `current` (with `since`, only what that mirror
/// lacks) under the next sequence, which is recorded first; then
/// `ferry/SHA256SUMS` and `ferry/manifest.json` replace any earlier ones
/// and their signatures. Returns the manifest's bytes and the manifest.
fn issue_manifest(
    ws: &Workspace,
    state: &mut State,
    opts: &SignOptions,
    since: Option<&ferry_manifests::mirror_state::LoadedState>,
    current: Vec<FileEntry>,
) -> Result<(Vec<u8>, Manifest)> {
    check_validity(opts)?;
    let sequence = next_sequence(state, opts, since);
    let (releases, current) = match since {
        None => (state.releases.clone(), current),
        Some(ls) => incremental(state, current, ls)?,
    };
    let (sums_bytes, files) = manifest_files(&releases, &current)?;
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
    ws.save_state(state)?;
    // Signatures over an earlier manifest would only be junk in a bundle.
    let sig_dir = ws.root.join(SIGNATURES_DIR);
    match fs::remove_dir_all(&sig_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&sig_dir, "remove", e)),
    }
    fsutil::write_atomic_creating(&ws.root.join(SHA256SUMS_PATH), &sums_bytes)?;
    fsutil::write_atomic_creating(&ws.root.join(MANIFEST_PATH), &bytes)?;
    Ok((bytes, manifest))
}

/// Refuses a validity (`--expires`) longer than the policy allows.
fn check_validity(opts: &SignOptions) -> Result<()> {
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
    Ok(())
}

/// `ferry/SHA256SUMS` over `current`, and the manifest's files (it first,
/// in [`ordered_files`] order); refuses a file no release names.
fn manifest_files(
    releases: &[ManifestRelease],
    current: &[FileEntry],
) -> Result<(Vec<u8>, Vec<FileEntry>)> {
    let sums_bytes = render_sha256sums(&ordered_files(None, releases, current)?);
    let sums = FileEntry {
        path: BundlePath::new(SHA256SUMS_PATH)?,
        size: sums_bytes.len() as u64,
        sha256: Sha256Digest::of(&sums_bytes),
    };
    let files = ordered_files(Some(sums), releases, current)?;
    if files.len() != current.len() + 1 {
        let named: std::collections::HashSet<&BundlePath> = files.iter().map(|f| &f.path).collect();
        let extra = current
            .iter()
            .find(|f| !named.contains(&f.path))
            .map_or_else(String::new, |f| f.path.to_string());
        return Err(refused(
            &extra,
            "not named by any selected release; run `ferry sync` again",
        ));
    }
    Ok((sums_bytes, files))
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
            if a.is_image() {
                // An image is every file of its layout folder (SPEC §3.12).
                named.extend(
                    current
                        .iter()
                        .map(|f| &f.path)
                        .filter(|p| p.starts_with_dir(a.path.as_str())),
                );
            } else {
                named.push(&a.path);
            }
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
