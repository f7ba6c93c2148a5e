//! `ferry-mirror`: the offline mirror host (SPEC §3.7, §4). Thin: parses
//! arguments, calls `ferry-mirror-layout`, maps the outcome to an exit code.

#![forbid(unsafe_code)]

mod export_state;
mod fsck;
mod fsck_remote;
mod import;
mod init;
mod output;
mod prune;
mod publish;
mod serve;
mod status;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use ferry_cli::{Printer, report_error};
use ferry_manifests::minisig::{KeySet, SecretKey};
use ferry_manifests::name::Name;
use ferry_manifests::policy::TrustPolicy;
use ferry_mirror_layout::mirror::Mirror;

/// The internal mirror: create it, import verified bundles, serve it,
/// check it.
#[derive(Debug, Parser)]
#[command(name = "ferry-mirror", version = ferry_cli::build_info::VERSION, propagate_version = true)]
#[command(after_help = "Examples:
  ferry-mirror init /srv/mirror --product novantra --channel stable \\
      --profile no-training --key mirror.key
  ferry-mirror fsck /srv/mirror --trust site.toml
  ferry-mirror status /srv/mirror")]
struct Cli {
    #[command(flatten)]
    output: ferry_cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a mirror in a new or empty folder.
    Init(init::InitArgs),
    /// Verify bundles and add them to the mirror, atomically.
    Import(import::ImportArgs),
    /// Serve the mirror read-only over HTTP, with a status page.
    Serve(serve::ServeArgs),
    /// Remove old versions (never the latest of a channel).
    Prune(prune::PruneArgs),
    /// Write what the mirror holds, for `ferry pack --since`.
    ExportState(export_state::ExportStateArgs),
    /// Re-hash everything against the signed index.
    Fsck(fsck::FsckArgs),
    /// Put the mirror on S3-compatible object storage.
    Publish(publish::PublishArgs),
    /// What the mirror holds: channels, latest versions, advisories.
    Status(status::StatusArgs),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    #[command(after_help = ferry_cli::help::completions_examples("ferry-mirror"))]
    Completions(ferry_cli::help::CompletionsArgs),
    /// Write the man pages, one per command, into a folder (for packagers).
    #[command(hide = true)]
    Man(ferry_cli::help::ManArgs),
}

fn main() -> ExitCode {
    ferry_cli::arm_failpoints();
    let cli = Cli::parse();
    let printer = cli.output.printer();
    let result = match cli.command {
        Command::Init(a) => a.run(printer),
        Command::Import(a) => a.run(printer),
        Command::Serve(a) => a.run(printer),
        Command::Prune(a) => a.run(printer),
        Command::ExportState(a) => a.run(printer),
        Command::Fsck(a) => a.run(printer),
        Command::Publish(a) => a.run(printer),
        Command::Status(a) => a.run(printer),
        Command::Completions(a) => a.run::<Cli>().map_err(Into::into),
        Command::Man(a) => a.run::<Cli>().map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(report_error(e.as_ref(), &|e| {
            if let Some(e) = e.downcast_ref::<ferry_publish::Error>() {
                return Some(e.class());
            }
            e.downcast_ref::<ferry_net::Error>()
                .map(ferry_net::Error::class)
        })),
    }
}

pub(crate) fn load_key(path: &Path) -> Result<SecretKey> {
    Ok(ferry_cli::keyload::load_secret_key(path)?)
}

/// The site's policy as this mirror applies it: the policy file, the
/// trust chain its state records, then the chain the mirror keeps under
/// `trust/` (SPEC §3.11).
pub(crate) fn site_policy(path: &Path, mirror: &Mirror) -> Result<TrustPolicy> {
    let now = ferry_manifests::time::Timestamp::now();
    let loaded = ferry_cli::trust::load_policy(path, None, now)?;
    Ok(mirror.with_own_chain(&loaded.policy, now)?)
}

pub(crate) fn mirror_keys(
    mirror: &Mirror,
    trust: Option<&Path>,
    printer: Printer,
) -> Result<KeySet> {
    match trust {
        Some(p) => {
            let policy = site_policy(p, mirror)?;
            Ok(policy.mirror()?.keys.clone())
        }
        None => {
            printer.info("note: checking with the mirror key recorded at init (pass --trust POLICY to check against your policy)");
            Ok(mirror.recorded_keys()?)
        }
    }
}

pub(crate) fn join(names: &[Name]) -> String {
    names
        .iter()
        .map(Name::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn help_examples_paste_as_one_command() {
        if let Err(problems) = ferry_cli::help::check_examples(super::Cli::command()) {
            panic!("{}", problems.join("\n"));
        }
    }
}
