//! `ferry-mirror serve`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_mirror_layout::mirror::Mirror;
use ferry_net::access_log::AccessLog;

/// Serve the mirror read-only over HTTP: static files with Range, ETag and
/// HEAD; an HTML status page at `/`; `/healthz`; never `.ferry/`. Runs
/// until interrupted (Ctrl-C).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-mirror serve /srv/mirror --listen 127.0.0.1:8080
  ferry-mirror serve /srv/mirror --listen 0.0.0.0:8080 \\
      --access-log /var/log/ferry-mirror/access.log")]
pub(crate) struct ServeArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Append the access log (Common Log Format) to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    access_log: Option<PathBuf>,
    /// Write no access log.
    #[arg(long, conflicts_with = "access_log")]
    no_access_log: bool,
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
        let log = self.access_log()?;
        let server = ferry_net::mirror_serve::start_with_access_log(&self.dir, self.listen, log)?;
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

    /// Where the access log goes: --access-log FILE (appended), stderr,
    /// or nowhere.
    fn access_log(&self) -> Result<Option<AccessLog>> {
        if self.no_access_log {
            return Ok(None);
        }
        let w: Box<dyn Write + Send> = match &self.access_log {
            Some(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| anyhow::anyhow!("--access-log {}: {e}", p.display()))?,
            ),
            None => Box::new(std::io::stderr()),
        };
        Ok(Some(Arc::new(Mutex::new(w))))
    }
}
