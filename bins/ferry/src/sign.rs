//! `ferry sign` (SPEC §4): thin; the work is
//! `ferry_workspace::sign`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::{Duration, Timestamp};
use ferry_workspace::{SignOptions, Workspace, sign_since};

/// Write ferry/manifest.json (SPEC §3.3) and ferry/SHA256SUMS over every
/// file of a synced workspace and sign it with KEY into
/// ferry/signatures/<KEYID>.minisig. When a manifest is already there and
/// the workspace still matches it, add a signature without changing it
/// (a second signer co-signs).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry sign --workspace ws --key keys/org-1.key
  ferry sign --workspace ws --key keys/org-2.key  # co-sign: manifest unchanged
  ferry sign --workspace ws --key keys/org-1.key --expires 14d \\
      --trust ferry-trust.toml
  ferry sign --workspace ws --key keys/org-4.key --trust-chain chain")]
pub(crate) struct SignArgs {
    /// The workspace `ferry sync` filled.
    #[arg(long)]
    workspace: PathBuf,
    /// Your org's minisign secret key (password from FERRY_PASSWORD or a prompt).
    #[arg(long)]
    key: PathBuf,
    /// How long the transfer stays acceptable, e.g. 30d, 72h (new manifests only).
    #[arg(long, default_value = "30d")]
    expires: Duration,
    /// A trust policy: refuse an --expires longer than its transfer.max_validity.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// A mirror's exported state (ferry-mirror export-state): the new
    /// manifest lists only the releases that mirror lacks (then `ferry pack
    /// --since` the same state).
    #[arg(long, value_name = "STATE.json")]
    since: Option<PathBuf>,
    /// A trust-chain folder (ferry trust new/sign) to carry in the bundle,
    /// first in the stream, so the site applies it before it counts the
    /// manifest's signatures.
    #[arg(long, value_name = "DIR")]
    trust_chain: Option<PathBuf>,
}

impl SignArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let max_validity = match &self.trust {
            Some(p) => TrustPolicy::load(p)?.transfer()?.max_validity,
            None => None,
        };
        let ws = Workspace::existing(&self.workspace)?;
        let key = crate::password::load_secret_key(&self.key)?;
        if let Some(dir) = &self.trust_chain {
            let versions = ferry_workspace::carry_trust_chain(&ws, dir)?;
            printer.info(&format!(
                "trust chain versions {:?} from {} will travel first in the bundle",
                versions,
                dir.display()
            ));
        }
        let counter = match ws.load_state()? {
            Some(st) => crate::counter::Counter::open(st.product.as_str())?,
            None => None,
        };
        let since = self
            .since
            .as_deref()
            .map(ferry_mirror_layout::mirror::state::MirrorState::load)
            .transpose()?;
        let report = sign_since(
            &ws,
            &key,
            SignOptions {
                expires: self.expires,
                max_validity,
                now: Timestamp::now(),
                issued_elsewhere: counter.as_ref().map_or(0, crate::counter::Counter::value),
            },
            since.as_ref(),
        )?;
        if let Some(c) = &counter
            && report.new_manifest
        {
            c.record(report.sequence)?;
        }
        printer.json(&Output::Sign(&report));
        printer.line(&format!(
            "{}: {} manifest sequence {} ({} file(s), {} bytes, expires {}), sha256 {}; signature {} by key {}",
            self.workspace.display(),
            if report.new_manifest { "wrote" } else { "co-signed" },
            report.sequence,
            report.files,
            report.bytes,
            report.expires,
            report.manifest_sha256,
            report.signature,
            report.key_id
        ));
        Ok(())
    }
}
