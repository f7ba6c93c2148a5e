//! `ferry-mirror export-state`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_durable::fsutil::write_atomic;
use ferry_mirror_layout::mirror::Mirror;

/// Write what the mirror holds (ferry.mirror-state/v1), for `ferry sign
/// --since` and `ferry pack --since` on the connected side.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ferry-mirror export-state /srv/mirror --out /media/usb/mirror-state.json"
)]
pub(crate) struct ExportStateArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// The state file to write.
    #[arg(long)]
    out: PathBuf,
    /// Trust policy whose [mirror] keys check the index (default: the key recorded at init).
    #[arg(long)]
    trust: Option<PathBuf>,
}

impl ExportStateArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let m = Mirror::open(&self.dir)?;
        let keys = crate::mirror_keys(&m, self.trust.as_deref(), printer)?;
        let state = m.export_state(&keys)?;
        write_atomic(&self.out, &state.to_bytes())?;
        printer.json(&Output::ExportState {
            out: &self.out,
            files: state.files.len(),
            manifest_sequence: state.manifest_sequence,
        });
        printer.line(&format!(
            "{}: {} file(s), manifest sequence {}, index sequence {}",
            self.out.display(),
            state.files.len(),
            state.manifest_sequence,
            state.index_sequence
        ));
        Ok(())
    }
}
