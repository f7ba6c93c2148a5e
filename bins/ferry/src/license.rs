//! `ferry license issue`: a vendor-signed product license
//! (`ferry.license/v1`, see `ferry_manifests::license`) for the hand-off's
//! pre-flight check, for the demo, tests and vendors.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::{Args, Subcommand};
use ferry_cli::{Printer, UsageError};
use ferry_manifests::license::{License, SCHEMA};
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;

/// Product licenses.
#[derive(Debug, Subcommand)]
pub(crate) enum LicenseCommand {
    /// Issue a license: writes FILE and FILE.minisig (signed by the vendor key).
    Issue(IssueArgs),
}

impl LicenseCommand {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        match self {
            LicenseCommand::Issue(a) => a.run(printer),
        }
    }
}

/// Issue a product license: a small JSON document naming product, profile,
/// licensee and expiry, signed with minisign by the vendor key. The product
/// host's `ferry-handoff install --license FILE` checks the signature with
/// the policy's vendor keys, then product and profile, then the days left.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry license issue --key vendor.key --product novantra \\
      --profile no-training --licensee \"Example Hospital\" \\
      --expires 2027-06-30 --out novantra.license")]
pub(crate) struct IssueArgs {
    /// The vendor's minisign secret key (password from FERRY_PASSWORD or a prompt).
    #[arg(long)]
    key: PathBuf,
    /// The product.
    #[arg(long)]
    product: String,
    /// The deployment profile licensed.
    #[arg(long)]
    profile: String,
    /// Who holds the license.
    #[arg(long)]
    licensee: String,
    /// Expiry: 2027-06-30 (midnight UTC) or 2027-06-30T00:00:00Z.
    #[arg(long, value_parser = ferry_handoff_core::preflight::parse_date)]
    expires: Timestamp,
    /// Issue time (default: now).
    #[arg(long, value_parser = ferry_handoff_core::preflight::parse_date)]
    issued: Option<Timestamp>,
    /// The license file to write (FILE.minisig goes beside it).
    #[arg(long)]
    out: PathBuf,
}

impl IssueArgs {
    fn run(self, printer: Printer) -> Result<()> {
        let name = |flag: &str, v: &str| {
            Name::new(v).map_err(|e| UsageError(format!("--{flag} {v}: {e}")))
        };
        let lic = License {
            schema: SCHEMA.to_string(),
            product: name("product", &self.product)?,
            profile: name("profile", &self.profile)?,
            licensee: self.licensee.clone(),
            issued: self.issued.unwrap_or_else(Timestamp::now),
            expires: self.expires,
        };
        if lic.expires <= lic.issued {
            anyhow::bail!(UsageError(format!(
                "--expires {}: is not after the issue time {}",
                lic.expires, lic.issued
            )));
        }
        let key = crate::password::load_secret_key(&self.key)?;
        let bytes = lic.to_bytes();
        let sig = License::sign(&bytes, &lic.product, &key)?;
        let sig_path = PathBuf::from(format!("{}.minisig", self.out.display()));
        ferry_durable::fsutil::write_signed(&self.out, &bytes, Some(&sig))?;
        printer.json(&Output::License {
            file: &self.out,
            signature: &sig_path,
            key_id: key.id().to_string(),
            license: &lic,
        });
        printer.line(&format!(
            "license for {} ({}, {}) until {} written: {} and {} (key {})",
            lic.product,
            lic.profile,
            lic.licensee,
            lic.expires,
            self.out.display(),
            sig_path.display(),
            key.id()
        ));
        Ok(())
    }
}
