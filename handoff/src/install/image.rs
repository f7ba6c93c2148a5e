//! The hand-off of a container image (SPEC §3.12, issue 12): the image is
//! walked from its pinned root digest in the mirror's blob store
//! (`oci/blobs/sha256/`, from a folder or over HTTP alike), every blob
//! checked against its digest while it is copied into an OCI archive
//! `<name>-<version>.oci.tar` in a private staging folder inside `--to`;
//! only a complete, verified archive is renamed into place. One wrong
//! byte anywhere and nothing is handed over (the installer never runs).

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ferry_manifests::artifact::StreamCheck;
use ferry_manifests::digest::{OciDigest, Sha256Hasher};
use ferry_manifests::policy::TrustPolicy;
use ferry_mirror_layout::error::{Error, Result};
use ferry_mirror_layout::mirror::images::{MirrorImage, OCI_BLOBS_DIR, blob_path};
use ferry_mirror_layout::mirror::index::MirrorArtifact;
use ferry_oci::model::MAX_MANIFEST_BYTES;
use ferry_oci::{BlobSource, PlatformName};

use super::deliver::{Delivered, check_sigstore, fetch_signatures, required_checks, staging_dir};
use crate::{MirrorSource, fetch_small};
use ferry_durable::fsutil::sync_dir;

/// Verifies `image` (the image of `artifact`, release `version`) from the
/// mirror into `to` as an OCI archive.
///
/// # Errors
/// [`Error::Refused`] naming the blob for a missing, damaged or malformed
/// one, or a vendor check the policy needs and the image lacks (exit 1;
/// nothing is left in `to`); [`Error::Io`] for I/O (exit 3).
pub(super) fn deliver_image(
    source: &dyn MirrorSource,
    policy: &TrustPolicy,
    artifact: &MirrorArtifact,
    image: &MirrorImage,
    version: &str,
    to: &Path,
) -> Result<Delivered> {
    let vendor = policy.vendor()?;
    let loc = source.location(artifact.path.as_str());
    let listed = fetch_signatures(source, vendor, artifact)?;
    // The root's bytes, checked against the pinned digest and the vendor's
    // minisign signatures over them (docs/connected-side.md), are the
    // bytes the walk starts from: verified once, used as verified.
    let root_rel = blob_path(&image.digest);
    let root_bytes = fetch_small(source, &root_rel, MAX_MANIFEST_BYTES)?;
    let (checks, mut signatures) = required_checks(vendor, &loc, &listed)?;
    let size = root_bytes.len() as u64;
    let root_loc = source.location(&root_rel);
    let mut check = StreamCheck::new(&root_loc, Some((image.digest.0, size)), size, checks)?;
    check.update(&root_bytes)?;
    check.finish()?;
    let platform: PlatformName = artifact
        .platform
        .as_str()
        .parse()
        .map_err(|e| Error::refused(&loc, format!("platform: {e}")))?;
    let staging = staging_dir(to)?;
    let name = format!("{}-{version}.oci.tar", image.name);
    let staged = staging.path().join(&name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&staged)
        .map_err(|e| Error::io(&staged, "create", e))?;
    let mut out = Hashing {
        inner: file,
        hasher: Sha256Hasher::new(),
    };
    let blobs = MirrorBlobs {
        source,
        root: (image.digest, &root_bytes),
    };
    ferry_oci::archive::write_archive(&blobs, &image.digest, &platform, version, &mut out, &staged)
        .map_err(|e| oci_error(&loc, e))?;
    out.inner
        .sync_all()
        .map_err(|e| Error::io(&staged, "sync", e))?;
    let (sha256, size) = out.hasher.finish();
    signatures.extend(check_sigstore(
        source,
        vendor,
        &listed.sigstore,
        &image.digest.0,
    )?);
    let dest = to.join(&name);
    std::fs::rename(&staged, &dest).map_err(|e| Error::io(&dest, "rename into place", e))?;
    sync_dir(to)?;
    Ok(Delivered {
        file: dest,
        sha256,
        size,
        signatures,
    })
}

/// The reference the installer pulls the image by (`FERRY_IMAGE`):
/// `<mirror host>/<product>/<name>@sha256:…` for a mirror read over HTTP
/// (its `serve` is the registry); from a folder there is no registry, so
/// `<product>/<name>@sha256:…` (the installer loads `FERRY_ARTIFACT`).
#[must_use]
pub fn image_reference(mirror: &str, product: &str, image: &MirrorImage) -> String {
    let host = ["https://", "http://"]
        .iter()
        .find_map(|s| mirror.strip_prefix(s))
        .and_then(|rest| rest.split('/').next())
        .filter(|h| !h.is_empty())
        .map(|h| h.rsplit_once('@').map_or(h, |(_, host)| host));
    let repo = format!("{product}/{}@{}", image.name, image.digest);
    match host {
        Some(h) => format!("{h}/{repo}"),
        None => repo,
    }
}

/// The mirror's blob store as a [`BlobSource`], the root from the bytes
/// already checked.
struct MirrorBlobs<'a> {
    source: &'a dyn MirrorSource,
    root: (OciDigest, &'a [u8]),
}

impl BlobSource for MirrorBlobs<'_> {
    fn open(&self, blob: &OciDigest) -> ferry_oci::Result<Box<dyn Read + '_>> {
        if *blob == self.root.0 {
            return Ok(Box::new(self.root.1));
        }
        let rel = blob_path(blob);
        self.source.open(&rel).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ferry_oci::Error::Missing {
                    blob: *blob,
                    place: self.source.location(OCI_BLOBS_DIR),
                }
            } else {
                ferry_oci::Error::Io {
                    path: self.source.location(&rel).into(),
                    action: "fetch",
                    source: e,
                }
            }
        })
    }
}

/// A verification failure refuses the hand-off (exit 1) naming the
/// artifact, the cause naming the blob; I/O stays I/O (exit 3).
fn oci_error(loc: &str, e: ferry_oci::Error) -> Error {
    match e {
        ferry_oci::Error::Io {
            path,
            action,
            source,
        } => Error::io(path, action, source),
        ferry_oci::Error::Read { blob, source } => Error::io(blob.to_string(), "fetch", source),
        ferry_oci::Error::Durable(e) => e,
        e => Error::refused(
            loc,
            format!("{e}; refusing to hand it over (run ferry-mirror fsck on the mirror)"),
        ),
    }
}

/// A writer that hashes what it passes on (the archive's own SHA-256 and
/// size, for the record).
struct Hashing<W> {
    inner: W,
    hasher: Sha256Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_reference_names_the_mirror_host() {
        let image = MirrorImage {
            name: "onprem".into(),
            reference: "registry.novantra.example/novantra/onprem".parse().unwrap(),
            tag: None,
            digest: OciDigest::of(b"m"),
            blobs: Vec::new(),
        };
        let d = image.digest;
        assert_eq!(
            image_reference("http://127.0.0.1:8080/", "novantra", &image),
            format!("127.0.0.1:8080/novantra/onprem@{d}")
        );
        assert_eq!(
            image_reference("https://u:p@mirror.internal/novantra/", "novantra", &image),
            format!("mirror.internal/novantra/onprem@{d}")
        );
        assert_eq!(
            image_reference("/srv/mirror", "novantra", &image),
            format!("novantra/onprem@{d}")
        );
    }
}
