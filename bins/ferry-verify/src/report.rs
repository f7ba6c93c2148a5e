//! `ferry-verify report`: provenance of every artifact of a verified
//! bundle, or a mirror's chain of custody (issue 16), as text, JSON or one
//! self-contained HTML page.

use std::path::PathBuf;

use crate::mirror_report::{self, MirrorReport};
use crate::output::{Output, ProvenanceReport, provenance, upstream_text};
use anyhow::Result;
use clap::{Args, ValueEnum};
use ferry_bundle::{Input, Repair, verify_bundle};
use ferry_cli::{Printer, human_bytes};
use ferry_manifests::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutFormat {
    Text,
    Json,
    Html,
}

/// Verify a bundle, then print the provenance of every artifact: digests,
/// vendor signer, Sigstore identity and log entry as recorded, transfer
/// signers, sequence, expiry, the trust chain. Given a mirror folder (its
/// index.json and ferry-mirror.toml), verify its signed index and audit
/// log and print its chain of custody: which manifest brought each file,
/// when, signed by whom, and the audit log's head.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-verify report /media/usb/novantra.tar --trust ferry-trust.toml
  ferry-verify report bundle-dir --trust ferry-trust.toml --format json
  ferry-verify report /media/usb/novantra.tar --trust ferry-trust.toml \\
      --format html > novantra-report.html
  ferry-verify report /srv/mirror --trust site.toml --format html \\
      > mirror-custody.html")]
pub(crate) struct ReportArgs {
    /// The bundle (as for `ferry-verify bundle`) or a mirror folder.
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
    /// text, json, or html (one self-contained page, on stdout).
    #[arg(long, value_enum, default_value = "text")]
    format: OutFormat,
}

impl ReportArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let opts = crate::bundle::options(self.now, None)?;
        let policy =
            ferry_cli::trust::load_policy(&self.trust, self.trust_state.as_deref(), opts.now)?
                .policy;
        let format = if printer.json {
            OutFormat::Json
        } else {
            self.format
        };
        let json = Printer {
            json: true,
            ..printer
        };
        if mirror_report::is_mirror(&self.path) {
            let v = mirror_report::verify_index(&self.path.join("index.json"), &policy, opts.now)?;
            let r = mirror_report::build(&self.path, &v, policy.sha256, opts.now)?;
            match format {
                OutFormat::Json => json.json(&r),
                OutFormat::Html => page(&crate::html::mirror_page(&r)),
                OutFormat::Text => mirror_text(printer, &r),
            }
            return Ok(());
        }
        let mut opts = opts;
        opts.progress = printer.progress_handle();
        let report = verify_bundle(&Input::from_arg(&self.path), &policy, &opts, &Repair::No)?;
        let doc = ProvenanceReport {
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
            artifacts: provenance(&report),
            trust_chain: &report.trust_chain,
        };
        match format {
            OutFormat::Json => json.json(&Output::ProvenanceReport(doc)),
            OutFormat::Html => page(&crate::html::bundle_page(&doc)),
            OutFormat::Text => bundle_text(printer, &doc),
        }
        Ok(())
    }
}

/// The HTML page on stdout, as it is (it escaped what it holds).
fn page(html: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(html.as_bytes());
}

fn trust_chain_text(printer: Printer, chain: &[ferry_manifests::trust::VersionSummary]) {
    if chain.is_empty() {
        printer.line("trust chain: the policy file alone (version 1)");
    }
    for v in chain {
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
}

fn bundle_text(printer: Printer, r: &ProvenanceReport<'_>) {
    printer.line(&format!(
        "VERIFIED {}: {} sequence {} (manifest sha256 {}), created {}, expires {}",
        r.bundle, r.product, r.sequence, r.manifest_sha256, r.created, r.expires
    ));
    printer.line(&format!(
        "transfer signers: {} (threshold {})",
        r.transfer_signers.join(", "),
        r.threshold
    ));
    trust_chain_text(printer, r.trust_chain);
    for a in &r.artifacts {
        printer.line(&format!(
            "{}  {} {} {}  sha256 {}  {}",
            a.path,
            a.version,
            a.profile,
            a.platform,
            a.sha256.as_deref().unwrap_or_default(),
            human_bytes(a.size.unwrap_or_default())
        ));
        for u in a.upstream {
            printer.line(&format!("    upstream: {}", upstream_text(u)));
        }
        for c in &a.checked_offline {
            printer.line(&format!("    checked: {c}"));
        }
    }
}

fn mirror_text(printer: Printer, r: &MirrorReport<'_>) {
    printer.line(&format!(
        "VERIFIED mirror {}: {} index sequence {} (sha256 {}), generated {}, signed by mirror key {}",
        r.mirror, r.product, r.index_sequence, r.index_sha256, r.index_generated, r.index_signed_by
    ));
    printer.line(&format!(
        "audit log: {} entries, head seq {} sha256 {} (as the signed index records); file bytes not re-hashed (ferry-mirror fsck does)",
        r.audit_entries, r.audit_head.seq, r.audit_head.sha256
    ));
    trust_chain_text(printer, &r.trust_chain);
    for i in &r.imports {
        printer.line(&format!(
            "import: manifest {} sequence {} (created {}), imported {}{} by {}, signed by {}; {} file(s)",
            i.manifest_sha256,
            i.sequence,
            i.created,
            i.imported,
            i.audit_seq
                .map_or_else(String::new, |s| format!(" (audit line {s})")),
            i.actor.as_deref().unwrap_or("?"),
            i.signers.join(", "),
            i.files
        ));
    }
    for a in &r.artifacts {
        printer.line(&format!(
            "{}  {} {} {}  sha256 {}  {}  brought by {}",
            a.path,
            a.version,
            a.profile,
            a.platform,
            a.sha256,
            human_bytes(a.size),
            a.brought_by.map_or_else(|| "?".into(), |d| d.short())
        ));
        for u in a.upstream {
            printer.line(&format!("    upstream: {}", upstream_text(u)));
        }
    }
}
