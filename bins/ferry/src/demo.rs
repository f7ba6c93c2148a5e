//! `ferry demo` (placeholder replaced below).
use anyhow::Result;
use clap::Args;
use ferry_mirror_layout::cli::Printer;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {}

impl DemoArgs {
    pub(crate) fn run(self, _printer: Printer) -> Result<()> {
        Ok(())
    }
}
