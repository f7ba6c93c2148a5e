//! The HTTP client: rustls with the platform's roots plus an optional extra
//! CA (`--ca-cert`), the standard proxy variables (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), no automatic decompression (the
//! bytes hashed are the bytes the vendor signed).

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// Largest CA file read.
const MAX_CA_BYTES: u64 = 1024 * 1024;

/// Client settings.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// An extra trusted root (PEM; may hold several certificates).
    pub ca_cert: Option<std::path::PathBuf>,
}

/// Builds the client ferry uses for every request.
///
/// # Errors
/// [`Error::Usage`] for an unreadable or malformed CA file.
pub fn build(opts: &ClientOptions) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60));
    if let Some(path) = &opts.ca_cert {
        b = b.tls_certs_merge(load_ca(path)?);
    }
    b.build().map_err(|e| Error::Usage {
        what: "HTTP client".into(),
        reason: format!("cannot be built: {e}"),
    })
}

fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let bytes = ferry_manifests::minisig::read_small_bytes(path, MAX_CA_BYTES).map_err(|e| {
        Error::Usage {
            what: format!("--ca-cert {}", path.display()),
            reason: e.to_string(),
        }
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&bytes).map_err(|e| Error::Usage {
        what: format!("--ca-cert {}", path.display()),
        reason: format!("not a PEM certificate file: {e}"),
    })?;
    if certs.is_empty() {
        return Err(Error::Usage {
            what: format!("--ca-cert {}", path.display()),
            reason: "holds no PEM certificate".into(),
        });
    }
    Ok(certs)
}
