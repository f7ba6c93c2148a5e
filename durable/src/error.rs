//! The one error type of the store-level crates (bundle, mirror, workspace).

use std::path::PathBuf;

use ferry_manifests::ErrorClass;

/// Everything that can go wrong in bundle and mirror handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A format, signature or policy error from `ferry-manifests`.
    #[error(transparent)]
    Manifest(#[from] ferry_manifests::Error),

    /// A file could not be read or written.
    #[error("{}: {action} failed", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A bundle breaks a rule of SPEC §3.6 (entry order, unlisted file,
    /// entry type...).
    #[error("{what}: {reason}")]
    Bundle {
        /// The bundle, volume or entry.
        what: String,
        /// The rule it breaks.
        reason: String,
    },

    /// The mirror refuses an operation (rollback, changed bytes, pins).
    #[error("{what}: {reason}")]
    Refused {
        /// The item.
        what: String,
        /// The rule.
        reason: String,
    },

    /// A volume of a split bundle is missing, damaged or out of place.
    #[error("{name}: {reason}")]
    Volume {
        /// The volume's file name.
        name: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// Another process holds the mirror's lock.
    #[error(
        "{}: locked by another ferry process (an import, prune or fsck of this mirror is running); re-run with --wait to wait for it to finish",
        path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// An interrupted change (an armed journal) could not be finished.
    #[error(
        "the interrupted {action} (transaction {txn}) cannot be finished; fix what the cause names by hand (a file or folder in the mirror's way, a full disk, a permission), then run ferry-mirror fsck, which finishes it"
    )]
    Recovery {
        /// `import` or `prune`.
        action: String,
        /// The transaction id.
        txn: String,
        /// What stopped it.
        #[source]
        source: Box<Error>,
    },

    /// Not enough free space.
    #[error("{}: not enough free space ({needed} bytes needed, {available} available)", path.display())]
    NoSpace {
        /// Where.
        path: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
}

impl Error {
    /// The exit-code class (SPEC §4).
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Manifest(e) => e.class(),
            Error::Io { source, .. } => {
                if source.kind() == std::io::ErrorKind::InvalidData {
                    ErrorClass::Verification
                } else {
                    ErrorClass::Environment
                }
            }
            Error::Locked { .. } | Error::NoSpace { .. } => ErrorClass::Environment,
            Error::Recovery { source, .. } => source.class(),
            Error::Bundle { .. } | Error::Refused { .. } | Error::Volume { .. } => {
                ErrorClass::Verification
            }
        }
    }

    /// Shorthand for an I/O error on a path.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }

    /// Shorthand for a refusal.
    pub fn refused(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Refused {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for a volume problem.
    pub fn volume(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Volume {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for a bundle rule violation.
    pub fn bundle(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Bundle {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
