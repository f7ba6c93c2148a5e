//! `ferry-mirror publish` (SPEC §3.14): the mirror on S3-compatible object
//! storage. The binary reads the credentials from the environment and
//! renders progress; `ferry-publish` does the work.

use std::path::PathBuf;

use crate::output::Output;
use anyhow::{Result, bail};
use clap::Args;
use ferry_cli::{Printer, UsageError, VerifyError};
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::Mirror;
use ferry_publish::store::Store;
use ferry_publish::target::{Credentials, StoreConfig, Target};
use ferry_publish::{Guard, Progress, PublishOptions};

/// Put the mirror on S3-compatible object storage: only what the store
/// lacks (compared with the signed index it holds), content first, the
/// index and its signature last; checked after upload. Each publish is
/// recorded in the mirror's audit log (the index is re-signed). Where the
/// store honours conditional writes, a concurrent publisher loses a
/// compare-and-swap of the index and exits 3; elsewhere a lock object
/// keeps publishers apart, best effort. Credentials come from
/// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN if set).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-mirror publish /srv/mirror --to s3://mirror/novantra \\
      --endpoint https://s3.internal:3900 --region garage \\
      --key mirror.key --trust site.toml
  ferry-mirror publish /srv/mirror --to s3://mirror/novantra \\
      --endpoint https://s3.internal:3900 --key mirror.key --verify")]
pub(crate) struct PublishArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// The bucket, and a prefix inside it, to publish to.
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]")]
    to: String,
    /// The store's S3 API endpoint.
    #[arg(long, value_name = "URL")]
    endpoint: String,
    /// The region request signatures name (default: $AWS_REGION, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// The mirror's minisign secret key (the publish is recorded in the
    /// audit log, so the index is re-signed).
    #[arg(long)]
    key: PathBuf,
    /// Trust policy: its [mirror] keys check the index the store holds
    /// (default: the key recorded at init).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// After the upload, re-read and re-hash every object on the store
    /// against the signed index (exit 1 naming any damaged object).
    #[arg(long)]
    verify: bool,
    /// Upload every object the index lists, even those the store's index
    /// already lists (replaces objects --verify found damaged).
    #[arg(long)]
    all: bool,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Seconds the lock object holds on a store without conditional writes.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    lock_ttl: u64,
    /// Wait for another ferry process holding the mirror's lock instead of failing.
    #[arg(long)]
    wait: bool,
}

impl PublishArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let target = Target::parse(&self.to)?;
        let config = StoreConfig {
            endpoint: self.endpoint.clone(),
            region: self
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            credentials: Some(credentials()?),
        };
        let key = crate::load_key(&self.key)?;
        let m = Mirror::open(&self.dir)?;
        let policy = self
            .trust
            .as_deref()
            .map(|p| crate::site_policy(p, &m))
            .transpose()?;
        let keys = crate::mirror_keys(&m, self.trust.as_deref(), printer)?;
        let lock = if self.wait { m.lock_wait()? } else { m.lock()? };
        let store = Store::connect(target, &config)?;
        let opts = PublishOptions {
            jobs: usize::from(self.jobs),
            all: self.all,
            verify: self.verify,
            lock_ttl_secs: self.lock_ttl,
            now: Timestamp::now(),
        };
        let bars = Bars::new(printer);
        let o = ferry_publish::publish(
            &m,
            &lock,
            &key,
            policy.as_ref(),
            &keys,
            &store,
            &opts,
            &bars,
        )?;
        drop(lock);
        self.report(&o, printer)
    }

    /// The summary, then the `--verify` findings (exit 1 if any).
    fn report(&self, o: &ferry_publish::PublishOutcome, printer: Printer) -> Result<()> {
        printer.json(&Output::Publish { outcome: o });
        let guard = match o.guard {
            Guard::CompareAndSwap => "compare-and-swap of the index",
            Guard::LockObject => "lock object (no conditional writes)",
        };
        printer.line(&format!(
            "{} at {}: published index sequence {} (store had {}): uploaded {} object(s), {} bytes ({} content, {} documents); {} unchanged, {} already there; guarded by {guard}",
            o.target,
            o.endpoint,
            o.index_sequence,
            o.previous_sequence
                .map_or_else(|| "none".into(), |s| s.to_string()),
            o.objects,
            o.bytes,
            o.content_objects,
            o.objects - o.content_objects,
            o.unchanged,
            o.resumed
        ));
        if let Some(r) = &o.verified {
            for p in &r.problems {
                printer.line(&format!("problem: {p}"));
            }
            printer.line(&format!(
                "verified: {} object(s), {} bytes re-read and re-hashed against index sequence {}; {} problem(s)",
                r.files,
                r.bytes,
                r.index_sequence,
                r.problems.len()
            ));
            if !r.problems.is_empty() {
                printer.warn(&format!(
                    "hint: replace damaged objects with: ferry-mirror publish {} --to {} --endpoint {} --key KEY --all",
                    self.dir.display(),
                    o.target,
                    o.endpoint
                ));
                bail!(VerifyError(format!(
                    "{}: --verify found {} problem(s) on the store",
                    o.target,
                    r.problems.len()
                )));
            }
        }
        Ok(())
    }
}

/// A variable of the environment, unset when empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The key pair from the usual variables; never printed.
fn credentials() -> Result<Credentials> {
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
        }),
        _ => bail!(UsageError(
            "publish needs the store's credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .into()
        )),
    }
}

/// A progress bar on a terminal, warnings always.
struct Bars {
    printer: Printer,
    bar: Option<indicatif::ProgressBar>,
}

impl Bars {
    fn new(printer: Printer) -> Self {
        let bar = printer.progress().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} publishing {pos}/{len} objects {wide_bar} {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Bars { printer, bar }
    }
}

impl Progress for Bars {
    fn begin(&self, objects: usize, _bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_length(objects as u64);
        }
    }

    fn object_done(&self, _path: &str, _bytes: u64, _uploaded: bool) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    fn note(&self, message: &str) {
        self.printer.warn(message);
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
