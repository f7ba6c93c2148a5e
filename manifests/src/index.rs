//! The vendor release index, `ferry.release-index/v1` (SPEC §3.2).

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::digest::{OciDigest, Sha256Digest};
use crate::error::{Error, Result};
use crate::image::{ImageRef, OCI_FORMAT, check_tag};
use crate::json;
use crate::name::Name;
use crate::release::{Advisory, SigKind, Yank, unique_names};
use crate::time::Timestamp;

/// The schema string of a vendor release index.
pub const SCHEMA: &str = "ferry.release-index/v1";

/// A vendor release index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseIndex {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// When the index was generated.
    pub generated: Timestamp,
    /// Every release the vendor offers.
    pub releases: Vec<IndexRelease>,
}

/// One release in the vendor index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRelease {
    /// SemVer version.
    pub version: Version,
    /// Channels that carry it.
    pub channels: Vec<Name>,
    /// Publication time.
    pub published: Timestamp,
    /// Versions that may upgrade to this one in one hop (`null`: at most two
    /// majors older).
    #[serde(default)]
    pub supported_from: Option<VersionReq>,
    /// No upgrade path may skip this release.
    #[serde(default)]
    pub required: bool,
    /// Set when the vendor pulled the release.
    #[serde(default)]
    pub yanked: Option<Yank>,
    /// Release notes.
    pub notes: IndexFile,
    /// Advisories published with this release.
    #[serde(default)]
    pub advisories: Vec<Advisory>,
    /// The files of the release.
    pub artifacts: Vec<IndexArtifact>,
}

/// A file referenced by URL with its size and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexFile {
    /// URL, relative to the index or absolute.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
}

/// One artifact of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexArtifact {
    /// File name (one path component).
    pub name: Name,
    /// Deployment profile (`default`, `no-training`).
    pub profile: Name,
    /// Platform, e.g. `linux-amd64`.
    pub platform: Name,
    /// Package format, e.g. `deb`, `tar.gz`, or `oci` for a container
    /// image (SPEC §3.12).
    pub format: Name,
    /// `oci` only: the image in the vendor's registry, without tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
    /// `oci` only: the tag the vendor publishes it under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `oci` only: the pinned image manifest or index digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<OciDigest>,
    /// Files only: URL, relative to the index or absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Size in bytes (for an image: the sum of all its blobs).
    pub size: u64,
    /// Files only: SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Digest>,
    /// Upstream signatures.
    #[serde(default)]
    pub signatures: Vec<IndexSignature>,
}

/// Where an artifact's bytes come from: a file by URL, or an image in a
/// registry pinned by digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactSource<'a> {
    /// A file.
    File {
        /// URL, relative to the index or absolute.
        url: &'a str,
        /// Its SHA-256.
        sha256: &'a Sha256Digest,
    },
    /// A container image.
    Image {
        /// The image in the vendor's registry.
        image: &'a ImageRef,
        /// The tag, if the index gives one.
        tag: Option<&'a str>,
        /// The pinned manifest or index digest.
        digest: &'a OciDigest,
    },
}

impl IndexArtifact {
    /// Whether the artifact is a container image (`"format": "oci"`).
    #[must_use]
    pub fn is_image(&self) -> bool {
        self.format.as_str() == OCI_FORMAT
    }

