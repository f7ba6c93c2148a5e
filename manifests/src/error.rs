//! The one error type of this crate (STYLE: one `thiserror` enum per library).
//!
//! Every variant names the file or document it is about, the rule that failed
//! and, where it helps, what to do next (`hint`). The binaries map
//! [`Error::class`] to the exit codes of SPEC §4.

use std::path::PathBuf;

use crate::digest::Sha256Digest;

/// How an error maps to the exit codes of SPEC §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Exit 1: a verification or policy failure (bad signature, digest
    /// mismatch, expired, rollback, profile violation, unsafe path, bad input).
    Verification,
    /// Exit 2: a usage or configuration error (bad trust policy, bad flag value).
    Usage,
    /// Exit 3: the environment failed (missing file, I/O error, disk full).
    Environment,
}

/// Everything that can go wrong in `ferry-manifests`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {action} failed", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("read", "write", "open"...).
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A stream (not a named file) failed while reading.
    #[error("{what}: read failed")]
    Read {
        /// What was being read.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A document is not valid JSON/TOML or breaks a rule of its format.
    #[error("{doc}: {field}: {message}")]
    Format {
        /// The document (file name or kind).
        doc: String,
        /// The field path (`releases[0].version`), or `(document)`.
        field: String,
        /// What is wrong.
        message: String,
    },

    /// A document carries a schema this version of ferry does not know.
    #[error("{doc}: unknown schema \"{found}\" (expected \"{expected}\")")]
    UnknownSchema {
        /// The document.
        doc: String,
        /// The schema found.
        found: String,
        /// The schema expected.
        expected: &'static str,
    },

    /// A document is larger than ferry will read.
    #[error("{doc}: larger than the {limit}-byte limit for this kind of document")]
    DocumentTooLarge {
        /// The document.
        doc: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// A path breaks SPEC §3.1.
    #[error("unsafe path \"{path}\": {reason}")]
    UnsafePath {
        /// The path, with control characters escaped.
        path: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// Bytes do not hash to what a signed document says.
    #[error(
        "{what}: sha256 mismatch (expected {expected}, got {actual}): the copy is damaged or was altered; copy it again from the source medium"
    )]
    DigestMismatch {
        /// The file.
        what: String,
        /// The digest the signed document gives.
        expected: Sha256Digest,
        /// The digest of the bytes read.
        actual: Sha256Digest,
    },

    /// A file has another size than a signed document says.
    #[error(
        "{what}: size mismatch (expected {expected} bytes, got {actual}): the copy is truncated or was altered"
    )]
    SizeMismatch {
        /// The file.
        what: String,
        /// Declared size.
        expected: u64,
        /// Size read.
        actual: u64,
    },

    /// A stream went on past the size a signed document declares.
    #[error("{what}: more data than the {limit} bytes declared (endless data refused)")]
    TooMuchData {
        /// The file or stream.
        what: String,
        /// The declared size.
        limit: u64,
    },

    /// A signature is malformed, made by another key, or does not verify.
    #[error("{what}: {reason}")]
    Signature {
        /// The signature file (or the document it signs).
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// Not enough distinct trusted keys signed a document.
    #[error("{what}: {valid} valid signature(s) by distinct trusted keys, {threshold} required")]
    Threshold {
        /// The signed document.
        what: String,
        /// Distinct trusted keys that signed.
        valid: usize,
        /// The threshold.
        threshold: usize,
    },

    /// A key file or key string is malformed or unusable.
    #[error("{what}: {reason}")]
    Key {
        /// The key (file or description).
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// The trust policy (or another configuration file) is invalid: exit 2.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A document is valid but the policy refuses it (expiry, pins, rollback...).
    #[error("{what}: {reason}")]
    Policy {
        /// The document or item.
        what: String,
        /// The rule it breaks.
        reason: String,
    },

    /// One of the named policy decisions refused ([`crate::decide`]).
    #[error(transparent)]
    Refused(Box<crate::decide::Refusal>),

    /// A Sigstore bundle failed to verify.
    #[error("{what}: sigstore: {reason}")]
    Sigstore {
        /// The bundle file.
        what: String,
        /// What failed.
        reason: String,
    },
}

impl From<crate::decide::Refusal> for Error {
    fn from(r: crate::decide::Refusal) -> Self {
        Error::Refused(Box::new(r))
    }
}

impl Error {
    /// The exit-code class of this error (SPEC §4).
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Io { source, .. } | Error::Read { source, .. } => {
                if source.kind() == std::io::ErrorKind::InvalidData {
                    ErrorClass::Verification
                } else {
                    ErrorClass::Environment
                }
            }
            Error::Config { .. } => ErrorClass::Usage,
            _ => ErrorClass::Verification,
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

    /// Shorthand for a format error.
    pub fn format(
        doc: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Format {
            doc: doc.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for a policy refusal.
    pub fn policy(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Policy {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for a signature failure.
    pub fn signature(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Signature {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for a configuration error.
    pub fn config(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Escapes control and non-ASCII characters so untrusted text can be printed
/// safely (ATTACKS C6: never print untrusted bytes raw to a terminal).
#[must_use]
pub fn escape_untrusted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(300) {
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}
