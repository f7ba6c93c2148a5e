//! The one error type of `ferry-publish`: every variant names the object
//! (a path below the mirror root) or the target it is about, never a
//! credential.

use ferry_manifests::ErrorClass;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong publishing or checking a mirror on object storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad argument: target URL, endpoint, part size (exit 2).
    #[error("{what}: {reason}")]
    Usage {
        /// The argument.
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// A request to the store failed (exit 3).
    #[error("{object}: {action} at {target} failed")]
    Store {
        /// The object (its path below the mirror root).
        object: String,
        /// What was attempted.
        action: &'static str,
        /// `s3://bucket/prefix`.
        target: String,
        /// The client's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// What the store holds after an upload is not what was sent (exit 3:
    /// the store, not the mirror, misbehaved; a re-run uploads it again).
    #[error("{object}: the store holds {found} after the upload, not {expected}; publish again")]
    NotStored {
        /// The object.
        object: String,
        /// What was sent (size, checksum).
        expected: String,
        /// What the store reports.
        found: String,
    },
    /// Another publisher changed the index since this one read it (exit 3).
    #[error(
        "{target}: another publisher replaced {object} while this one was uploading; nothing of this publish is visible to readers: run publish again"
    )]
    Conflict {
        /// `s3://bucket/prefix`.
        target: String,
        /// The object whose compare-and-swap failed.
        object: String,
    },
    /// The lock object names another publisher that has not finished (exit 3).
    #[error(
        "{target}: {object} is held by another publisher ({holder}) until {expires}; wait for it, or delete the object if that publisher is gone"
    )]
    Locked {
        /// `s3://bucket/prefix`.
        target: String,
        /// The lock object.
        object: String,
        /// Who holds it.
        holder: String,
        /// When it expires.
        expires: String,
    },
    /// The store holds something ferry refuses (exit 1): a newer or foreign
    /// index, an object whose bytes differ from the signed index.
    #[error("{object}: {reason}")]
    Refused {
        /// The object.
        object: String,
        /// Why.
        reason: String,
    },
    /// A local file could not be read (exit 3).
    #[error("{path}: {action} failed")]
    Io {
        /// The path.
        path: String,
        /// What was attempted.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The local mirror refused or failed.
    #[error(transparent)]
    Mirror(#[from] ferry_mirror_layout::Error),
    /// A format or signature error.
    #[error(transparent)]
    Manifest(#[from] ferry_manifests::Error),
}

impl Error {
    /// The exit-code class (SPEC §4).
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Usage { .. } => ErrorClass::Usage,
            Error::Store { .. }
            | Error::NotStored { .. }
            | Error::Conflict { .. }
            | Error::Locked { .. }
            | Error::Io { .. } => ErrorClass::Environment,
            Error::Refused { .. } => ErrorClass::Verification,
            Error::Mirror(e) => e.class(),
            Error::Manifest(e) => e.class(),
        }
    }

    pub(crate) fn store(
        object: &str,
        action: &'static str,
        target: &str,
        source: object_store::Error,
    ) -> Self {
        Error::Store {
            object: object.to_string(),
            action,
            target: target.to_string(),
            source: Box::new(source),
        }
    }

    pub(crate) fn refused(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Refused {
            object: object.into(),
            reason: reason.into(),
        }
    }
}
