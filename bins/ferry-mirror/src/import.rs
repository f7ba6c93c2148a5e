//! `ferry-mirror import`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_bundle::Input;
use ferry_cli::Printer;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::Mirror;

/// Verify bundles and add them to the mirror, atomically: verified while
/// extracted into staging inside the mirror, then committed crash-safely.
/// Re-importing a bundle already imported is a no-op.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  ferry-mirror import /media/usb/novantra-2026-11.tar --mirror /srv/mirror \\
      --trust site.toml --key mirror.key")]
pub(crate) struct ImportArgs {
    /// Bundles (tar, tar.gz, zip, a folder, a first volume or a volumes.json), in order.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
    /// The mirror folder.
    #[arg(long)]
    mirror: PathBuf,
    /// The site's trust policy.
    #[arg(long)]
    trust: PathBuf,
    /// The mirror's minisign secret key (re-signs the index and feed).
    #[arg(long)]
    key: PathBuf,
    /// Wait for another ferry process holding the mirror's lock instead of failing.
    #[arg(long)]
    wait: bool,
    /// "Now" for expiry checks (RFC 3339; default: the clock).
    #[arg(long)]
    now: Option<Timestamp>,
    /// Where this site records the trust-chain versions it applied
    /// (default: POLICY.state/).
    #[arg(long, value_name = "DIR")]
    trust_state: Option<PathBuf>,
}

impl ImportArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        if self.bundles.iter().any(|b| b.as_os_str() == "-") {
            return Err(ferry_cli::UsageError(
                "ferry-mirror import cannot read a bundle from standard input (-): it reads the signed manifest first, then every file; save the stream to a file first (cat > bundle.tar), or give a file, a first volume, a NAME.volumes.json or a folder".into(),
            )
            .into());
        }
        let now = self.now.unwrap_or_else(Timestamp::now);
        let mut loaded =
            ferry_cli::trust::load_policy(&self.trust, self.trust_state.as_deref(), now)?;
        let key = crate::load_key(&self.key)?;
        let lock = {
            let m = Mirror::open(&self.mirror)?;
            if self.wait { m.lock_wait()? } else { m.lock()? }
        };
        for b in &self.bundles {
            // Opened per bundle: an import may have rotated the mirror key.
            let m = Mirror::open(&self.mirror)?.with_progress(printer.progress_handle());
            let o = m.import(&lock, &Input::Path(b.clone()), &loaded.policy, &key, now)?;
            if let Some(effective) = &o.policy
                && loaded.record(effective, now)?
            {
                printer.info(&format!(
                    "trust chain version {} applied and recorded in {}",
                    effective.trust_version(),
                    loaded.state_dir.display()
                ));
                loaded = ferry_cli::trust::load_policy(&self.trust, Some(&loaded.state_dir), now)?;
            }
            printer.json(&Output::Import {
                bundle: b,
                outcome: &o,
            });
            if let Some(t) = &o.recovered {
                printer.info(&format!("finished the interrupted transaction {t} first"));
            }
            if o.noop {
                printer.line(&format!(
                    "{}: manifest {} (sequence {}) is already on the mirror; nothing to do",
                    b.display(),
                    o.manifest_sha256.short(),
                    o.manifest_sequence
                ));
            } else {
                printer.line(&format!(
                    "{}: imported manifest {} (sequence {}, signed by {}): release(s) {}, {} file(s) added ({}), {} already present; index sequence {}",
                    b.display(),
                    o.manifest_sha256.short(),
                    o.manifest_sequence,
                    o.signers.join(", "),
                    o.releases.join(", "),
                    o.files_added,
                    ferry_cli::human_bytes(o.bytes_added),
                    o.files_present,
                    o.index_sequence
                ));
                if !o.yanked.is_empty() {
                    printer.detail(&format!("  marked yanked: {}", o.yanked.join(", ")));
                }
            }
        }
        Ok(())
    }
}
