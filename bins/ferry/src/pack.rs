//! `ferry pack`: a signed workspace into a bundle (SPEC §3.6, §4).

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_bundle::{Format, PackOptions, Split, pack};
use ferry_cli::Printer;

/// Pack a signed workspace into a bundle: tar (default, reproducible),
/// tar.gz, zip or a plain directory; optionally split into volumes with
/// Reed–Solomon parity volumes. Every file is hashed while it is packed and
/// checked against the signed manifest.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry pack --workspace ws --out /media/usb/novantra.tar
  ferry pack --workspace ws --out /media/usb/novantra.tar \\
      --split fat32 --parity 1
  ferry pack --workspace ws --out /media/usb/novantra --format dir")]
pub(crate) struct PackArgs {
    /// The signed workspace (ferry/manifest.json, ferry/signatures/, releases/).
    #[arg(long)]
    workspace: PathBuf,
    /// The bundle to write (must not exist). With --split: the volumes'
    /// base name (OUT.000, OUT.001, …, OUT.volumes.json).
    #[arg(long)]
    out: PathBuf,
    /// tar, tar.gz, zip or dir.
    #[arg(long, default_value = "tar")]
    format: Format,
    /// Cut the archive into volumes of at most SIZE (e.g. 100M, 4G) or
    /// `fat32` (4 GiB − 1 byte).
    #[arg(long, value_name = "SIZE|fat32")]
    split: Option<Split>,
    /// Add K Reed–Solomon parity volumes (OUT.p00, …): any K lost or
    /// damaged volumes can be rebuilt with `ferry-verify bundle --repair`.
    #[arg(long, value_name = "K", default_value_t = 0, requires = "split")]
    parity: usize,
    /// A mirror's exported state (ferry-mirror export-state): the manifest
    /// must come from `ferry sign --since` the same state, so the bundle
    /// carries only what that mirror lacks.
    #[arg(long, value_name = "STATE.json")]
    since: Option<PathBuf>,
}

impl PackArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        if let Some(p) = &self.since {
            let state = ferry_mirror_layout::mirror::state::MirrorState::load(p)?;
            ferry_bundle::check_since(&self.workspace, &state)?;
        }
        let report = pack(
            &self.workspace,
            &self.out,
            &PackOptions {
                format: self.format,
                split: self.split,
                parity: self.parity,
                progress: printer.progress_handle(),
            },
        )?;
        printer.json(&Output::Pack(&report));
        let extra = report.volumes.as_ref().map_or(String::new(), |s| {
            format!(
                " in {} volume(s){}",
                s.volumes.len(),
                s.parity.as_ref().map_or(String::new(), |p| format!(
                    " + {} parity volume(s)",
                    p.volumes.len()
                ))
            )
        });
        printer.line(&format!(
            "{}: {} bundle, {} file(s) + manifest and {} signature(s), {}{extra}; manifest sha256 {}",
            report.out.display(),
            report.format,
            report.files,
            report.signatures,
            ferry_cli::human_bytes(report.bytes_written),
            report.manifest_sha256
        ));
        Ok(())
    }
}
