//! The one error type of `ferry-net`.

use std::path::PathBuf;

use ferry_manifests::ErrorClass;
use ferry_manifests::redact::{redact_url, redact_urls_in};

/// Everything that can go wrong in ferry's network code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A format, signature or policy error (exit 1, or as classed there).
    #[error(transparent)]
    Manifest(#[from] ferry_manifests::Error),

    /// A container image broke a rule: a blob's digest or size, a
    /// malformed manifest (exit 1), named by blob digest.
    #[error(transparent)]
    Oci(#[from] ferry_oci::Error),

    /// A workspace error.
    #[error(transparent)]
    Layout(#[from] ferry_mirror_layout::Error),

    /// The server's certificate is not trusted (exit 3).
    #[error(
        "{}: TLS: certificate not trusted; pass --ca-cert with the CA that issued the server's certificate",
        redact_url(url)
    )]
    Tls {
        /// The URL.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// Connecting or reading failed (exit 3).
    #[error("{}: network error", redact_url(url))]
    Network {
        /// The URL.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// The server answered with an unexpected status (exit 3).
    #[error("{}: HTTP status {status}", redact_url(url))]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },

    /// The server answered a Range request inconsistently (exit 3).
    #[error("{}: {}", redact_url(url), redact_urls_in(reason))]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },

    /// A signature the policy requires is not published (exit 1).
    #[error("{what}: missing ({} answered {status}): {reason}", redact_url(url))]
    MissingSignature {
        /// The signed file.
        what: String,
        /// The URL of the signature.
        url: String,
        /// The status code.
        status: u16,
        /// What the policy needs.
        reason: String,
    },

    /// A server too slow or stalled (exit 3; not retried: a trickling
    /// server would only be waited for again).
    #[error("{}: {reason}", redact_url(url))]
    Stalled {
        /// The URL.
        url: String,
        /// The limit it broke.
        reason: String,
    },

    /// A local file could not be read or written (exit 3).
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

    /// A bad option value: URL, CA file, range (exit 2).
    #[error("{}: {}", redact_urls_in(what), redact_urls_in(reason))]
    Usage {
        /// The option or value.
        what: String,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// The exit-code class (SPEC §4).
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Manifest(e) => e.class(),
            Error::Layout(e) => e.class(),
            Error::Oci(e) => e.class(),
            Error::Tls { .. }
            | Error::Network { .. }
            | Error::Status { .. }
            | Error::Protocol { .. }
            | Error::Stalled { .. }
            | Error::Io { .. } => ErrorClass::Environment,
            Error::MissingSignature { .. } => ErrorClass::Verification,
            Error::Usage { .. } => ErrorClass::Usage,
        }
    }

    /// Whether trying again may help (network trouble, not bad bytes).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { .. } | Error::Protocol { .. } => true,
            Error::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
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

    /// Classifies a `reqwest` error: certificate trouble becomes [`Error::Tls`].
    #[must_use]
    pub fn from_reqwest(url: &str, source: reqwest::Error) -> Self {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&source);
        let mut tls = false;
        while let Some(e) = cur {
            let msg = e.to_string().to_ascii_lowercase();
            if msg.contains("certificate") || msg.contains("unknownissuer") {
                tls = true;
                break;
            }
            cur = e.source();
        }
        // reqwest quotes the URL it was given; ours is shown redacted.
        let source = source.without_url();
        let url = url.to_string();
        if tls {
            Error::Tls { url, source }
        } else {
            Error::Network { url, source }
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
