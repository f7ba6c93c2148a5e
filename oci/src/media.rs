//! Media types of OCI and Docker schema 2 images, and what each one is.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer, uncompressed tar.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list (the Docker image index).
pub const DOCKER_INDEX: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 2 image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker schema 2 layer.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The `Accept` header a registry client sends for a manifest by digest:
/// both manifest kinds of both families.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// What a document that a descriptor points at is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// An image manifest (config and layers).
    Manifest,
    /// An image index (manifests, one per platform).
    Index,
}

impl DocKind {
    /// The kind a manifest media type names, or `None` for anything else
    /// (a config, a layer, an unknown type).
    #[must_use]
    pub fn of(media_type: &str) -> Option<DocKind> {
        match media_type {
            OCI_MANIFEST | DOCKER_MANIFEST => Some(DocKind::Manifest),
            OCI_INDEX | DOCKER_INDEX => Some(DocKind::Index),
            _ => None,
        }
    }
}

/// Whether `s` is a well-formed media type (RFC 6838 `type/subtype`, with
/// the `+suffix` and `.` facets OCI uses), at most 255 bytes. Config and
/// layer types are not limited to the known ones (artifacts use their own),
/// but they must be media types, not arbitrary text.
#[must_use]
pub fn is_media_type(s: &str) -> bool {
    let Some((ty, sub)) = s.split_once('/') else {
        return false;
    };
    let token = |t: &str, first_alnum: bool| {
        !t.is_empty()
            && t.len() <= 127
            && (!first_alnum || t.as_bytes()[0].is_ascii_alphanumeric())
            && t.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                    )
            })
    };
    s.len() <= 255 && token(ty, true) && token(sub, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(DocKind::of(OCI_INDEX), Some(DocKind::Index));
        assert_eq!(DocKind::of(DOCKER_INDEX), Some(DocKind::Index));
        assert_eq!(DocKind::of(OCI_MANIFEST), Some(DocKind::Manifest));
        assert_eq!(DocKind::of(DOCKER_MANIFEST), Some(DocKind::Manifest));
        assert_eq!(DocKind::of(OCI_CONFIG), None);
        assert_eq!(
            DocKind::of("application/vnd.oci.image.manifest.v1+json "),
            None
        );
    }

    #[test]
    fn media_type_grammar() {
        for good in [OCI_LAYER_GZIP, DOCKER_LAYER, OCI_CONFIG, "text/plain"] {
            assert!(is_media_type(good), "{good}");
        }
        for bad in [
            "",
            "text",
            "/plain",
            "text/",
            "a/b/c",
            "text/pl ain",
            "text/plain;x=1",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }
}
