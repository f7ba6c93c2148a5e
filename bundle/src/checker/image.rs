//! Container images in a bundle (SPEC §3.12): an image artifact is its
//! layout folder, every file of which the checker hashes against the
//! manifest like any other. The manifest already binds each
//! `blobs/sha256/<hex>` file to its name (its listed SHA-256 is `<hex>`),
//! so a file that passed is a blob that matches its digest. What is left:
//! the upstream signatures over the root's bytes, and once every file
//! passed, the walk from the pinned digest — every blob the image reaches
//! must be there with its descriptor's size ([`ferry_oci::walk`], the one
//! home of "an image is intact").

use std::collections::HashMap;
use std::io::Read;

use ferry_manifests::decide;
use ferry_manifests::digest::OciDigest;
use ferry_manifests::manifest::ManifestArtifact;

use crate::VerifiedManifest;
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::VendorPolicy;
use ferry_manifests::release::SigKind;
use ferry_oci::layout::{INDEX_FILE, LayoutIndex, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, REF_NAME};
use ferry_oci::model::MAX_MANIFEST_BYTES;
use ferry_oci::walk::{BlobSource, discard, walk};

use super::FileResult;
use crate::deferred::Deferred;
use crate::error::{Error, Result};
use crate::plan::{Plan, plan_upstream};

/// Whether an image file is read into memory while it is checked: small
/// enough to be a manifest or index (those that are JSON are then kept).
pub(super) fn keep(size: u64) -> bool {
    size <= MAX_MANIFEST_BYTES
}

/// Whether `p` is the root blob of the image artifact `a`.
pub(super) fn is_root(a: &ManifestArtifact, p: &BundlePath) -> bool {
    a.digest
        .is_some_and(|d| p.as_str() == format!("{}/blobs/sha256/{}", a.path, d.hex()))
}

/// The upstream signatures of an artifact whose bytes are in `plan` (a
/// file artifact, or an image's root): checked in the plan or awaited, and
/// the vendor checks the policy requires.
pub(super) fn plan_signed(
    plan: &mut Plan,
    a: &ManifestArtifact,
    s: &str,
    vendor: &VendorPolicy,
    upstream: &mut HashMap<String, Vec<u8>>,
    deferred: &mut Deferred,
) -> Result<()> {
    let present = plan_upstream(plan, a, vendor, upstream)?;
    // Recorded only for an artifact whose other signatures come later
    // (their arrival decides `require`): a set an artifact was 8.7 MB of
    // a 100,000-file import.
    if !plan.awaited.is_empty() {
        if !plan.minisign.is_empty() {
            deferred.passed_in_plan(s, SigKind::Minisign);
        }
        if !plan.sigstore.is_empty() {
            deferred.passed_in_plan(s, SigKind::Sigstore);
        }
    }
    decide::vendor_checks(s, vendor, present).map_err(ferry_manifests::Error::from)?;
    Ok(())
}

/// The JSON blobs of the images a bundle carries, by path, kept (only
/// those; layers are dropped) for the walk at the end.
#[derive(Debug, Default)]
pub(super) struct Docs(HashMap<String, Vec<u8>>);

impl Docs {
    /// Takes a finished file's kept bytes: an image file's go here (when
    /// they look like JSON), every other file's back to the caller.
    pub(super) fn take(&mut self, result: &FileResult, kept: Option<Vec<u8>>) -> Option<Vec<u8>> {
        if result.role != "image-file" {
            return kept;
        }
        if let Some(bytes) = kept
            && bytes.first() == Some(&b'{')
        {
            self.0.insert(result.path.clone(), bytes);
        }
        None
    }

    /// Walks every image of `m` from its pinned digest over the files that
    /// passed.
    ///
    /// # Errors
    /// The walk's refusal naming the blob (exit 1).
    pub(super) fn check_images(&self, vm: &VerifiedManifest) -> Result<()> {
        for r in &vm.manifest.releases {
            for a in r.artifacts.iter().filter(|a| a.is_image()) {
                self.check_image(vm, a)?;
            }
        }
        Ok(())
    }

