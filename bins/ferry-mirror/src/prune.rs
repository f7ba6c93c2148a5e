//! `ferry-mirror prune`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::Mirror;

/// Remove old versions: keeps the newest N per channel and profile (never
/// the latest of a channel, never a file a kept release needs); recorded in
/// the audit log; committed crash-safely like an import.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ferry-mirror prune /srv/mirror --keep 3 --key mirror.key --trust site.toml"
)]
pub(crate) struct PruneArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// Versions to keep per channel and profile (at least 1).
    #[arg(long)]
    keep: usize,
    /// The mirror's minisign secret key (re-signs the index and feed).
    #[arg(long)]
    key: PathBuf,
    /// Trust policy: its [mirror] keys must list the mirror key.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Wait for another ferry process holding the mirror's lock instead of failing.
    #[arg(long)]
    wait: bool,
}

impl PruneArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let key = crate::load_key(&self.key)?;
        let m = Mirror::open(&self.dir)?;
        let policy = self
            .trust
            .as_deref()
            .map(|p| crate::site_policy(p, &m))
            .transpose()?;
        let lock = if self.wait { m.lock_wait()? } else { m.lock()? };
        let o = m.prune(&lock, self.keep, &key, policy.as_ref(), Timestamp::now())?;
        printer.json(&Output::Prune { outcome: &o });
        if o.removed.is_empty() {
            printer.line(&format!(
                "{}: nothing to prune (kept {})",
                self.dir.display(),
                o.kept.join(", ")
            ));
        } else {
            printer.line(&format!(
                "{}: removed {} ({} file(s), {} bytes); kept {}; index sequence {}",
                self.dir.display(),
                o.removed.join(", "),
                o.files,
                o.bytes,
                o.kept.join(", "),
                o.index_sequence
            ));
        }
        if !o.kept_required.is_empty() {
            printer.line(&format!(
                "kept {} beyond --keep {}: required release(s), which no upgrade path may skip",
                o.kept_required.join(", "),
                self.keep
            ));
        }
        Ok(())
    }
}
