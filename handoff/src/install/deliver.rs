//! [`deliver`]: the verified artifact into `--to`. One helper per step:
//! fetch the vendor signatures the artifact lists, decide they are enough,
//! refuse a name that would replace a hand-off record, make the private
//! staging folder (and refuse a `--to` others can change), stream the bytes
//! through the checks into it, check the sigstore bundles against the
//! verified digest, and rename the file into place.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ferry_manifests::artifact::{MinisignCheck, StreamCheck};
use ferry_manifests::decide::{self, VendorChecks};
use ferry_manifests::digest::{BUF_SIZE, Sha256Digest};
use ferry_manifests::manifest::Upstream;
use ferry_manifests::minisig::{KeyId, MAX_SIGNATURE_BYTES, SignatureFile};
use ferry_manifests::policy::{TrustPolicy, VendorPolicy};

use crate::record::FILE_NAME;
use crate::{MirrorSource, fetch_small};
use ferry_durable::fsutil::sync_dir;
use ferry_mirror_layout::error::{Error, Result};
use ferry_mirror_layout::mirror::index::MirrorArtifact;

/// A verified artifact in `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The file.
    pub file: PathBuf,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// The vendor signatures that verified.
    pub signatures: Vec<String>,
}

/// Fetches `artifact` from the mirror into a private (0700) staging folder
/// inside `to`, checking size, SHA-256 and the vendor signatures the policy
/// requires while the bytes stream by, then renames it into `to`.
///
/// # Errors
/// [`Error::Manifest`] for a mismatch or bad signature, naming the file
/// (exit 1; nothing is left in `to`); [`Error::Refused`] when a required
/// signature kind is missing; [`Error::Io`] for I/O (exit 3).
pub fn deliver(
    source: &dyn MirrorSource,
    policy: &TrustPolicy,
    artifact: &MirrorArtifact,
    to: &Path,
) -> Result<Delivered> {
    let vendor = policy.vendor()?;
    let loc = source.location(artifact.path.as_str());
    let listed = fetch_signatures(source, vendor, artifact)?;
    let (checks, mut signatures) = required_checks(vendor, &loc, &listed)?;
    let mut check = StreamCheck::new(
        &loc,
        Some((artifact.sha256, artifact.size)),
        artifact.size,
        checks,
    )?;
    refuse_record_name(artifact, &loc)?;
    let staging = staging_dir(to)?;
    let name = artifact.path.file_name();
    let staged = staging.path().join(name);
    stream_to_file(source, artifact, &loc, &mut check, &staged)?;
    let (sha256, size) = check.finish()?;
    signatures.extend(check_sigstore(source, vendor, &listed.sigstore, &sha256)?);
    let dest = to.join(name);
    std::fs::rename(&staged, &dest).map_err(|e| Error::io(&dest, "rename into place", e))?;
    sync_dir(to)?;
    Ok(Delivered {
        file: dest,
        sha256,
        size,
        signatures,
    })
}

/// The vendor signatures an artifact lists.
pub(super) struct Listed {
    /// The minisign signatures by keys the policy trusts, parsed, each with
    /// its location.
    pub(super) minisign: Vec<(SignatureFile, String)>,
    /// The mirror paths of the sigstore bundles.
    pub(super) sigstore: Vec<String>,
}

/// Fetches and parses the artifact's minisign signatures by keys the policy
/// knows (the others are ignored, SPEC §3.4) and lists its sigstore
/// bundles.
pub(super) fn fetch_signatures(
    source: &dyn MirrorSource,
    vendor: &VendorPolicy,
    artifact: &MirrorArtifact,
) -> Result<Listed> {
    let mut listed = Listed {
        minisign: Vec::new(),
        sigstore: Vec::new(),
    };
    for up in &artifact.upstream {
        match up {
            Upstream::Minisign { path, key_id } => {
                let trusted = KeyId::parse(key_id)
                    .ok()
                    .is_some_and(|id| vendor.minisign_keys.get(id).is_some());
                if !trusted {
                    continue; // Signatures by keys the policy does not know are ignored (SPEC §3.4).
                }
                let bytes = fetch_small(source, path.as_str(), MAX_SIGNATURE_BYTES as u64)?;
                let sig = SignatureFile::parse(&bytes, &source.location(path.as_str()))?;
                listed.minisign.push((sig, source.location(path.as_str())));
            }
            Upstream::Sigstore { path, .. } => listed.sigstore.push(path.to_string()),
        }
    }
    Ok(listed)
}

/// The stream checks for the minisign signatures whose key the policy
/// holds, and how each is named in the record (`minisign KEYID`).
/// The minisign checks of `listed`, once the policy's rule on which vendor
/// signatures an artifact must carry (`decide::vendor_checks`) holds for
/// what the mirror lists; the files (`what`) of the signatures checked.
///
/// # Errors
/// The rule's refusal naming `loc` (exit 1).
pub(super) fn required_checks<'a>(
    vendor: &'a VendorPolicy,
    loc: &str,
    listed: &'a Listed,
) -> Result<(Vec<MinisignCheck<'a>>, Vec<String>)> {
    let (checks, signatures) = minisign_checks(vendor, &listed.minisign);
    let present = VendorChecks {
        minisign: !checks.is_empty(),
        sigstore: !listed.sigstore.is_empty(),
    };
    decide::vendor_checks(loc, vendor, present)
        .map_err(|r| r.advise("refusing to hand it over"))
        .map_err(ferry_manifests::Error::from)?;
    Ok((checks, signatures))
}

