//! `ferry-handoff check`.

use anyhow::Result;
use clap::Args;
use ferry_cli::Printer;
use ferry_handoff_core::{self as handoff, Status};
use ferry_manifests::time::Timestamp;

use crate::common::MirrorArgs;

/// Print the channel's latest release for this install, the upgrade path
/// (fewest hops, newest per hop, never skipping a required release) and the
/// advisories that affect the running version. The mirror's signed index
/// and feed are verified against the policy's [mirror].keys first.
///
/// Exit codes: 0 up to date, 10 update available, 11 the running version
/// is affected by an advisory; 1 verification or policy failure (or no
/// upgrade path), 2 usage, 3 environment.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-handoff check --mirror http://mirror.internal:8080/ \\
      --trust ferry-trust.toml --current 2.4.0 \\
      --channel stable --profile no-training
  ferry-handoff check --mirror /srv/mirror --trust ferry-trust.toml \\
      --current 1.4.0 --channel stable --profile no-training --json")]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    mirror: MirrorArgs,
}

impl CheckArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<u8> {
        let l = self.mirror.load(Timestamp::now())?;
        let report = handoff::check(&l.mirror, &l.policy, &l.sel, &self.mirror.current)?;
        printer.json(&report);
        let path: Vec<String> = report.path.iter().map(ToString::to_string).collect();
        printer.line(&format!(
            "running {}; latest {} for {} / {}",
            report.current, report.latest, l.sel.channel, l.sel.profile
        ));
        match report.status {
            Status::UpToDate => printer.line("up to date"),
            _ if path.is_empty() => printer.line("no newer release"),
            _ => printer.line(&format!(
                "upgrade path: {} -> {}{}",
                report.current,
                path.join(" -> "),
                if path.len() > 1 {
                    format!(" ({} hops; install {} next)", path.len(), path[0])
                } else {
                    String::new()
                }
            )),
        }
        for a in &report.advisories {
            printer.line(&format!(
                "advisory {} ({}) affects {}: {}{}",
                a.id,
                format!("{:?}", a.severity).to_lowercase(),
                report.current,
                a.summary,
                a.fixed_in
                    .as_ref()
                    .map(|v| format!(" (fixed in {v})"))
                    .unwrap_or_default()
            ));
        }
        Ok(report.status.exit_code())
    }
}
