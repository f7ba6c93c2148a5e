//! `ferry sync` (SPEC §4): thin; the work is `ferry_net::sync`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::output::Output;
use anyhow::Result;
use clap::Args;
use ferry_cli::{Printer, UsageError};
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;
use ferry_net::client::ClientOptions;
use ferry_net::progress::{NoProgress, Progress};
use ferry_net::sync::{DEFAULT_JOBS, DEFAULT_RETRIES, SyncOptions, sync_blocking};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use semver::VersionReq;

use crate::config::FerryToml;

/// Fetch a vendor's signed release index and the selected releases into a
/// workspace, verifying everything while it downloads (index signature,
/// sizes, SHA-256, vendor signatures per the trust policy). Nothing
/// unverified is left outside WORKSPACE/.ferry/. Re-running resumes
/// interrupted downloads and re-checks what is already there.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry sync --index https://releases.example.com/novantra/index.json \\
      --trust ferry-trust.toml --channel stable --profile no-training \\
      --workspace ws
  ferry sync --config ferry.toml --versions '>=3.2' --platform linux-amd64
  ferry sync --config ferry.toml --ca-cert corp-root-ca.pem --jobs 8")]
pub(crate) struct SyncArgs {
    /// A ferry.toml whose keys are these flags' long names; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// URL of the vendor's index.json (index.json.minisig must sit beside it).
    #[arg(long)]
    index: Option<String>,
    /// The trust policy (its [vendor] section).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Channel to take (repeatable).
    #[arg(long)]
    channel: Vec<Name>,
    /// Profile to take, e.g. no-training (repeatable).
    #[arg(long)]
    profile: Vec<Name>,
    /// Only versions in this SemVer range, e.g. '>=3.1, <4'.
    #[arg(long)]
    versions: Option<VersionReq>,
    /// Only artifacts for this platform, e.g. linux-amd64 (repeatable; default all).
    #[arg(long)]
    platform: Vec<Name>,
    /// The workspace folder (created if needed).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// An extra trusted root certificate (PEM), for a corporate TLS proxy or
    /// a private vendor server. Proxies come from HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// A container registry (host[:port], as the index's image references
    /// name it) to pull from over plain HTTP instead of HTTPS (repeatable).
    /// Image bytes are verified by digest either way.
    #[arg(long, value_name = "HOST")]
    registry_http: Vec<String>,
    /// Parallel downloads [default: 4].
    #[arg(long)]
    jobs: Option<usize>,
    /// Retries per file after a network failure [default: 3].
    #[arg(long)]
    retries: Option<u32>,
    /// DANGEROUS: accept a vendor index generated before one this
    /// workspace already accepted (replay protection off for this run;
    /// only when the vendor really withdrew a newer index).
    #[arg(long)]
    allow_older_index: bool,
}