fn minisign_checks<'a>(
    vendor: &'a VendorPolicy,
    sigs: &'a [(SignatureFile, String)],
) -> (Vec<MinisignCheck<'a>>, Vec<String>) {
    let mut checks = Vec::new();
    let mut signatures = Vec::new();
    for (sig, what) in sigs {
        if let Some(key) = vendor.minisign_keys.get(sig.key_id()) {
            checks.push(MinisignCheck {
                key,
                sig,
                legacy: vendor.legacy,
                what: what.clone(),
            });
            signatures.push(format!("minisign {}", sig.key_id()));
        }
    }
    (checks, signatures)
}

/// Refuses an artifact named like a hand-off record (`handoff.json`,
/// `handoff.N.json`), which it would replace in `--to`.
fn refuse_record_name(artifact: &MirrorArtifact, loc: &str) -> Result<()> {
    let name = artifact.path.file_name();
    let archived = name
        .strip_prefix("handoff.")
        .and_then(|r| r.strip_suffix(".json"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if name == FILE_NAME || archived {
        return Err(Error::refused(
            loc,
            format!(
                "is named like a hand-off record ({FILE_NAME}, handoff.N.json), which it would replace; refusing to hand it over"
            ),
        ));
    }
    Ok(())
}

/// Creates the private (0700) staging folder inside `to`, then refuses a
/// `to` that others could change (see [`refuse_shared_dirs`]).
pub(super) fn staging_dir(to: &Path) -> Result<tempfile::TempDir> {
    let staging = tempfile::Builder::new()
        .prefix(".ferry-staging-")
        .tempdir_in(to)
        .map_err(|e| Error::io(to, "create the staging folder", e))?;
    std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(staging.path(), "set permissions", e))?;
    let me = std::fs::metadata(staging.path())
        .map_err(|e| Error::io(staging.path(), "stat", e))?
        .uid();
    refuse_shared_dirs(to, me)?;
    Ok(staging)
}

/// Streams the artifact from the mirror through `check` into a new file
/// `staged`, synced to disk.
fn stream_to_file(
    source: &dyn MirrorSource,
    artifact: &MirrorArtifact,
    loc: &str,
    check: &mut StreamCheck<'_>,
    staged: &Path,
) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(staged)
        .map_err(|e| Error::io(staged, "create", e))?;
    let mut reader = source
        .open(artifact.path.as_str())
        .map_err(|e| Error::io(loc, "fetch", e))?;
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(loc, "fetch", e)),
        };
        check.update(&buf[..n])?;
        file.write_all(&buf[..n])
            .map_err(|e| Error::io(staged, "write", e))?;
    }
    drop(reader);
    file.sync_all().map_err(|e| Error::io(staged, "sync", e))
}

/// Checks each sigstore bundle against the verified digest; how each is
/// named in the record (`sigstore IDENTITY`).
pub(super) fn check_sigstore(
    source: &dyn MirrorSource,
    vendor: &VendorPolicy,
    paths: &[String],
    sha256: &Sha256Digest,
) -> Result<Vec<String>> {
    let mut signatures = Vec::new();
    for path in paths {
        let bytes = fetch_small(source, path, ferry_manifests::json::MAX_DOCUMENT_BYTES)?;
        let out = ferry_manifests::sigstore::check_vendor_sigstore(
            vendor,
            &bytes,
            &source.location(path),
            sha256,
        )?;
        signatures.push(format!(
            "sigstore {}",
            out.identity.unwrap_or_else(|| "managed key".into())
        ));
    }
    Ok(signatures)
}

/// ATTACKS C11: the installer reads the artifact by path from `to`, so
/// `to` and every folder above it must be changeable only by this user
/// (`me`) or root: writable by others (or by a group other than this
/// process's own) without the sticky bit, or owned by another user, would
/// let someone swap the verified bytes.
fn refuse_shared_dirs(to: &Path, me: u32) -> Result<()> {
    let real = std::fs::canonicalize(to).map_err(|e| Error::io(to, "resolve", e))?;
    // The folders as named too: a symlinked --to is only as safe as the
    // folder holding the link.
    let named = std::path::absolute(to).map_err(|e| Error::io(to, "resolve", e))?;
    // Group-writable is fine for this process's own (user-private) group,
    // as a umask of 002 creates it; any other group counts as other users.
    let my_gid = effective_gid();
    for d in real.ancestors().chain(named.ancestors()) {
        let m = std::fs::metadata(d).map_err(|e| Error::io(d, "stat", e))?;
        let group_shared = m.mode() & 0o020 != 0 && Some(m.gid()) != my_gid;
        let shared = (m.mode() & 0o002 != 0 || group_shared) && m.mode() & 0o1000 == 0;
        if shared || (m.uid() != me && m.uid() != 0) {
            return Err(Error::refused(
                format!("--to {}", to.display()),
                format!(
                    "{} is {}: another user could swap the verified artifact before the installer runs; use a folder only you (or root) can change",
                    d.display(),
                    if shared {
                        "writable by other users"
                    } else {
                        "owned by another user"
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// This process's effective group id (Linux `/proc/self/status`), if known.
fn effective_gid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Gid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
