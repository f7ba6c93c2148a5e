//! The one way every binary loads a secret key given with `--key`
//! (issue 10/11: three binaries had three behaviours). The password comes
//! from `FERRY_PASSWORD`, else a prompt on the terminal; never logged.
//!
//! Exit classes: a missing or unreadable file is an environment error
//! (exit 3, naming it); a file that is not a secret key (a `.pub` given
//! by mistake, a damaged file) or a wrong password is a usage error
//! (exit 2) saying what to give instead.

use std::path::Path;

use ferry_manifests::Error;
use ferry_manifests::minisig::{PublicKey, SecretKey};

/// The environment variable that carries a key password.
pub const PASSWORD_ENV: &str = "FERRY_PASSWORD";

/// Loads the secret key at `path`, asking for its password only if it is
/// encrypted.
///
/// # Errors
/// [`Error::Io`]/[`Error::Read`] (exit 3) when the file cannot be read;
/// [`Error::Config`] (exit 2) when it is not a usable secret key.
pub fn load_secret_key(path: &Path) -> Result<SecretKey, Error> {
    let usage = |reason: String| Error::config(path, reason);
    let encrypted = match SecretKey::file_is_encrypted(path) {
        Ok(e) => e,
        Err(Error::Key { .. }) => return Err(usage(not_a_secret_key(path))),
        Err(e) => return Err(e),
    };
    let password = if encrypted {
        Some(password_for(path)?)
    } else {
        None
    };
    SecretKey::from_file(path, password).map_err(|e| match e {
        Error::Key { reason, .. } if encrypted && reason.starts_with("wrong password") => usage(
            format!("wrong password for this key (from {PASSWORD_ENV} or the prompt); give the right one"),
        ),
        Error::Key { .. } => usage(not_a_secret_key(path)),
        e => e,
    })
}

fn not_a_secret_key(path: &Path) -> String {
    if PublicKey::from_file(path).is_ok() {
        let stem = path.with_extension("key");
        format!(
            "is a public key; --key takes the secret key (such as {})",
            stem.display()
        )
    } else {
        "is not a minisign secret key file (as `ferry keygen` or `minisign -G` writes)".into()
    }
}

/// A password for the existing key at `path`: `FERRY_PASSWORD`, else the
/// terminal.
///
/// # Errors
/// [`Error::Config`] when neither is there.
pub fn password_for(path: &Path) -> Result<String, Error> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    prompt(path, &format!("Password for {}: ", path.display()))
}

fn prompt(path: &Path, text: &str) -> Result<String, Error> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Error::config(
            path,
            format!(
                "is encrypted and there is no terminal to ask for its password on: set {PASSWORD_ENV}"
            ),
        ));
    }
    rpassword::prompt_password(text)
        .map_err(|e| Error::config(path, format!("cannot read the password: {e}")))
}
