//! Descriptors, image manifests and image indexes, parsed strictly from
//! bytes already checked against their digest (SPEC §3.4: verify the
//! bytes, then parse those same bytes).
//!
//! Strict means: one JSON value, no duplicate keys at any depth, no
//! trailing data (ferry's [`ferry_manifests::json::parse_strict`]); only
//! the fields the OCI image spec (v1.1) and Docker schema 2 define
//! (`deny_unknown_fields`: a vendor-signed digest pins these bytes, so an
//! unknown field is not an attacker's, but ferry would not know what it
//! means and refuses rather than guesses); `schemaVersion` 2; a document's
//! `mediaType` agrees with the descriptor that points at it and with its
//! shape; every digest `sha256:` + 64 lowercase hex digits.

use std::collections::BTreeMap;

use ferry_manifests::digest::OciDigest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::media::{self, DocKind};
use crate::verify::BlobCheck;

/// The largest manifest or index ferry reads (4 MiB, the limit registries
/// such as distribution apply too).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// A content descriptor: what a blob is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the blob.
    pub media_type: String,
    /// Its digest.
    pub digest: OciDigest,
    /// Its size in bytes.
    pub size: u64,
    /// Other places the blob may be found (carried, never followed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Embedded content (base64), carried as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The artifact type of the blob it points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The platform an index entry is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A plain descriptor.
    #[must_use]
    pub fn new(media_type: &str, digest: OciDigest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            artifact_type: None,
            platform: None,
        }
    }
}

/// The platform of an index entry (OCI image index, Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// OS version (Windows images).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// CPU features (Docker manifest lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// An image manifest: one config and its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    /// Its media type (OCI or Docker schema 2).
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
}

/// An image index: a manifest per platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIndex {
    /// Its media type (OCI index or Docker manifest list).
    pub media_type: String,
    /// The manifests it lists.
    pub manifests: Vec<Descriptor>,
}

/// A parsed manifest or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// An image manifest.
    Manifest(Box<ImageManifest>),
    /// An image index.
    Index(ImageIndex),
}

impl Document {
    /// The document's media type.
    #[must_use]
    pub fn media_type(&self) -> &str {
        match self {
            Document::Manifest(m) => &m.media_type,
            Document::Index(i) => &i.media_type,
        }
    }
}

/// Every field either document kind may carry; which ones are present
/// decides the kind, and the rest must be absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDoc {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    #[allow(dead_code)] // parsed to refuse duplicate or ill-typed keys; carried in the bytes
    annotations: BTreeMap<String, String>,
}

/// What the pointer to a document says about it: its digest, and where
/// known its size and media type.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The digest the bytes must have.
    pub digest: &'a OciDigest,
    /// The size the bytes must have, if a descriptor gave one.
    pub size: Option<u64>,
    /// The media type the document must have, if a descriptor gave one.
    pub media_type: Option<&'a str>,
}

impl<'a> Expect<'a> {
    /// Only a digest (a pinned root).
    #[must_use]
    pub fn digest(digest: &'a OciDigest) -> Self {
        Expect {
            digest,
            size: None,
            media_type: None,
        }
    }

    /// Everything a descriptor says.
    #[must_use]
    pub fn descriptor(d: &'a Descriptor) -> Self {
        Expect {
            digest: &d.digest,
            size: Some(d.size),
            media_type: Some(&d.media_type),
        }
    }
}

