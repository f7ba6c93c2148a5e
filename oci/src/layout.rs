//! OCI image layouts on disk (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`), as `skopeo copy oci:DIR:TAG` reads and writes
//! them, and as `ferry sync` stores an image in the workspace (SPEC §3.12).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use ferry_durable::fsutil;
use ferry_manifests::digest::OciDigest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::media::{self, DocKind};
use crate::model::Descriptor;
use crate::walk::BlobSource;

/// The file that marks an image layout.
pub const OCI_LAYOUT_FILE: &str = "oci-layout";
/// Its only content ferry writes and accepts.
pub const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// The layout's index of roots.
pub const INDEX_FILE: &str = "index.json";
/// Where blobs sit, relative to the layout.
pub const BLOBS_DIR: &str = "blobs/sha256";
/// The annotation that names a root by tag.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The largest `index.json` ferry reads.
const MAX_INDEX_JSON: u64 = 4 * 1024 * 1024;

/// The relative path of a blob in a layout: `blobs/sha256/<hex>`.
#[must_use]
pub fn blob_path(blob: &OciDigest) -> String {
    format!("{BLOBS_DIR}/{}", blob.hex())
}

/// A layout's `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LayoutIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The OCI index type (optional in layouts other tools write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The roots.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl LayoutIndex {
    /// An index with one root named `tag`.
    #[must_use]
    pub fn single(root: &Descriptor, tag: &str) -> Self {
        let mut root = root.clone();
        root.annotations
            .insert(REF_NAME.to_string(), tag.to_string());
        LayoutIndex {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.to_string()),
            manifests: vec![root],
            annotations: BTreeMap::new(),
        }
    }

    /// The bytes ferry writes (compact JSON, fields in a fixed order).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a layout index always serializes")
    }
}

/// An image layout folder, for reading.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
    index: LayoutIndex,
}

impl Layout {
    /// Opens a layout: `oci-layout` must say version 1.0.0 and `index.json`
    /// must parse strictly (ferry's JSON rules) with roots that are image
    /// manifests or indexes.
    ///
    /// # Errors
    /// [`Error::Layout`] naming the file, [`Error::Io`].
    pub fn open(dir: &Path) -> Result<Self> {
        let marker = read_small(&dir.join(OCI_LAYOUT_FILE), 4096)?;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Marker {
            image_layout_version: String,
        }
        let m: Marker = ferry_manifests::json::parse_strict(&marker, OCI_LAYOUT_FILE)
            .map_err(|e| layout_err(&dir.join(OCI_LAYOUT_FILE), e.to_string()))?;
        if m.image_layout_version != "1.0.0" {
            return Err(layout_err(
                &dir.join(OCI_LAYOUT_FILE),
                "imageLayoutVersion is not 1.0.0",
            ));
        }
        let path = dir.join(INDEX_FILE);
        let bytes = read_small(&path, MAX_INDEX_JSON)?;
        let index: LayoutIndex = ferry_manifests::json::parse_strict(&bytes, INDEX_FILE)
            .map_err(|e| layout_err(&path, e.to_string()))?;
        if index.schema_version != 2 {
            return Err(layout_err(&path, "schemaVersion is not 2"));
        }
        for (i, d) in index.manifests.iter().enumerate() {
            if DocKind::of(&d.media_type).is_none() {
                return Err(layout_err(
                    &path,
                    format!("manifests[{i}] is not an image manifest or index"),
                ));
            }
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
            index,
        })
    }

    /// The layout's folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its `index.json`.
    #[must_use]
    pub fn index(&self) -> &LayoutIndex {
        &self.index
    }

    /// The root tagged `tag`, or with `None` the only root.
    ///
    /// # Errors
    /// [`Error::Layout`] when no root or several roots fit, listing the tags.
    pub fn root(&self, tag: Option<&str>) -> Result<&Descriptor> {
        let fits: Vec<&Descriptor> = self
            .index
            .manifests
            .iter()
            .filter(|d| {
                tag.is_none_or(|t| d.annotations.get(REF_NAME).map(String::as_str) == Some(t))
            })
            .collect();
        if let [one] = fits.as_slice() {
            return Ok(one);
        }
        let tags: Vec<&str> = self
            .index
            .manifests
            .iter()
            .map(|d| {
                d.annotations
                    .get(REF_NAME)
                    .map_or("(untagged)", String::as_str)
            })
            .collect();
        Err(layout_err(
            &self.dir.join(INDEX_FILE),
            format!(
                "{} root for {} (the layout has: {})",
                if fits.is_empty() {
                    "no"
                } else {
                    "more than one"
                },
                tag.map_or_else(
                    || "no tag".to_string(),
                    |t| format!("tag \"{}\"", crate::model::escape(t))
                ),
                tags.join(", ")
            ),
        ))
    }

    /// The path of a blob of this layout.
    #[must_use]
    pub fn blob_file(&self, blob: &OciDigest) -> PathBuf {
        self.dir.join(blob_path(blob))
    }
}

impl BlobSource for Layout {
    /// Opens `blobs/sha256/<hex>`, a regular file (never through a link).
    fn open(&self, blob: &OciDigest) -> Result<Box<dyn Read + '_>> {
        let path = self.blob_file(blob);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() => {}
            Ok(_) => return Err(layout_err(&path, "not a regular file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Missing {
                    blob: *blob,
                    place: self.dir.display().to_string(),
                });
            }
            Err(e) => return Err(Error::io(&path, "inspect", e)),
        }
        let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, "open", e))?;
        Ok(Box::new(std::io::BufReader::with_capacity(256 * 1024, f)))
    }
}

/// Writes an image layout: the folder with `oci-layout` and
/// `blobs/sha256/`, then blobs, then `index.json` last (a layout without
/// `index.json` names no image).
#[derive(Debug, Clone)]
pub struct LayoutWriter {
    dir: PathBuf,
}

impl LayoutWriter {
    /// Creates (or reuses) the folder and writes `oci-layout`.
    ///
    /// # Errors
    /// [`Error::Durable`] naming the path.
    pub fn create(dir: &Path) -> Result<Self> {
        fsutil::create_dir_all_durable(&dir.join(BLOBS_DIR))?;
        let marker = dir.join(OCI_LAYOUT_FILE);
        if !marker.exists() {
            fsutil::write_atomic(&marker, OCI_LAYOUT_CONTENT)?;
        }
        Ok(LayoutWriter {
            dir: dir.to_path_buf(),
        })
    }

    /// The layout's folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path a blob has (or will have) in this layout.
    #[must_use]
    pub fn blob_file(&self, blob: &OciDigest) -> PathBuf {
        self.dir.join(blob_path(blob))
    }

    /// Writes `bytes` as a blob (atomically; kept if already there) and
    /// returns its digest.
    ///
    /// # Errors
    /// [`Error::Durable`].
    pub fn put(&self, bytes: &[u8]) -> Result<OciDigest> {
        let d = OciDigest::of(bytes);
        let path = self.blob_file(&d);
        if !path.exists() {
            fsutil::write_atomic(&path, bytes)?;
        }
        Ok(d)
    }

    /// Writes `index.json` naming `root` by `tag`.
    ///
    /// # Errors
    /// [`Error::Durable`].
    pub fn finish(&self, root: &Descriptor, tag: &str) -> Result<()> {
        let bytes = LayoutIndex::single(root, tag).to_bytes();
        fsutil::write_atomic(&self.dir.join(INDEX_FILE), &bytes)?;
        Ok(())
    }
}

fn read_small(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    if bytes.len() as u64 > limit {
        return Err(layout_err(path, format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

fn layout_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Layout {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
