//! `ferry-verify report`: provenance of every artifact of a verified bundle.

use std::path::PathBuf;

use crate::output::{Output, provenance};
use anyhow::Result;
use clap::{Args, ValueEnum};
use ferry_bundle::{Input, Repair, verify_bundle};
use ferry_cli::Printer;
use ferry_manifests::time::Timestamp;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutFormat {
    Text,
    Json,
}

/// Verify a bundle, then print the provenance of every artifact: digests,
/// vendor signer, Sigstore identity and log entry as recorded, transfer
/// signers, sequence, expiry.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ferry-verify report /media/usb/novantra.tar --trust ferry-trust.toml\n  ferry-verify report bundle-dir --trust ferry-trust.toml --format json"
)]
pub(crate) struct ReportArgs {
    /// The bundle (as for `ferry-verify bundle`).
    path: PathBuf,
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
    /// text or json (html is not built yet).
    #[arg(long, value_enum, default_value = "text")]
    format: OutFormat,
}

impl ReportArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let opts = crate::bundle::options(self.now, None)?;
        let policy =
            ferry_cli::trust::load_policy(&self.trust, self.trust_state.as_deref(), opts.now)?
                .policy;
        let report = verify_bundle(&Input::from_arg(&self.path), &policy, &opts, &Repair::No)?;
        let artifacts = provenance(&report);
        let doc = Output::ProvenanceReport {
            bundle: &report.bundle,
            product: &report.product,
            sequence: report.sequence,
            created: report.created,
            expires: report.expires,
            manifest_sha256: report.manifest_sha256,
            transfer_signers: &report.signers,
            threshold: report.threshold,
            policy_sha256: report.policy.sha256,
            verified_at: report.time,
            tool: &report.tool,
            artifacts,
            trust_chain: &report.trust_chain,
        };
        if printer.json || matches!(self.format, OutFormat::Json) {
            let p = Printer {
                json: true,
                ..printer
            };
            p.json(&doc);
            return Ok(());
        }
        printer.line(&format!(
            "{} sequence {} (manifest sha256 {}), created {}, expires {}",
            report.product, report.sequence, report.manifest_sha256, report.created, report.expires
        ));
        printer.line(&format!(
            "transfer signers: {} (threshold {})",
            report.signers.join(", "),
            report.threshold
        ));
        if report.trust_chain.is_empty() {
            printer.line("trust chain: the policy file alone (version 1)");
        }
        for v in &report.trust_chain {
            printer.line(&format!(
                "trust chain version {} (sha256 {}): signed by {} of version {}'s root and {} of its own",
                v.version,
                v.sha256,
                v.signed_by_previous.join(", "),
                v.version - 1,
                v.signed_by_own.join(", ")
            ));
            for c in &v.changes {
                printer.line(&format!("    {c}"));
            }
        }
        for a in provenance(&report) {
            printer.line(&format!(
                "{}  {} {} {}  sha256 {}  {} bytes",
                a.path,
                a.version,
                a.profile,
                a.platform,
                a.sha256.unwrap_or_default(),
                a.size.unwrap_or_default()
            ));
            for u in a.upstream {
                printer.line(&format!(
                    "    upstream: {}",
                    serde_json::to_string(u).unwrap_or_default()
                ));
            }
            for c in &a.checked_offline {
                printer.line(&format!("    checked: {c}"));
            }
        }
        Ok(())
    }
}