/// Checks `bytes` against `expect` (size cap, size, SHA-256), then parses
/// those same bytes as a manifest or index.
///
/// # Errors
/// [`Error::TooLarge`], [`Error::SizeMismatch`], [`Error::DigestMismatch`]
/// before any parsing; [`Error::Format`] naming the field after.
pub fn parse_document(bytes: &[u8], expect: Expect<'_>) -> Result<Document> {
    let blob = *expect.digest;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(Error::TooLarge {
            blob,
            what: "an image manifest or index",
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let mut check = BlobCheck::new(blob, expect.size.unwrap_or(bytes.len() as u64));
    check.update(bytes)?;
    check.finish()?;
    let raw: RawDoc =
        ferry_manifests::json::parse_strict(bytes, &blob.to_string()).map_err(|e| match e {
            ferry_manifests::Error::Format { field, message, .. } => {
                Error::format(blob, field, message)
            }
            other => Error::format(blob, "(document)", other.to_string()),
        })?;
    build(blob, raw, expect.media_type)
}

fn build(blob: OciDigest, raw: RawDoc, pointed: Option<&str>) -> Result<Document> {
    if raw.schema_version != 2 {
        return Err(Error::format(
            blob,
            "schemaVersion",
            format!("{} (ferry reads schema version 2 only)", raw.schema_version),
        ));
    }
    let kind = doc_kind(blob, &raw, pointed)?;
    let media_type = raw.media_type.clone().unwrap_or_else(|| {
        match kind {
            DocKind::Manifest => media::OCI_MANIFEST,
            DocKind::Index => media::OCI_INDEX,
        }
        .to_string()
    });
    let docker = media_type.starts_with("application/vnd.docker.");
    if docker && (raw.artifact_type.is_some() || raw.subject.is_some()) {
        return Err(Error::format(
            blob,
            "(document)",
            "a Docker schema 2 document has no artifactType or subject",
        ));
    }
    if let Some(s) = &raw.subject {
        check_descriptor(blob, "subject", s)?;
    }
    match kind {
        DocKind::Manifest => {
            let (Some(config), Some(layers), None) = (raw.config, raw.layers, raw.manifests) else {
                return Err(Error::format(
                    blob,
                    "(document)",
                    "an image manifest has config and layers, and no manifests",
                ));
            };
            check_descriptor(blob, "config", &config)?;
            for (i, l) in layers.iter().enumerate() {
                check_descriptor(blob, &format!("layers[{i}]"), l)?;
            }
            Ok(Document::Manifest(Box::new(ImageManifest {
                media_type,
                config,
                layers,
            })))
        }
        DocKind::Index => {
            let (None, None, Some(manifests)) = (raw.config, raw.layers, raw.manifests) else {
                return Err(Error::format(
                    blob,
                    "(document)",
                    "an image index has manifests, and no config or layers",
                ));
            };
            for (i, m) in manifests.iter().enumerate() {
                check_descriptor(blob, &format!("manifests[{i}]"), m)?;
            }
            Ok(Document::Index(ImageIndex {
                media_type,
                manifests,
            }))
        }
    }
}

/// The kind of a document: its own `mediaType` (which must be a manifest
/// or index type, and the one the descriptor named), or for an OCI document
/// without one, its shape.
fn doc_kind(blob: OciDigest, raw: &RawDoc, pointed: Option<&str>) -> Result<DocKind> {
    if let Some(p) = pointed
        && DocKind::of(p).is_none()
    {
        return Err(Error::format(
            blob,
            "(descriptor)",
            format!(
                "\"{}\" is not an image manifest or index media type",
                escape(p)
            ),
        ));
    }
    match (&raw.media_type, pointed) {
        (Some(own), _) if DocKind::of(own).is_none() => Err(Error::format(
            blob,
            "mediaType",
            format!(
                "\"{}\" is not an image manifest or index media type",
                escape(own)
            ),
        )),
        (Some(own), Some(p)) if own != p => Err(Error::format(
            blob,
            "mediaType",
            format!(
                "\"{}\" where the descriptor pointing at it says \"{}\"",
                escape(own),
                escape(p)
            ),
        )),
        (Some(own), _) => Ok(DocKind::of(own).expect("checked above")),
        (None, Some(p)) if p.starts_with("application/vnd.docker.") => Err(Error::format(
            blob,
            "mediaType",
            "missing (a Docker schema 2 document always names its media type)",
        )),
        (None, Some(p)) => Ok(DocKind::of(p).expect("checked above")),
        (None, None) if raw.manifests.is_some() => Ok(DocKind::Index),
        (None, None) => Ok(DocKind::Manifest),
    }
}

fn check_descriptor(blob: OciDigest, at: &str, d: &Descriptor) -> Result<()> {
    if !media::is_media_type(&d.media_type) {
        return Err(Error::format(
            blob,
            format!("{at}.mediaType"),
            format!("\"{}\" is not a media type", escape(&d.media_type)),
        ));
    }
    Ok(())
}

/// Untrusted text for a message: control characters escaped, at most 200
/// characters.
pub(crate) fn escape(s: &str) -> String {
    ferry_manifests::error::escape_untrusted(&s.chars().take(200).collect::<String>())
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
