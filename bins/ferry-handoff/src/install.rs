//! `ferry-handoff preflight` and `ferry-handoff install`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ferry_cli::{Printer, UsageError, VerifyError};
use ferry_handoff_core::install::{self as lib, Actions, Outcome, Planned};
use ferry_handoff_core::preflight::{self, Inputs, LicenseInput};
use ferry_manifests::name::Name;
use ferry_manifests::time::{Duration, Timestamp};
use semver::Version;

use crate::common::MirrorArgs;

/// Which subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Preflight,
    Install,
}

/// Hand a verified release to the product's installer. In order: verify
/// the mirror's signed index and feed; refuse channels and profiles the
/// policy is not pinned to; plan; run the pre-flight checks (each prints
/// what it measured); fetch the artifact into a private staging folder
/// inside --to, checking size, SHA-256 and the vendor signatures while it
/// streams; move it into --to; write --to/handoff.json; run --exec with
/// FERRY_ARTIFACT, FERRY_VERSION and FERRY_HANDOFF set; then each
/// --health-url and --health-cmd; run --rollback if the installer or a
/// health check fails. Nothing runs when a step before it failed.
///
/// `preflight` runs the plan and the checks alone and changes nothing.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-handoff install --mirror http://mirror.internal:8080/ \\
      --trust ferry-trust.toml --current 2.4.0 \\
      --channel stable --profile no-training --target 3.2.1 \\
      --to /var/lib/novantra/incoming --exec ./install.sh \\
      --backup /backups/novantra --backup-max-age 24h \\
      --license /etc/novantra/license.json \\
      --data-dir /var/lib/novantra/data \\
      --health-url http://localhost:9000/healthz --rollback ./restore.sh
  ferry-handoff install … --dry-run    # print the plan, change nothing
  ferry-handoff preflight --mirror /srv/mirror --trust ferry-trust.toml \\
      --current 2.4.0 --channel stable --profile no-training \\
      --target 3.2.1 --to /var/lib/novantra/incoming \\
      --license-expires 2027-03-31")]
pub(crate) struct InstallArgs {
    #[command(flatten)]
    mirror: MirrorArgs,
    /// The version to install (the next hop of `check`'s path).
    #[arg(long, value_name = "VERSION", required_unless_present = "version")]
    target: Option<Version>,
    /// Deprecated spelling of --target (elsewhere --version is the tool's
    /// own version); still accepted, with a note on stderr.
    #[arg(long, value_name = "TARGET", conflicts_with = "target")]
    version: Option<Version>,
    /// Where the verified artifact and handoff.json go.
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// The product's installer, run with `sh -c` once everything verified.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    /// A backup file or folder: its newest file must be recent enough.
    #[arg(long, value_name = "PATH")]
    backup: Option<PathBuf>,
    /// Largest age of the newest backup file.
    #[arg(long, value_name = "AGE", default_value = "24h", requires = "backup")]
    backup_max_age: Duration,
    /// The product license (FILE and FILE.minisig, signed by a vendor key).
    #[arg(long, value_name = "FILE", conflicts_with = "license_expires")]
    license: Option<PathBuf>,
    /// The license's expiry, for sites without a license file (2027-03-31).
    #[arg(long, value_name = "DATE", value_parser = preflight::parse_date)]
    license_expires: Option<Timestamp>,
    /// Days of license validity the upgrade needs left.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    license_min_days: u64,
    /// The product's data folder: its filesystem needs twice its size free.
    #[arg(long, value_name = "PATH")]
    data_dir: Option<PathBuf>,
    /// A URL that must answer 2xx after the installer (repeatable).
    #[arg(long, value_name = "URL")]
    health_url: Vec<String>,
    /// A command that must exit 0 after the installer.
    #[arg(long, value_name = "CMD")]
    health_cmd: Option<String>,
    /// How long each health check may take.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    health_timeout: Duration,
    /// The site's restore, run when the installer or a health check fails.
    #[arg(long, value_name = "CMD")]
    rollback: Option<String>,
    /// Print the plan and the checks; change nothing.
    #[arg(long)]
    dry_run: bool,
}