    fn check_image(&self, vm: &VerifiedManifest, a: &ManifestArtifact) -> Result<()> {
        let what = a.path.as_str();
        let digest = a
            .digest
            .expect("an image artifact has a digest (manifest rule)");
        let platform: ferry_oci::PlatformName = a
            .platform
            .as_str()
            .parse()
            .map_err(|m: String| Error::bundle(what, m))?;
        self.check_layout_files(a, &digest)?;
        let source = Checked {
            docs: &self.0,
            manifest: vm,
            dir: what,
        };
        walk(&source, &digest, &platform, &mut discard).map_err(|e| {
            let blob = e.blob().map_or_else(String::new, |b| format!("blob {b}: "));
            Error::bundle(
                what,
                format!("the image is not intact ({blob}{e}); the bundle was altered or packed from a damaged workspace"),
            )
        })?;
        Ok(())
    }
}

impl Docs {
    /// The layout's own files say what the manifest says: `oci-layout` is
    /// version 1.0.0, `index.json` names exactly the pinned root (by the
    /// tag, when there is one), so a tool reading the layout (skopeo, the
    /// mirror) finds the image that was verified.
    fn check_layout_files(&self, a: &ManifestArtifact, digest: &OciDigest) -> Result<()> {
        let what = a.path.as_str();
        let marker = self.0.get(&format!("{what}/{OCI_LAYOUT_FILE}"));
        if marker.map(Vec::as_slice) != Some(OCI_LAYOUT_CONTENT) {
            return Err(Error::bundle(
                format!("{what}/{OCI_LAYOUT_FILE}"),
                format!("is not {}", String::from_utf8_lossy(OCI_LAYOUT_CONTENT)),
            ));
        }
        let at = format!("{what}/{INDEX_FILE}");
        let bytes = self.0.get(&at).map_or(&[][..], Vec::as_slice);
        let index: LayoutIndex = ferry_manifests::json::parse_strict(bytes, &at)?;
        let roots: Vec<&ferry_oci::Descriptor> = index.manifests.iter().collect();
        let tag_ok = |d: &ferry_oci::Descriptor| {
            a.tag
                .as_ref()
                .is_none_or(|t| d.annotations.get(REF_NAME) == Some(t))
        };
        match roots.as_slice() {
            [root] if root.digest == *digest && tag_ok(root) => Ok(()),
            _ => Err(Error::bundle(
                at,
                format!(
                    "does not name exactly the pinned root {digest} (tagged as the manifest says)"
                ),
            )),
        }
    }
}

/// The blobs of one image as the bundle had them: manifests and indexes
/// from memory, every other blob only by its listed size (its bytes were
/// hashed against its digest as they streamed by).
struct Checked<'a> {
    docs: &'a HashMap<String, Vec<u8>>,
    manifest: &'a VerifiedManifest,
    dir: &'a str,
}

impl BlobSource for Checked<'_> {
    fn open(&self, blob: &OciDigest) -> ferry_oci::Result<Box<dyn Read + '_>> {
        let path = format!("{}/blobs/sha256/{}", self.dir, blob.hex());
        match self.docs.get(&path) {
            Some(bytes) => Ok(Box::new(&bytes[..])),
            None => Err(ferry_oci::Error::Missing {
                blob: *blob,
                place: format!("{} (no manifest of that digest in the bundle)", self.dir),
            }),
        }
    }

    fn checked_size(&self, blob: &OciDigest) -> Option<ferry_oci::Result<u64>> {
        let path = format!("{}/blobs/sha256/{}", self.dir, blob.hex());
        Some(
            self.manifest
                .file(&path)
                .map(|f| f.size)
                .ok_or(ferry_oci::Error::Missing {
                    blob: *blob,
                    place: self.dir.to_string(),
                }),
        )
    }
}
