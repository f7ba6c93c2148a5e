//! The fields of a container-image artifact (SPEC §3.12): the image
//! reference (`registry/repository`, no tag, no digest) and the tag.
//! The pinned digest is [`crate::digest::OciDigest`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::escape_untrusted;

/// The format name of a container-image artifact.
pub const OCI_FORMAT: &str = "oci";

/// The suffix of an image's layout folder in a bundle or workspace
/// (`releases/<version>/<profile>/<name>.oci`).
pub const IMAGE_DIR_SUFFIX: &str = ".oci";

/// Docker Hub's API host, for references without a registry.
const DOCKER_HUB: &str = "registry-1.docker.io";

/// An image in a registry: `[registry/]repository`, as `docker pull` names
/// it without tag or digest (`registry.novantra.example/novantra/onprem`,
/// `127.0.0.1:5000/novantra/onprem`, `novantra/onprem` on Docker Hub).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    text: String,
    registry: String,
    repository: String,
}

impl ImageRef {
    /// The registry host (and port) the Distribution API is asked at.
    #[must_use]
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository inside the registry (`novantra/onprem`).
    #[must_use]
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The reference as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn is_host(first: &str) -> bool {
    first == "localhost" || first.contains('.') || first.contains(':')
}

fn valid_host(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A path component of the OCI distribution grammar:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    if !b
        .iter()
        .all(|&x| x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'.' | b'_' | b'-'))
    {
        return false;
    }
    // No "..", "._", "___" and the like: separators between alphanumerics.
    !c.contains("..")
        && !c.contains("___")
        && !c.contains("._")
        && !c.contains("_.")
        && !c.contains(".-")
        && !c.contains("-.")
        && !c.contains("_-")
        && !c.contains("-_")
}

impl FromStr for ImageRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "\"{}\" is not an image reference ([registry/]repository, lowercase, no tag or digest): {why}",
                escape_untrusted(&s.chars().take(200).collect::<String>())
            )
        };
        if s.is_empty() || s.len() > 255 {
            return Err(bad("1 to 255 characters"));
        }
        if s.contains("://") || s.contains('@') {
            return Err(bad("no scheme and no digest (the digest is its own field)"));
        }
        let (registry, repository) = match s.split_once('/') {
            Some((first, rest)) if is_host(first) => (first.to_string(), rest.to_string()),
            _ if s.contains('/') => (DOCKER_HUB.to_string(), s.to_string()),
            _ => (DOCKER_HUB.to_string(), format!("library/{s}")),
        };
        if !valid_host(&registry) {
            return Err(bad(
                "the registry is a host name or address with an optional port",
            ));
        }
        if !repository.split('/').all(valid_component) {
            return Err(bad(
                "each repository component is lowercase letters and digits joined by . _ -",
            ));
        }
        Ok(ImageRef {
            text: s.to_string(),
            registry,
            repository,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({})", self.text)
    }
}

impl Serialize for ImageRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (the OCI grammar).
///
/// # Errors
/// A sentence naming the rule.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" is not a tag (letters, digits, _ . -, at most 128, not starting with . or -)",
            escape_untrusted(&tag.chars().take(200).collect::<String>())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r: ImageRef = "registry.novantra.example/novantra/onprem".parse().unwrap();
        assert_eq!(
            (r.registry(), r.repository()),
            ("registry.novantra.example", "novantra/onprem")
        );
        let r: ImageRef = "127.0.0.1:5000/novantra/onprem".parse().unwrap();
        assert_eq!(
            (r.registry(), r.repository()),
            ("127.0.0.1:5000", "novantra/onprem")
        );
        let r: ImageRef = "novantra/onprem".parse().unwrap();
        assert_eq!(
            (r.registry(), r.repository()),
            ("registry-1.docker.io", "novantra/onprem")
        );
        let r: ImageRef = "alpine".parse().unwrap();
        assert_eq!(r.repository(), "library/alpine");
        assert_eq!(r.to_string(), "alpine");
        for bad in [
            "",
            "https://r.example/a",
            "r.example/a@sha256:00",
            "r.example/A",
            "r.example/a/../b",
            "r.example//a",
            "r.example/a/",
            "r.example/a b",
            "r.example:port/a",
            "r.example/-a",
        ] {
            assert!(bad.parse::<ImageRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        for good in ["3.2.1", "latest", "sha-abc_1", "_x"] {
            assert!(check_tag(good).is_ok(), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }
}
