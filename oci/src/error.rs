//! The one error type of `ferry-oci`. Every variant names the blob (by
//! digest) or the path it is about; [`Error::class`] maps it to SPEC §4's
//! exit codes.

use std::path::PathBuf;

use ferry_manifests::ErrorClass;
use ferry_manifests::digest::OciDigest;

/// Everything that can go wrong reading, checking or writing an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blob's bytes do not hash to its digest.
    #[error("blob {blob}: sha256 mismatch (got {actual}): the image was altered or damaged")]
    DigestMismatch {
        /// The blob (its expected digest).
        blob: OciDigest,
        /// The digest of the bytes received.
        actual: OciDigest,
    },
    /// A blob is shorter or longer than its descriptor says.
    #[error("blob {blob}: {actual} bytes where its descriptor says {expected}")]
    SizeMismatch {
        /// The blob.
        blob: OciDigest,
        /// The size of the descriptor.
        expected: u64,
        /// The size received (for a longer blob: as soon as it passed).
        actual: u64,
    },
    /// A blob is larger than ferry reads for its kind (a manifest over 4 MiB).
    #[error("blob {blob}: larger than the {limit}-byte limit for {what}")]
    TooLarge {
        /// The blob.
        blob: OciDigest,
        /// What kind of document it is.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A manifest or index breaks the OCI format or ferry's rules for it.
    #[error("blob {blob}: {field}: {reason}")]
    Format {
        /// The blob.
        blob: OciDigest,
        /// The field path, or `(document)`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No manifest of an image index is for the platform asked for, or
    /// more than one is (SPEC §5 rule 8: never a silent choice).
    #[error("image index {blob}: {reason} for platform {wanted} (the index has: {available})")]
    Platform {
        /// The index.
        blob: OciDigest,
        /// The platform asked for.
        wanted: String,
        /// "no manifest" or "more than one manifest".
        reason: &'static str,
        /// The platforms the index lists.
        available: String,
    },
    /// A blob is not where the layout or registry should hold it.
    #[error("blob {blob}: missing from {place}")]
    Missing {
        /// The blob.
        blob: OciDigest,
        /// The layout folder or registry.
        place: String,
    },
    /// An image layout's own files (`oci-layout`, `index.json`) are wrong.
    #[error("{}: {reason}", path.display())]
    Layout {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {action} failed", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading a blob's stream (not a named file) failed.
    #[error("blob {blob}: read failed")]
    Read {
        /// The blob.
        blob: OciDigest,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing through the crash-safe file layer failed.
    #[error(transparent)]
    Durable(#[from] ferry_durable::Error),
}

impl Error {
    /// How the error maps to exit codes: a wrong byte, size or document is
    /// a verification failure (1); I/O is the environment (3).
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Io { .. } | Error::Read { .. } => ErrorClass::Environment,
            Error::Durable(e) => e.class(),
            _ => ErrorClass::Verification,
        }
    }

    /// The blob the error is about, if it is about one.
    #[must_use]
    pub fn blob(&self) -> Option<&OciDigest> {
        match self {
            Error::DigestMismatch { blob, .. }
            | Error::SizeMismatch { blob, .. }
            | Error::TooLarge { blob, .. }
            | Error::Format { blob, .. }
            | Error::Platform { blob, .. }
            | Error::Missing { blob, .. }
            | Error::Read { blob, .. } => Some(blob),
            _ => None,
        }
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }

    pub(crate) fn format(
        blob: OciDigest,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Format {
            blob,
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
