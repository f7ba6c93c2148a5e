//! `ferry-verify audit-log`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::{Result, bail};
use clap::Args;
use ferry_cli::{Printer, UsageError, VerifyError};
use ferry_manifests::minisig::read_small_bytes;
use ferry_mirror_layout::audit::{MAX_LOG_BYTES, verify_chain};
use ferry_mirror_layout::mirror::verify_index_bytes;

/// Check a mirror's hash-chained audit log (SPEC §3.9): every line in
/// canonical form, `seq` without gaps, each `prev` the SHA-256 of the line
/// before. With `--index` and `--trust`, also that the mirror index, signed
/// by a `[mirror]` key of the policy, records the log's last line as its head.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-verify audit-log /srv/mirror/audit/log.jsonl
  ferry-verify audit-log /srv/mirror/audit/log.jsonl \\
      --index /srv/mirror/index.json --trust site.toml")]
pub(crate) struct AuditLogArgs {
    /// The log (audit/log.jsonl).
    path: PathBuf,
    /// The mirror's index.json (its .minisig beside it).
    #[arg(long, requires = "trust")]
    index: Option<PathBuf>,
    /// The trust policy whose [mirror] keys check the index.
    #[arg(long, requires = "index")]
    trust: Option<PathBuf>,
}

impl AuditLogArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let what = self.path.display().to_string();
        let bytes = read_small_bytes(&self.path, MAX_LOG_BYTES)?;
        let (entries, head) = verify_chain(&bytes, &what)?;
        let Some(head) = head else {
            bail!(VerifyError(format!("{what}: the log is empty")));
        };
        let mut anchored = false;
        if let (Some(index), Some(trust)) = (&self.index, &self.trust) {
            // The mirror keys as the chain beside the index leaves them.
            let now = ferry_manifests::time::Timestamp::now();
            let loaded = ferry_cli::trust::load_policy(trust, None, now)?.policy;
            let chain_dir = index
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(ferry_manifests::trust::MIRROR_DIR);
            let candidates = ferry_manifests::trust::read_dir(&chain_dir)?;
            let policy = ferry_manifests::trust::apply(&loaded, candidates, now)?.policy;
            let keys = &policy.mirror()?.keys;
            let ib = read_small_bytes(index, ferry_manifests::json::MAX_DOCUMENT_BYTES)?;
            let sig_path = PathBuf::from(format!("{}.minisig", index.display()));
            let sb = read_small_bytes(
                &sig_path,
                ferry_manifests::minisig::MAX_SIGNATURE_BYTES as u64,
            )?;
            let idx = verify_index_bytes(&ib, &sb, keys, &index.display().to_string())?;
            if idx.audit_head != head {
                bail!(VerifyError(format!(
                    "{what}: the last line (seq {}, sha256 {}) is not the head the signed index records (seq {}, sha256 {}): the log was changed or the index is stale",
                    head.seq, head.sha256, idx.audit_head.seq, idx.audit_head.sha256
                )));
            }
            anchored = true;
        } else if self.index.is_some() != self.trust.is_some() {
            bail!(UsageError("--index and --trust go together".into()));
        }
        printer.json(&Output::AuditLogVerification {
            result: "verified",
            entries: entries.len(),
            head: &head,
            anchored_by_index: anchored,
        });
        printer.line(&format!(
            "verified: {what}: {} entr{} chained, head seq {} sha256 {}{}",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" },
            head.seq,
            head.sha256,
            if anchored {
                "; matches the signed index"
            } else {
                " (pass --index and --trust to check the signed index anchors it)"
            }
        ));
        Ok(())
    }
}
