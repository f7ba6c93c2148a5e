//! `ferry-handoff`: the product host (SPEC §1, §4): asks the internal
//! mirror what to upgrade to, runs the pre-flight checks, hands the
//! verified package to the product's installer. Thin: parses arguments,
//! calls `ferry_handoff_core`, maps the outcome to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_cli::report_error;

mod check;
mod common;
mod download;
mod install;

/// Ask the internal mirror what to upgrade to, check that the upgrade is
/// safe to start, and hand the verified package to the product's installer.
#[derive(Debug, Parser)]
#[command(name = "ferry-handoff", version = ferry_cli::build_info::VERSION)]
#[command(after_help = "Examples:
  ferry-handoff check --mirror http://mirror.internal:8080/ \\
      --trust ferry-trust.toml --current 2.4.0 \\
      --channel stable --profile no-training
  ferry-handoff preflight --mirror /srv/mirror --trust ferry-trust.toml \\
      --current 2.4.0 --channel stable --profile no-training \\
      --version 3.2.1 --to /var/lib/novantra/incoming \\
      --backup /backups --license novantra.license
  ferry-handoff install --mirror http://mirror.internal:8080/ \\
      --trust ferry-trust.toml --current 2.4.0 \\
      --channel stable --profile no-training \\
      --version 3.2.1 --to /var/lib/novantra/incoming --exec ./install.sh \\
      --health-url http://localhost:9000/healthz --rollback ./restore.sh")]
struct Cli {
    #[command(flatten)]
    output: ferry_cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// What to upgrade to: latest, the upgrade path, the advisories that
    /// affect the running version (exit 0 up to date, 10 update available,
    /// 11 the running version is affected by an advisory).
    Check(check::CheckArgs),
    /// The pre-flight checks of an install, alone (changes nothing).
    Preflight(install::InstallArgs),
    /// Verify, check, hand over to the installer, check health, roll back.
    Install(install::InstallArgs),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    #[command(after_help = ferry_cli::help::completions_examples("ferry-handoff"))]
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
        Command::Check(args) => args.run(printer),
        Command::Preflight(args) => args.run(printer, install::Mode::Preflight),
        Command::Install(args) => args.run(printer, install::Mode::Install),
        Command::Completions(args) => args
            .run::<Cli>()
            .map(|()| ferry_cli::EXIT_OK)
            .map_err(Into::into),
        Command::Man(args) => args
            .run::<Cli>()
            .map(|()| ferry_cli::EXIT_OK)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(report_error(e.as_ref(), &|e| {
            e.downcast_ref::<ferry_net::Error>()
                .map(ferry_net::Error::class)
        })),
    }
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