impl InstallArgs {
    pub(crate) fn run(self, printer: Printer, mode: Mode) -> Result<u8> {
        let now = Timestamp::now();
        if !self.to.is_dir() {
            return Err(UsageError(format!(
                "--to {}: is not a folder; create it first",
                self.to.display()
            ))
            .into());
        }
        if self.version.is_some() {
            printer.warn(
                "--version VERSION is deprecated for the version to install: use --target VERSION",
            );
        }
        let l = self.mirror.load(now)?;
        let planned = lib::prepare(&l.mirror, &l.policy, &l.sel, &self.inputs(now)?)?;
        if mode == Mode::Preflight || self.dry_run {
            print_plan(printer, &planned, self.dry_run);
            return match planned.failure() {
                Some(e) => Err(e.into()),
                None => Ok(0),
            };
        }
        for c in &planned.checks {
            printer.check_info(c.passed, &check_line(c));
        }
        if let Some(e) = planned.failure() {
            // Under --json, the checks are the document; nothing ran.
            if printer.json {
                print_plan(printer, &planned, false);
            }
            return Err(e.into());
        }
        let probe = l.probe()?;
        let source = crate::download::WithProgress {
            inner: l.source.as_dyn(),
            progress: printer.progress_handle(),
            total: planned.artifact.as_ref().map_or(0, |a| a.size),
        };
        let ctx = lib::InstallContext {
            source: &source,
            probe: probe.get(),
            mirror: &l.mirror,
            policy: &l.policy,
            sel: &l.sel,
        };
        let outcome = lib::install(&ctx, &planned, &self.actions(), now, &|s| printer.info(s))?;
        report(printer, &l.policy.product, &outcome)
    }

    /// What the pre-flight checks look at.
    fn inputs(&self, now: Timestamp) -> Result<Inputs> {
        let Some(target) = self.target.clone().or_else(|| self.version.clone()) else {
            return Err(UsageError("--target VERSION is required".into()).into());
        };
        Ok(Inputs {
            current: self.mirror.current.clone(),
            target,
            backup: self.backup.clone().map(|b| (b, self.backup_max_age)),
            license: match (&self.license, self.license_expires) {
                (Some(f), _) => Some(LicenseInput::File(f.clone())),
                (None, Some(t)) => Some(LicenseInput::Expires(t)),
                (None, None) => None,
            },
            license_min_days: self.license_min_days,
            data_dir: self.data_dir.clone(),
            now,
        })
    }

    /// What the hand-off does after the checks.
    fn actions(&self) -> Actions {
        Actions {
            to: self.to.clone(),
            exec: self.exec.clone(),
            health_urls: self.health_url.clone(),
            health_cmd: self.health_cmd.clone(),
            health_timeout: std::time::Duration::from_secs(self.health_timeout.seconds()),
            rollback: self.rollback.clone(),
        }
    }
}

/// Prints how the hand-off ended; a failed step after it is an error
/// (exit 1) saying what failed and how the rollback went.
fn report(printer: Printer, product: &Name, outcome: &Outcome) -> Result<u8> {
    let r = &outcome.record;
    printer.json(&serde_json::json!({
        "type": "install",
        "record": outcome.record_path,
        "handoff": r,
    }));
    printer.line(&format!(
        "{} {} ({}) handed over: {}; status {}; record {}",
        product,
        r.target,
        r.artifact.sha256,
        r.artifact.file,
        r.status,
        outcome.record_path.display()
    ));
    if let Some(step) = &r.failed_step {
        return Err(VerifyError(failure_message(product, outcome, step)).into());
    }
    Ok(0)
}

/// `install of PRODUCT VERSION: WHAT failed (…); the rollback …; see RECORD`.
fn failure_message(product: &Name, outcome: &Outcome, step: &str) -> String {
    let r = &outcome.record;
    let rollback = r.rollback.as_ref().map_or_else(
        || "no --rollback was given".to_string(),
        |rb| {
            format!(
                "the rollback {} ({})",
                if rb.exit_code == Some(0) {
                    "succeeded"
                } else {
                    "FAILED"
                },
                lib::describe(rb)
            )
        },
    );
    let what = match (step, &r.installer) {
        ("installer", Some(i)) => format!("the installer failed ({})", lib::describe(i)),
        _ => format!(
            "{step} failed ({})",
            r.health.last().map_or("", |h| h.detail.as_str())
        ),
    };
    format!(
        "install of {} {}: {what}; {rollback}; see {}",
        product,
        r.target,
        outcome.record_path.display()
    )
}

/// A check's line after its PASS or FAIL tag.
fn check_line(c: &preflight::CheckResult) -> String {
    format!("{}: {} (required: {})", c.name, c.measured, c.required)
}

fn print_plan(printer: Printer, p: &Planned, dry_run: bool) {
    printer.json(&serde_json::json!({
        "type": if dry_run { "dry-run" } else { "preflight" },
        "current": p.current,
        "target": p.target,
        "upgrade_path": p.upgrade_path,
        "artifact": p.artifact,
        "checks": p.checks,
        "passed": p.failure().is_none(),
    }));
    printer.line(&format!("plan: {} -> {}", p.current, p.target));
    if !p.upgrade_path.is_empty() {
        let path: Vec<String> = p.upgrade_path.iter().map(ToString::to_string).collect();
        printer.line(&format!("upgrade path to latest: {}", path.join(" -> ")));
    }
    if let Some(a) = &p.artifact {
        printer.line(&format!(
            "artifact: {} ({} bytes, sha256 {})",
            a.path, a.size, a.sha256
        ));
    }
    for c in &p.checks {
        printer.check(c.passed, &check_line(c));
    }
    if dry_run {
        printer.line("dry run: nothing was fetched, written or run");
    }
}
