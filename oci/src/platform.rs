//! ferry's platform names (`linux-amd64`, `linux-arm64-v8`) and choosing
//! the manifest of an image index for one.

use std::fmt;
use std::str::FromStr;

use ferry_manifests::digest::OciDigest;

use crate::error::{Error, Result};
use crate::media::DocKind;
use crate::model::{Descriptor, ImageIndex, Platform};

/// A platform as ferry names it: `<os>-<architecture>[-<variant>]`, the
/// `platform` field of an artifact (SPEC §3.2), mapped to the OCI `os`,
/// `architecture` and `variant` of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformName {
    /// OCI `os`.
    pub os: String,
    /// OCI `architecture`.
    pub architecture: String,
    /// OCI `variant`, if named.
    pub variant: Option<String>,
}

impl FromStr for PlatformName {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = s.split('-').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(PlatformName {
                os: (*os).to_string(),
                architecture: (*arch).to_string(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(PlatformName {
                os: (*os).to_string(),
                architecture: (*arch).to_string(),
                variant: Some((*variant).to_string()),
            }),
            _ => Err(format!(
                "\"{}\" is not a platform of the form <os>-<architecture>[-<variant>] (e.g. linux-amd64)",
                crate::model::escape(s)
            )),
        }
    }
}

impl fmt::Display for PlatformName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "-{v}")?;
        }
        Ok(())
    }
}

impl PlatformName {
    /// Whether an index entry's platform is this one. A name without a
    /// variant matches any variant (`linux-arm64` matches `arm64/v8`).
    #[must_use]
    pub fn matches(&self, p: &Platform) -> bool {
        p.os == self.os
            && p.architecture == self.architecture
            && (self.variant.is_none() || self.variant == p.variant)
    }

    /// The OCI platform object for this name.
    #[must_use]
    pub fn to_platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: None,
            os_features: Vec::new(),
            variant: self.variant.clone(),
            features: Vec::new(),
        }
    }
}

fn describe(p: &Platform) -> String {
    let mut s = format!("{}-{}", p.os, p.architecture);
    if let Some(v) = &p.variant {
        s.push('-');
        s.push_str(v);
    }
    crate::model::escape(&s)
}

/// The one image manifest of `index` (digest `blob`) for `wanted`.
/// Entries that are not image manifests, or have no platform, never match
/// (attestation manifests are `unknown/unknown`).
///
/// # Errors
/// [`Error::Platform`] listing the index's platforms when none or more
/// than one entry matches (SPEC §5 rule 8).
pub fn select<'a>(
    blob: OciDigest,
    index: &'a ImageIndex,
    wanted: &PlatformName,
) -> Result<&'a Descriptor> {
    let mut found = index.manifests.iter().filter(|d| {
        DocKind::of(&d.media_type) == Some(DocKind::Manifest)
            && d.platform.as_ref().is_some_and(|p| wanted.matches(p))
    });
    let first = found.next();
    let reason = match (first, found.next()) {
        (Some(d), None) => return Ok(d),
        (None, _) => "no manifest",
        (Some(_), Some(_)) => "more than one manifest",
    };
    let mut available: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref().map(describe))
        .collect();
    available.dedup();
    Err(Error::Platform {
        blob,
        wanted: wanted.to_string(),
        reason,
        available: if available.is_empty() {
            "no platforms".to_string()
        } else {
            available.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media;

    fn entry(os: &str, arch: &str, variant: Option<&str>, byte: u8) -> Descriptor {
        let mut d = Descriptor::new(media::OCI_MANIFEST, OciDigest::of(&[byte]), 1);
        let mut p = PlatformName {
            os: os.into(),
            architecture: arch.into(),
            variant: None,
        }
        .to_platform();
        p.variant = variant.map(str::to_string);
        d.platform = Some(p);
        d
    }

    #[test]
    fn names_parse_and_print() {
        for s in ["linux-amd64", "linux-arm64-v8", "windows-amd64"] {
            assert_eq!(s.parse::<PlatformName>().unwrap().to_string(), s);
        }
        for bad in [
            "",
            "linux",
            "linux-",
            "-amd64",
            "Linux-amd64",
            "linux-amd64-v8-x",
            "linux amd64",
        ] {
            assert!(bad.parse::<PlatformName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn select_one_or_refuse_listing() {
        let index = ImageIndex {
            media_type: media::OCI_INDEX.into(),
            manifests: vec![
                entry("linux", "amd64", None, 1),
                entry("linux", "arm64", Some("v8"), 2),
                entry("unknown", "unknown", None, 3),
            ],
        };
        let root = OciDigest::of(b"index");
        let amd = select(root, &index, &"linux-amd64".parse().unwrap()).unwrap();
        assert_eq!(amd.digest, OciDigest::of(&[1]));
        let arm = select(root, &index, &"linux-arm64".parse().unwrap()).unwrap();
        assert_eq!(arm.digest, OciDigest::of(&[2]));
        let err = select(root, &index, &"linux-s390x".parse().unwrap()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("linux-amd64, linux-arm64-v8"), "{msg}");
        assert!(msg.contains(&root.to_string()), "{msg}");

        let twice = ImageIndex {
            media_type: media::OCI_INDEX.into(),
            manifests: vec![
                entry("linux", "amd64", None, 1),
                entry("linux", "amd64", None, 4),
            ],
        };
        let err = select(root, &twice, &"linux-amd64".parse().unwrap()).unwrap_err();
        assert!(err.to_string().contains("more than one"), "{err}");
    }
}
