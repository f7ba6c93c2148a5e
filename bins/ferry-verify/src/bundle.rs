//! `ferry-verify bundle`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ferry_bundle::manifest::State;
use ferry_bundle::report::write_receipt;
use ferry_bundle::{Input, Repair, VerifyOptions, verify_bundle};
use ferry_cli::{Printer, UsageError};
use ferry_manifests::time::Timestamp;

/// Verify a bundle offline, in one pass over a tar stream: manifest
/// signatures (threshold of distinct trusted keys), expiry, max_validity,
/// sequence against --state, the site's channel and profile pins, every
/// file's size and SHA-256, vendor signatures, and no entry of any other
/// kind. PATH is a tar, tar.gz or zip file, a directory, a first volume
/// NAME.000, a NAME.volumes.json, or `-` for standard input.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-verify bundle /media/usb/novantra.tar --trust ferry-trust.toml
  cat novantra.tar | ferry-verify bundle - --trust ferry-trust.toml
  ferry-verify bundle /media/usb/novantra.tar.volumes.json \\
      --trust ferry-trust.toml --repair --repair-dir /tmp/rebuilt
  ferry-verify bundle novantra.tar --trust ferry-trust.toml \\
      --receipt receipt.json --key keys/officer.key")]
pub(crate) struct BundleArgs {
    /// The bundle(s) to verify.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The trust policy (ferry-trust.toml).
    #[arg(long)]
    trust: PathBuf,
    /// "Now" for expiry checks (RFC 3339, default: the system clock).
    #[arg(long)]
    now: Option<Timestamp>,
    /// The trust state folder of the policy (default: POLICY.state/):
    /// the trust-chain versions this site applied, read if present, never
    /// written by ferry-verify.
    #[arg(long, value_name = "DIR")]
    trust_state: Option<PathBuf>,
    /// The highest manifest this site accepted (ferry.verify-state/v1):
    /// a lower sequence is a rollback, the same sequence with other bytes
    /// is equivocation. Only read, never written.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Rebuild damaged or missing volumes from parity volumes first (as
    /// NAME.NNN.repaired beside them, or into --repair-dir); the originals
    /// are never modified.
    #[arg(long)]
    repair: bool,
    /// Where --repair writes rebuilt volumes.
    #[arg(long, requires = "repair")]
    repair_dir: Option<PathBuf>,
    /// Write a verification receipt (JSON) here, atomically.
    #[arg(long)]
    receipt: Option<PathBuf>,
    /// Sign the receipt with this minisign secret key (RECEIPT.minisig);
    /// an encrypted key reads its password from FERRY_PASSWORD.
    #[arg(long, requires = "receipt")]
    key: Option<PathBuf>,
}

pub(crate) fn options(now: Option<Timestamp>, state: Option<&PathBuf>) -> Result<VerifyOptions> {
    let state = match state {
        Some(p) => Some(State::load(p)?),
        None => None,
    };
    Ok(VerifyOptions {
        now: now.unwrap_or_else(Timestamp::now),
        state,
        progress: Default::default(),
    })
}

impl BundleArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let mut opts = options(self.now, self.state.as_ref())?;
        opts.progress = printer.progress_handle();
        let policy =
            ferry_cli::trust::load_policy(&self.trust, self.trust_state.as_deref(), opts.now)?
                .policy;
        let key = match &self.key {
            Some(k) => Some(ferry_cli::keyload::load_secret_key(k)?),
            None => None,
        };
        if self.receipt.is_some() && self.paths.len() > 1 {
            return Err(UsageError("--receipt takes one bundle at a time".into()).into());
        }
        let repair = match (self.repair, &self.repair_dir) {
            (false, _) => Repair::No,
            (true, None) => Repair::Beside,
            (true, Some(d)) => Repair::Into(d.clone()),
        };
        let mut reports = Vec::new();
        for p in &self.paths {
            let input = Input::from_arg(p);
            // The heading says what happened: a bundle that fails a check,
            // or one that could not be read at all (issue 10).
            let report = verify_bundle(&input, &policy, &opts, &repair).map_err(|e| {
                let what = match e.class() {
                    ferry_manifests::ErrorClass::Verification => "verification failed",
                    ferry_manifests::ErrorClass::Usage => "cannot be checked",
                    ferry_manifests::ErrorClass::Environment => "cannot be read",
                };
                anyhow::Error::new(e).context(format!("{}: {what}", p.display()))
            })?;
            let lines = report.to_text();
            if let Some((summary, details)) = lines.split_last() {
                for line in details {
                    printer.detail(line);
                }
                printer.line(summary);
            }
            if let Some(r) = &self.receipt {
                write_receipt(&report, r, key.as_ref())?;
                printer.info(&format!("receipt written to {}", r.display()));
            }
            reports.push(report);
        }
        if reports.len() == 1 {
            printer.json(&reports[0]);
        } else {
            printer.json(&reports);
        }
        Ok(())
    }
}
