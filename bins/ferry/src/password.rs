//! Where key passwords come from: `FERRY_PASSWORD`, else a prompt on the
//! terminal. Never logged, never echoed.

use anyhow::{Result, bail};
use ferry_cli::UsageError;

/// The environment variable that carries a key password.
pub(crate) const ENV: &str = "FERRY_PASSWORD";

/// Loads a secret key (the one loader every binary shares).
pub(crate) fn load_secret_key(
    path: &std::path::Path,
) -> Result<ferry_manifests::minisig::SecretKey> {
    Ok(ferry_cli::keyload::load_secret_key(path)?)
}

/// A new password, asked twice.
pub(crate) fn new_password() -> Result<String> {
    if let Ok(p) = std::env::var(ENV) {
        if p.is_empty() {
            bail!(UsageError(format!(
                "{ENV} is empty; use --unencrypted for a key without a password"
            )));
        }
        return Ok(p);
    }
    let a = prompt("Password for the new key: ")?;
    let b = prompt("Password (again): ")?;
    if a != b {
        bail!(UsageError("the two passwords differ".into()));
    }
    if a.is_empty() {
        bail!(UsageError(
            "empty password; use --unencrypted for a key without a password".into()
        ));
    }
    Ok(a)
}

fn prompt(text: &str) -> Result<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        bail!(UsageError(format!(
            "a password is needed and there is no terminal to ask on: set {ENV}"
        )));
    }
    Ok(rpassword::prompt_password(text)?)
}
