//! `ferry-verify manifest`.

use std::path::PathBuf;

use crate::output::{IgnoredSignature, Output};
use anyhow::Result;
use clap::Args;
use ferry_bundle::{Input, verify_manifest_of};
use ferry_cli::Printer;
use ferry_manifests::time::Timestamp;

/// Verify a manifest alone: the signatures (threshold of distinct trusted
/// keys, exact trusted comment), expiry, max_validity, sequence and the
/// site's pins. PATH is a manifest.json beside its `signatures/` folder, or
/// a bundle (only its manifest and signatures are read).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-verify manifest ws/ferry/manifest.json --trust ferry-trust.toml
  ferry-verify manifest /media/usb/novantra.tar --trust ferry-trust.toml \\
      --now 2026-11-21T00:00:00Z")]
pub(crate) struct ManifestArgs {
    /// manifest.json (beside signatures/) or a bundle.
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
    /// The highest manifest this site accepted (ferry.verify-state/v1).
    #[arg(long)]
    state: Option<PathBuf>,
}

impl ManifestArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let opts = crate::bundle::options(self.now, self.state.as_ref())?;
        let policy =
            ferry_cli::trust::load_policy(&self.trust, self.trust_state.as_deref(), opts.now)?
                .policy;
        let vm = verify_manifest_of(&Input::from_arg(&self.path), &policy, &opts)?;
        let m = &vm.manifest;
        let signers: Vec<String> = vm.signers.valid.iter().map(ToString::to_string).collect();
        for (name, why) in &vm.signers.ignored {
            printer.line(&format!("note: {name}: ignored ({why})"));
        }
        printer.line(&format!(
            "verified: manifest of {} sequence {}, created {}, expires {}; {} file(s); signed by {}; sha256 {}",
            m.product,
            m.sequence,
            m.created,
            m.expires,
            m.files.len(),
            signers.join(", "),
            vm.sha256
        ));
        printer.json(&Output::ManifestVerification {
            result: "verified",
            product: m.product.to_string(),
            sequence: m.sequence,
            created: m.created,
            expires: m.expires,
            manifest_sha256: vm.sha256,
            signers,
            ignored_signatures: vm
                .signers
                .ignored
                .iter()
                .map(|(name, reason)| IgnoredSignature { name, reason })
                .collect(),
            files: m.files.len(),
            policy_sha256: policy.sha256,
        });
        Ok(())
    }
}
