//! `ferry-mirror fsck`, with `--repair BUNDLE`.

use std::path::{Path, PathBuf};

use crate::output::Output;
use anyhow::{Result, bail};
use clap::Args;
use ferry_cli::{Printer, VerifyError};
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::Mirror;

use crate::mirror_keys;

/// Re-hash every file against the signed index; check the feed and the
/// audit chain; report anything not listed. Exit 1 on any problem.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-mirror fsck /srv/mirror --trust site.toml
  ferry-mirror fsck /srv/mirror     # trusts the key recorded at init
  ferry-mirror fsck /srv/mirror --trust site.toml \\
      --repair /media/usb/novantra.tar
  ferry-mirror fsck --remote https://mirror.internal/novantra/ --trust site.toml")]
pub(crate) struct FsckArgs {
    /// The mirror folder.
    #[arg(required_unless_present = "remote")]
    dir: Option<PathBuf>,
    /// Check a published mirror over HTTP instead (object storage's website
    /// endpoint, any web server): the signed index, published.json, the
    /// feed, the audit chain, and every listed file re-hashed as served.
    #[arg(long, value_name = "URL", conflicts_with_all = ["dir", "repair", "wait"], requires = "trust")]
    remote: Option<String>,
    /// Trust policy whose [mirror] keys check the index (default: the key
    /// recorded in ferry-mirror.toml at init, which only guards against
    /// damage, not against someone who can write the mirror).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Wait for another ferry process holding the mirror's lock instead of failing.
    #[arg(long)]
    wait: bool,
    /// Restore damaged or missing files from this bundle (verified in full
    /// with --trust; only bytes the mirror's signed index lists are taken).
    #[arg(long, value_name = "BUNDLE", requires = "trust")]
    repair: Option<PathBuf>,
}

impl FsckArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        if let (Some(url), Some(trust)) = (&self.remote, &self.trust) {
            return crate::fsck_remote::run(url, trust, printer);
        }
        let Some(dir) = self.dir.clone() else {
            bail!(ferry_cli::UsageError(
                "give the mirror folder, or --remote URL".into()
            ));
        };
        let m = Mirror::open(&dir)?;
        // Finish (or discard) an interrupted change first, under the lock;
        // then read the mirror again (a change may have rotated its key
        // and completed its trust chain).
        let lock = if self.wait { m.lock_wait()? } else { m.lock()? };
        if let Some(t) = m.recover(&lock)? {
            printer.info(&format!("finished the interrupted transaction {t}"));
        }
        let m = Mirror::open(&dir)?.with_progress(printer.progress_handle());
        let keys = mirror_keys(&m, self.trust.as_deref(), printer)?;
        let mut r = m.fsck(&keys)?;
        let mut repaired = None;
        if let (Some(bundle), Some(trust)) = (&self.repair, &self.trust)
            && !r.damaged.is_empty()
        {
            let policy = crate::site_policy(trust, &m)?;
            let input = ferry_bundle::verify::Input::from_arg(bundle);
            let o = m.repair(&lock, &input, &policy, &r.damaged, Timestamp::now())?;
            for f in &o.restored {
                printer.line(&format!("restored {f} from {}", bundle.display()));
            }
            r = m.fsck(&keys)?;
            repaired = Some(o);
        }
        drop(lock);
        printer.json(&Output::Fsck {
            ok: r.problems.is_empty(),
            report: &r,
            repair: repaired.as_ref(),
        });
        for p in &r.problems {
            printer.line(&format!("problem: {p}"));
        }
        printer.line(&format!(
            "{}: {} file(s), {} re-hashed against index sequence {}; {} problem(s)",
            dir.display(),
            r.files,
            ferry_cli::human_bytes(r.bytes),
            r.index_sequence,
            r.problems.len()
        ));
        if let Some(o) = &repaired
            && !o.not_in_bundle.is_empty()
        {
            printer.warn(&format!(
                "{} does not carry {} with the bytes the index signed: repair with a bundle that does",
                self.repair.as_deref().unwrap_or(Path::new("-")).display(),
                o.not_in_bundle.join(", ")
            ));
        } else if repaired.is_none() && !r.damaged.is_empty() {
            printer.warn(&format!(
                "hint: restore damaged files from a bundle that carries them: ferry-mirror fsck {} --trust POLICY --repair BUNDLE",
                dir.display()
            ));
        }
        if !r.problems.is_empty() {
            bail!(VerifyError(format!(
                "{}: fsck found {} problem(s)",
                dir.display(),
                r.problems.len()
            )));
        }
        Ok(())
    }
}
