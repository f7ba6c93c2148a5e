//! Container images on the mirror (SPEC §3.12, issue 12). A bundle
//! carries an image as a layout folder `releases/<v>/<p>/<name>.oci/`
//! (`oci-layout`, `index.json`, `blobs/sha256/<hex>`). On the mirror the
//! blobs are stored once, content-addressed, under `oci/blobs/sha256/<hex>`,
//! whatever number of versions share them; the layout's two small files
//! stay with their version. The signed index lists every blob (path,
//! size, SHA-256) like any file, so `fsck` re-hashes them, and each image
//! artifact records its root digest, tag, name and the blobs it needs, so
//! `prune` keeps a blob while any kept version needs it and `serve`
//! answers only for blobs of the images it serves.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use ferry_bundle::VerifiedManifest;
use ferry_manifests::digest::OciDigest;
use ferry_manifests::image::{IMAGE_DIR_SUFFIX, ImageRef};
use ferry_manifests::manifest::{FileEntry, FileRole, ManifestArtifact};
use ferry_manifests::path::BundlePath;

use super::index::MirrorIndex;
use crate::error::Result;

/// The mirror's blob store.
pub const OCI_BLOBS_DIR: &str = "oci/blobs/sha256";

/// The top folder of the blob store (beside `releases/`).
pub const OCI_DIR: &str = "oci";

/// What the mirror records of an image artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorImage {
    /// The image's name on the mirror (its layout folder without `.oci`):
    /// served as `<product>/<name>`.
    pub name: String,
    /// Where the vendor published it.
    pub reference: ImageRef,
    /// The vendor's tag, if the manifest names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The pinned root: image manifest or image index.
    pub digest: OciDigest,
    /// Every blob of the layout (root first is not implied), each under
    /// [`OCI_BLOBS_DIR`].
    pub blobs: Vec<OciDigest>,
}

/// The mirror path of a blob.
#[must_use]
pub fn blob_path(d: &OciDigest) -> String {
    format!("{OCI_BLOBS_DIR}/{}", d.hex())
}

/// Where a bundle file goes on the mirror: an image blob into the blob
/// store, anything else at its own path.
#[must_use]
pub fn placement(vm: &VerifiedManifest, path: &BundlePath) -> String {
    match blob_of(vm, path) {
        Some(d) => blob_path(&d),
        None => path.as_str().to_string(),
    }
}

/// The digest a bundle path names if it is a blob of an image artifact.
fn blob_of(vm: &VerifiedManifest, path: &BundlePath) -> Option<OciDigest> {
    let Some(FileRole::ImageFile(_, a)) = vm.role_of(path) else {
        return None;
    };
    let rest = path.as_str().strip_prefix(a.path.as_str())?;
    let hex = rest.strip_prefix("/blobs/sha256/")?;
    format!("sha256:{hex}").parse().ok()
}

/// The store path of a bundle file that is an image blob by its name
/// (`…/<name>.oci/blobs/sha256/<hex>`) and by its listed SHA-256.
#[must_use]
pub fn store_path_of(f: &FileEntry) -> Option<String> {
    let hex = f.sha256.to_hex();
    let suffix = format!("{IMAGE_DIR_SUFFIX}/blobs/sha256/{hex}");
    f.path
        .as_str()
        .ends_with(&suffix)
        .then(|| format!("{OCI_BLOBS_DIR}/{hex}"))
}

/// The record of an image artifact and its size (the sum of its blobs,
/// SPEC §3.12), from the manifest's `files`; `None` for a file artifact.
#[must_use]
pub fn record(
    a: &ManifestArtifact,
    files: &HashMap<&str, &FileEntry>,
) -> Option<(MirrorImage, u64)> {
    let (Some(reference), Some(digest)) = (a.image.clone(), a.digest) else {
        return None;
    };
    let prefix = format!("{}/blobs/sha256/", a.path);
    let mut blobs = Vec::new();
    let mut size = 0u64;
    let mut listed: Vec<&&FileEntry> = files.values().collect();
    listed.sort_by(|x, y| x.path.as_str().cmp(y.path.as_str()));
    for f in listed {
        if let Some(hex) = f.path.as_str().strip_prefix(&prefix)
            && let Ok(d) = format!("sha256:{hex}").parse::<OciDigest>()
        {
            blobs.push(d);
            size = size.saturating_add(f.size);
        }
    }
    let name = a
        .path
        .file_name()
        .strip_suffix(IMAGE_DIR_SUFFIX)
        .unwrap_or(a.path.file_name())
        .to_string();
    Some((
        MirrorImage {
            name,
            reference,
            tag: a.tag.clone(),
            digest,
            blobs,
        },
        size,
    ))
}

/// The blob paths the releases of `index` need.
#[must_use]
pub fn needed_blobs(index: &MirrorIndex) -> BTreeSet<String> {
    index
        .releases
        .iter()
        .flat_map(|r| r.artifacts.iter())
        .filter_map(|a| a.image.as_ref())
        .flat_map(|i| i.blobs.iter().map(blob_path))
        .collect()
}

/// Pairs each staged file (by its bundle path, where it was staged) with
/// its entry on the mirror: an image blob under [`OCI_BLOBS_DIR`].
///
/// # Errors
/// A path error for a mirror path that is no path (never in practice).
pub(crate) fn place(
    staged: Vec<FileEntry>,
    places: &HashMap<String, String>,
) -> Result<Vec<(String, FileEntry)>> {
    staged
        .into_iter()
        .map(|f| {
            let from = f.path.as_str().to_string();
            let entry = match places.get(&from) {
                Some(at) => FileEntry {
                    path: BundlePath::new(at)?,
                    ..f
                },
                None => f,
            };
            Ok((from, entry))
        })
        .collect()
}
