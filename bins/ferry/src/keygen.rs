//! `ferry keygen`.

use std::io::Write;
use std::path::PathBuf;

use crate::output::Output;
use anyhow::{Context, Result};
use clap::Args;
use ferry_cli::Printer;
use ferry_manifests::minisig;

/// Generate a minisign key pair: OUT.key (secret, mode 0600, never
/// overwritten) and OUT.pub. The secret key is encrypted with a password
/// from a prompt or FERRY_PASSWORD unless --unencrypted is given.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ferry keygen --out keys/org-1\n  FERRY_PASSWORD=… ferry keygen --out keys/org-2\n  ferry keygen --out /tmp/test --unencrypted   # test keys only"
)]
pub(crate) struct KeygenArgs {
    /// Path prefix: writes PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
    /// Leave the secret key unencrypted (test and demo keys only).
    #[arg(long)]
    unencrypted: bool,
}

impl KeygenArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let key_path = self.out.with_extension("key");
        let pub_path = self.out.with_extension("pub");
        for p in [&key_path, &pub_path] {
            if p.exists() {
                anyhow::bail!(ferry_cli::UsageError(format!(
                    "{} already exists; ferry never overwrites a key",
                    p.display()
                )));
            }
        }
        let password = if self.unencrypted {
            None
        } else {
            Some(crate::password::new_password()?)
        };
        let generated = minisig::generate(password)?;
        if let Some(parent) = key_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create {}", parent.display()))?;
        }
        write_new(&key_path, generated.secret.as_bytes(), 0o600)?;
        write_new(&pub_path, generated.public.as_bytes(), 0o644)?;
        printer.json(&Output::Keygen {
            key_id: generated.id.to_string(),
            secret_key: &key_path,
            public_key: &pub_path,
            encrypted: !self.unencrypted,
        });
        printer.line(&format!(
            "key {} written: {} (secret, 0600{}) and {}",
            generated.id,
            key_path.display(),
            if self.unencrypted {
                ", UNENCRYPTED"
            } else {
                ", encrypted"
            },
            pub_path.display()
        ));
        Ok(())
    }
}

/// Creates a file that must not exist yet, with `mode`, and syncs it.
fn write_new(path: &std::path::Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("write {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("sync {}", path.display()))?;
    Ok(())
}
