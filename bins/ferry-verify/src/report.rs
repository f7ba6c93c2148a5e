//! `ferry-verify report`: provenance of every artifact of a verified bundle.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use ferry_bundle::{Input, Repair, verify_bundle};
use ferry_cli::Printer;
use ferry_manifests::manifest::Upstream;
use ferry_manifests::policy::TrustPolicy;
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
    /// text or json (html is not built yet).
    #[arg(long, value_enum, default_value = "text")]
    format: OutFormat,
}

impl ReportArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let policy = TrustPolicy::load(&self.trust)?;
        let opts = crate::bundle::options(self.now, None)?;
        let report = verify_bundle(&Input::from_arg(&self.path), &policy, &opts, &Repair::No)?;
        let mut artifacts = Vec::new();
        if let Some(m) = &report.manifest {
            for r in &m.releases {
                for a in &r.artifacts {
                    let file = report.files.iter().find(|f| f.path == a.path.as_str());
                    let upstream: Vec<serde_json::Value> = a
                        .upstream
                        .iter()
                        .map(|u| match u {
                            Upstream::Minisign { path, key_id } => serde_json::json!({
                                "kind": "minisign", "path": path.as_str(), "key_id": key_id}),
                            Upstream::Sigstore {
                                path,
                                identity,
                                issuer,
                                log_index,
                            } => serde_json::json!({
                                "kind": "sigstore", "path": path.as_str(), "identity": identity,
                                "issuer": issuer, "log_index": log_index}),
                        })
                        .collect();
                    artifacts.push(serde_json::json!({
                        "version": r.version.to_string(),
                        "channels": r.channels.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "path": a.path.as_str(),
                        "profile": a.profile.to_string(),
                        "platform": a.platform.to_string(),
                        "format": a.format.to_string(),
                        "size": file.map(|f| f.size),
                        "sha256": file.map(|f| f.sha256.to_string()),
                        "upstream": upstream,
                        "checked_offline": file.map(|f| f.vendor.clone()).unwrap_or_default(),
                    }));
                }
            }
        }
        let doc = serde_json::json!({
            "type": "provenance-report",
            "bundle": report.bundle,
            "product": report.product,
            "sequence": report.sequence,
            "created": report.created,
            "expires": report.expires,
            "manifest_sha256": report.manifest_sha256,
            "transfer_signers": report.signers,
            "threshold": report.threshold,
            "policy_sha256": report.policy.sha256,
            "verified_at": report.time,
            "tool": report.tool,
            "artifacts": artifacts,
        });
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
        for a in &artifacts {
            printer.line(&format!(
                "{}  {} {} {}  sha256 {}  {} bytes",
                a["path"].as_str().unwrap_or_default(),
                a["version"].as_str().unwrap_or_default(),
                a["profile"].as_str().unwrap_or_default(),
                a["platform"].as_str().unwrap_or_default(),
                a["sha256"].as_str().unwrap_or_default(),
                a["size"].as_u64().unwrap_or_default()
            ));
            for u in a["upstream"].as_array().into_iter().flatten() {
                printer.line(&format!("    upstream: {u}"));
            }
            for c in a["checked_offline"].as_array().into_iter().flatten() {
                printer.line(&format!("    checked: {}", c.as_str().unwrap_or_default()));
            }
        }
        Ok(())
    }
}