impl SyncArgs {
    fn resolve(self) -> Result<(SyncOptions, PathBuf)> {
        let cfg = match &self.config {
            Some(p) => FerryToml::load(p)?,
            None => FerryToml::default(),
        };
        let missing = |flag: &str| {
            UsageError(format!(
                "--{flag} is required (or set `{flag}` in --config ferry.toml)"
            ))
        };
        let index = self.index.or(cfg.index).ok_or_else(|| missing("index"))?;
        let trust = self.trust.or(cfg.trust).ok_or_else(|| missing("trust"))?;
        let workspace = self
            .workspace
            .or(cfg.workspace)
            .ok_or_else(|| missing("workspace"))?;
        let pick = |flag: Vec<Name>, file: Option<crate::config::OneOrMany>| {
            if flag.is_empty() {
                file.map(crate::config::OneOrMany::into_vec)
                    .unwrap_or_default()
            } else {
                flag
            }
        };
        let channels = pick(self.channel, cfg.channel);
        let profiles = pick(self.profile, cfg.profile);
        let platforms = pick(self.platform, cfg.platform);
        if channels.is_empty() {
            return Err(missing("channel").into());
        }
        if profiles.is_empty() {
            return Err(missing("profile").into());
        }
        let versions = match (self.versions, cfg.versions) {
            (Some(v), _) => Some(v),
            (None, Some(s)) => Some(
                VersionReq::parse(&s)
                    .map_err(|e| UsageError(format!("versions = \"{s}\" in the config: {e}")))?,
            ),
            (None, None) => None,
        };
        let jobs = self.jobs.or(cfg.jobs).unwrap_or(DEFAULT_JOBS);
        if jobs == 0 || jobs > 64 {
            return Err(UsageError("--jobs must be between 1 and 64".into()).into());
        }
        Ok((
            SyncOptions {
                index_url: index,
                channels,
                profiles,
                versions,
                platforms,
                workspace,
                client: ClientOptions {
                    ca_cert: self.ca_cert.or(cfg.ca_cert),
                },
                registry_http: if self.registry_http.is_empty() {
                    cfg.registry_http.unwrap_or_default()
                } else {
                    self.registry_http
                },
                jobs,
                retries: self.retries.or(cfg.retries).unwrap_or(DEFAULT_RETRIES),
                allow_older_index: self.allow_older_index,
            },
            trust,
        ))
    }

    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        ferry_net::limits::set(ferry_net::limits::from_vars(|k| std::env::var(k).ok())?);
        let (opts, trust) = self.resolve()?;
        if opts.allow_older_index {
            printer.warn("WARNING: --allow-older-index: replay protection of the vendor index is OFF for this run");
        }
        // The vendor role's keys as the recorded trust chain leaves them
        // (SPEC §3.11): a rotated vendor key counts, a dropped one not.
        let policy = ferry_cli::trust::load_policy(&trust, None, Timestamp::now())?.policy;
        let progress: Arc<dyn Progress> = if printer.progress() {
            Arc::new(Bars::new())
        } else {
            Arc::new(NoProgress)
        };
        let report = sync_blocking(&opts, &policy, progress)?;
        printer.json(&Output::Sync {
            workspace: &opts.workspace,
            report: &report,
        });
        for i in &report.ignored {
            printer.info(&format!("note: {i}"));
        }
        if report.releases.is_empty() {
            printer.warn("no release of the index matches the selection (channel, profile, versions, platform); nothing to carry");
        }
        for r in &report.releases {
            printer.detail(&format!("{}: {} artifact(s)", r.version, r.artifacts.len()));
        }
        for y in &report.yanks {
            printer.warn(&format!(
                "{} was yanked by the vendor: {}",
                y.version,
                ferry_manifests::error::escape_untrusted(&y.reason)
            ));
        }
        if report.cleared_signed {
            printer.info(
                "ferry/ removed: the workspace changed since it was signed; run `ferry sign` again",
            );
        }
        printer.line(&format!(
            "{}: {} file(s), {} verified ({} downloaded, {} resumed, {} already present); index sha256 {} signed by vendor key {}",
            opts.workspace.display(),
            report.files,
            ferry_cli::human_bytes(report.bytes),
            report.downloaded,
            report.resumed,
            report.present,
            report.index_sha256,
            report.index_key_id
        ));
        Ok(())
    }
}

/// indicatif bars: one per file in flight, and a total.
struct Bars {
    mp: MultiProgress,
    total: ProgressBar,
    files: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = mp.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "total {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bars {
            mp,
            total,
            files: Mutex::new(HashMap::new()),
        }
    }
}

impl Progress for Bars {
    fn begin(&self, _files: usize, bytes: u64) {
        self.total.set_length(bytes);
    }
    fn file_start(&self, path: &str, size: u64) {
        let bar = self.mp.insert_before(&self.total, ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template("{msg:40!} {bar:30} {binary_bytes}/{binary_total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(path.rsplit('/').next().unwrap_or(path).to_string());
        if let Ok(mut m) = self.files.lock() {
            m.insert(path.to_string(), bar);
        }
    }
    fn file_advance(&self, path: &str, bytes: u64) {
        if let Ok(m) = self.files.lock()
            && let Some(b) = m.get(path)
        {
            b.inc(bytes);
        }
        self.total.inc(bytes);
    }
    fn file_done(&self, path: &str) {
        if let Ok(mut m) = self.files.lock()
            && let Some(b) = m.remove(path)
        {
            b.finish_and_clear();
            self.mp.remove(&b);
        }
    }
    fn file_skipped(&self, _path: &str, size: u64) {
        self.total.inc(size);
    }
    fn note(&self, message: &str) {
        let _ = self.mp.println(ferry_cli::terminal_safe(message));
    }
    fn finish(&self) {
        self.total.finish_and_clear();
    }
}
