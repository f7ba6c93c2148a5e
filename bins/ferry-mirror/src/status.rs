//! `ferry-mirror status`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_mirror_layout::mirror::Mirror;

use crate::mirror_keys;

/// Show what the mirror holds.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ferry-mirror status /srv/mirror --json")]
pub(crate) struct StatusArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// Trust policy whose [mirror] keys check the index (default: the key recorded at init).
    #[arg(long)]
    trust: Option<PathBuf>,
}

impl StatusArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let m = Mirror::open(&self.dir)?;
        let keys = mirror_keys(&m, self.trust.as_deref(), printer)?;
        let (index, _) = m.read_index(&keys)?;
        let hints = index.hints();
        printer.json(&Output::Status {
            product: &index.product,
            sequence: index.sequence,
            manifest_sequence: index.manifest_sequence,
            generated: index.generated,
            channels: &hints.channels,
            advisories: &hints.advisories,
            releases: index.releases.len(),
            last_import: index.manifests.iter().max_by_key(|m| m.imported),
        });
        printer.line(&format!(
            "{} mirror at {}: index sequence {}, {} release(s)",
            index.product,
            self.dir.display(),
            index.sequence,
            index.releases.len()
        ));
        if let Some(last) = index.manifests.iter().max_by_key(|m| m.imported) {
            printer.line(&format!(
                "  last import {}: manifest sequence {} ({}), signed by {}",
                last.imported,
                last.sequence,
                last.sha256.short(),
                last.signers.join(", ")
            ));
        }
        for (channel, profiles) in &hints.channels {
            for (profile, cp) in profiles {
                let versions: Vec<String> = cp.versions.iter().map(ToString::to_string).collect();
                printer.line(&format!(
                    "  {channel}/{profile}: latest {} (versions {})",
                    cp.latest,
                    versions.join(", ")
                ));
            }
        }
        for adv in &hints.advisories {
            printer.line(&format!(
                "  advisory {} ({:?}): affects {}; fixed in {}",
                adv.id,
                adv.severity,
                adv.affected,
                adv.fixed_in
                    .as_ref()
                    .map_or("-".into(), ToString::to_string)
            ));
        }
        Ok(())
    }
}