    /// Where its bytes come from; `None` only for an artifact that
    /// [`ReleaseIndex::validate`] refuses (fields of the wrong kind).
    #[must_use]
    pub fn source(&self) -> Option<ArtifactSource<'_>> {
        if self.is_image() {
            Some(ArtifactSource::Image {
                image: self.image.as_ref()?,
                tag: self.tag.as_deref(),
                digest: self.digest.as_ref()?,
            })
        } else {
            Some(ArtifactSource::File {
                url: self.url.as_deref()?,
                sha256: self.sha256.as_ref()?,
            })
        }
    }

    /// The fields of one kind present, those of the other absent.
    fn check_kind(&self) -> std::result::Result<(), (&'static str, String)> {
        let f = self.format.as_str();
        if self.is_image() {
            for (field, present) in [
                ("image", self.image.is_some()),
                ("digest", self.digest.is_some()),
            ] {
                if !present {
                    return Err((field, "required for an artifact of format oci".into()));
                }
            }
            for (field, present) in [
                ("url", self.url.is_some()),
                ("sha256", self.sha256.is_some()),
            ] {
                if present {
                    return Err((
                        field,
                        "an image is named by image and digest, not by url and sha256".into(),
                    ));
                }
            }
            if let Some(t) = &self.tag {
                check_tag(t).map_err(|m| ("tag", m))?;
            }
        } else {
            for (field, present) in [
                ("url", self.url.is_some()),
                ("sha256", self.sha256.is_some()),
            ] {
                if !present {
                    return Err((field, format!("required for an artifact of format {f}")));
                }
            }
            for (field, present) in [
                ("image", self.image.is_some()),
                ("tag", self.tag.is_some()),
                ("digest", self.digest.is_some()),
            ] {
                if present {
                    return Err((
                        field,
                        format!("only an artifact of format oci has {field} (this one is {f})"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An upstream signature of an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSignature {
    /// Kind.
    pub kind: SigKind,
    /// URL, relative to the index or absolute.
    pub url: String,
}

impl ReleaseIndex {
    /// Parses and validates index bytes (already signature-checked by the caller).
    ///
    /// # Errors
    /// [`Error::Format`] naming the field, or [`Error::UnknownSchema`].
    pub fn parse(bytes: &[u8], doc: &str) -> Result<Self> {
        let index: ReleaseIndex = json::parse_document(bytes, doc, SCHEMA)?;
        index.validate(doc)?;
        Ok(index)
    }

    /// The index as the bytes ferry writes (and signs).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        json::to_document_bytes(self)
    }

    /// Checks the rules that types alone do not carry.
    ///
    /// # Errors
    /// [`Error::Format`] naming the release and rule.
    pub fn validate(&self, doc: &str) -> Result<()> {
        let mut versions = std::collections::HashSet::new();
        for (i, r) in self.releases.iter().enumerate() {
            let at = format!("releases[{i}]");
            if !versions.insert(&r.version) {
                return Err(Error::format(
                    doc,
                    format!("{at}.version"),
                    format!("{} listed twice", r.version),
                ));
            }
            if r.channels.is_empty() {
                return Err(Error::format(
                    doc,
                    format!("{at}.channels"),
                    "a release needs at least one channel",
                ));
            }
            unique_names(&r.channels, "channels").map_err(|m| Error::format(doc, &at, m))?;
            check_url(&r.notes.url)
                .map_err(|m| Error::format(doc, format!("{at}.notes.url"), m))?;
            let mut names = std::collections::HashSet::new();
            for (j, a) in r.artifacts.iter().enumerate() {
                let at = format!("{at}.artifacts[{j}]");
                if !names.insert((a.profile.clone(), a.name.as_str().to_ascii_lowercase())) {
                    return Err(Error::format(
                        doc,
                        format!("{at}.name"),
                        format!("\"{}\" listed twice for profile {}", a.name, a.profile),
                    ));
                }
                a.check_kind()
                    .map_err(|(field, m)| Error::format(doc, format!("{at}.{field}"), m))?;
                if let Some(url) = &a.url {
                    check_url(url).map_err(|m| Error::format(doc, format!("{at}.url"), m))?;
                }
                for (k, s) in a.signatures.iter().enumerate() {
                    check_url(&s.url)
                        .map_err(|m| Error::format(doc, format!("{at}.signatures[{k}].url"), m))?;
                }
            }
        }
        Ok(())
    }
}

fn check_url(url: &str) -> std::result::Result<(), String> {
    if url.is_empty() || url.len() > 4096 {
        return Err("a URL is 1 to 4096 characters".into());
    }
    if url.chars().any(char::is_control) || url.contains(' ') {
        return Err("a URL holds no spaces or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn index(artifact: &str) -> String {
        format!(
            r#"{{"schema":"ferry.release-index/v1","product":"novantra","generated":"2026-11-20T00:00:00Z",
            "releases":[{{"version":"3.2.1","channels":["stable"],"published":"2026-11-01T00:00:00Z",
              "notes":{{"url":"3.2.1/NOTES.md","size":1,"sha256":"{ZERO}"}},
              "artifacts":[{{"name":"onprem","profile":"no-training","platform":"linux-amd64",{artifact},"size":10}}]}}]}}"#
        )
    }

    #[test]
    fn image_artifact_parses_and_round_trips() {
        let text = index(&format!(
            r#""format":"oci","image":"registry.novantra.example/novantra/onprem","tag":"3.2.1","digest":"sha256:{ZERO}""#
        ));
        let i = ReleaseIndex::parse(text.as_bytes(), "index.json").unwrap();
        let a = &i.releases[0].artifacts[0];
        assert!(matches!(
            a.source(),
            Some(ArtifactSource::Image {
                tag: Some("3.2.1"),
                ..
            })
        ));
        assert_eq!(ReleaseIndex::parse(&i.to_bytes(), "index.json").unwrap(), i);
        let out = String::from_utf8(i.to_bytes()).unwrap();
        assert!(
            !out.contains("\"url\"") || out.matches("\"url\"").count() == 1,
            "{out}"
        );
    }

    #[test]
    fn fields_of_the_wrong_kind_are_named() {
        let image = r#""image":"registry.novantra.example/novantra/onprem""#;
        let digest = format!(r#""digest":"sha256:{ZERO}""#);
        let url = r#""url":"3.2.1/onprem""#;
        let sha = format!(r#""sha256":"{ZERO}""#);
        let cases = [
            (format!(r#""format":"oci",{image}"#), ".digest"),
            (format!(r#""format":"oci",{digest}"#), ".image"),
            (format!(r#""format":"oci",{image},{digest},{url}"#), ".url"),
            (
                format!(r#""format":"oci",{image},{digest},"tag":"a b""#),
                ".tag",
            ),
            (
                format!(r#""format":"oci",{image},"digest":"sha512:{ZERO}""#),
                "digest",
            ),
            (format!(r#""format":"deb",{url}"#), ".sha256"),
            (format!(r#""format":"deb",{url},{sha},{digest}"#), ".digest"),
        ];
        for (artifact, field) in cases {
            let err = ReleaseIndex::parse(index(&artifact).as_bytes(), "index.json").unwrap_err();
            assert!(err.to_string().contains(field), "{artifact}: {err}");
        }
    }
}
