//! `ferry index build`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::{Args, Subcommand};
use ferry_cli::Printer;
use ferry_manifests::time::Timestamp;
use ferry_manifests::vendor;

#[derive(Debug, Subcommand)]
pub(crate) enum IndexCommand {
    /// Build and sign a vendor release index from a folder of releases.
    Build(BuildArgs),
}

impl IndexCommand {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        match self {
            IndexCommand::Build(args) => args.run(printer),
        }
    }
}

/// Build a vendor release index (ferry.release-index/v1) from FROM (see the
/// README, "Vendor folder"), copy every file into OUT, sign each artifact
/// that has no .minisig yet and the index itself with KEY.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  ferry index build --from vendor-src --key keys/vendor.key \\
      --out /srv/www/novantra")]
pub(crate) struct BuildArgs {
    /// The vendor folder: product.toml and one folder per version.
    #[arg(long)]
    from: PathBuf,
    /// The vendor's minisign secret key.
    #[arg(long)]
    key: PathBuf,
    /// Where to write index.json, index.json.minisig and the files.
    #[arg(long)]
    out: PathBuf,
    /// The index's `generated` time (default: now), e.g. 2026-11-20T00:00:00Z.
    #[arg(long)]
    generated: Option<Timestamp>,
}

impl BuildArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let key = crate::password::load_secret_key(&self.key)?;
        let report = vendor::build_index_with_progress(
            &self.from,
            &self.out,
            &key,
            self.generated.unwrap_or_else(Timestamp::now),
            &printer.progress_handle(),
            Some(&ferry_oci::describe::LayoutDescriber),
        )?;
        let artifacts: usize = report
            .index
            .releases
            .iter()
            .map(|r| r.artifacts.len())
            .sum();
        printer.json(&Output::IndexBuild {
            index: &report.index_path,
            index_sha256: report.index_sha256,
            product: &report.index.product,
            releases: report.index.releases.len(),
            artifacts,
            signed: report.signed,
            key_id: key.id().to_string(),
        });
        printer.line(&format!(
            "{}: {} release(s), {} artifact(s), {} signed now; index signed by key {} (sha256 {})",
            report.index_path.display(),
            report.index.releases.len(),
            artifacts,
            report.signed,
            key.id(),
            report.index_sha256
        ));
        Ok(())
    }
}
