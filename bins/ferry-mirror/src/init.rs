//! `ferry-mirror init`.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::Mirror;

use crate::{join, load_key};

/// Create a mirror. Its product, channels and profiles are fixed here.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  ferry-mirror init /srv/mirror --product novantra --channel stable \\
      --profile no-training --key mirror.key")]
pub(crate) struct InitArgs {
    /// The mirror folder (new or empty).
    dir: PathBuf,
    /// The product.
    #[arg(long)]
    product: Name,
    /// A channel this site accepts (repeatable).
    #[arg(long = "channel", required = true)]
    channels: Vec<Name>,
    /// A profile this site accepts (repeatable).
    #[arg(long = "profile", required = true)]
    profiles: Vec<Name>,
    /// The mirror's minisign secret key (signs the index and the feed).
    #[arg(long)]
    key: PathBuf,
}

impl InitArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let key = load_key(&self.key)?;
        let m = Mirror::init(
            &self.dir,
            self.product,
            self.channels,
            self.profiles,
            &key,
            Timestamp::now(),
        )?;
        printer.json(&Output::Init {
            mirror: &self.dir,
            config: m.config(),
        });
        printer.line(&format!(
            "mirror {} created for {} ({} / {}), signed by key {}",
            self.dir.display(),
            m.config().product,
            join(&m.config().channels),
            join(&m.config().profiles),
            key.id()
        ));
        Ok(())
    }
}
