//! `ferry-mirror serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_mirror_layout::mirror::Mirror;

/// Serve the mirror read-only over HTTP: static files with Range, ETag and
/// HEAD; an HTML status page at `/`; `/healthz`; never `.ferry/`. Runs
/// until interrupted (Ctrl-C).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ferry-mirror serve /srv/mirror --listen 127.0.0.1:8080")]
pub(crate) struct ServeArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

impl ServeArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        // Refuse a folder that is not a mirror before binding; finish an
        // interrupted publish if no other ferry process is at work.
        let mirror = Mirror::open(&self.dir)?;
        if let Err(e) = mirror.check_served() {
            printer.warn(&format!(
                "the mirror does not verify as served ({e}); /healthz answers 503 until it does (run ferry-mirror fsck)"
            ));
        }
        let server = ferry_net::mirror_serve::start(&self.dir, self.listen)?;
        printer.json(&Output::Serve {
            url: server.url(),
            mirror: &self.dir,
        });
        printer.line(&format!(
            "serving {} read-only at {} (status page; /healthz); Ctrl-C stops",
            self.dir.display(),
            server.url()
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
        drop(server);
        Ok(())
    }
}
