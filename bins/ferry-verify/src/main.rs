//! `ferry-verify`: the air-gapped side's checks (SPEC §1, §4). Offline by
//! construction: this binary links no networking crate. Thin: parses
//! arguments, calls the libraries, maps the outcome to an exit code
//! (0 valid, 1 not valid, 2 usage, 3 missing file or other environment error).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_mirror_layout::cli::{Printer, report_error};

mod file;

/// Check what crossed the air gap, offline: vendor artifacts, their
/// minisign signatures and Sigstore bundles.
#[derive(Debug, Parser)]
#[command(name = "ferry-verify", version, propagate_version = true)]
#[command(after_help = "Examples:
  ferry-verify file app.deb --sha256 9f86d081884c7d659a2feaa0c55ad015…
  ferry-verify file app.deb --minisig app.deb.minisig --pubkey vendor.pub
  ferry-verify file app.deb --sigstore app.deb.sigstore.json \\
      --trusted-root trusted_root.json \\
      --identity https://github.com/acme/app/.github/workflows/rel.yml@refs/tags/v1 \\
      --issuer https://token.actions.githubusercontent.com")]
struct Cli {
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress or informational messages.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Spot-check one vendor artifact (or its digest): SHA-256, minisign
    /// signature, Sigstore bundle.
    File(file::FileArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer {
        json: cli.json,
        quiet: cli.quiet,
    };
    let result = match cli.command {
        Command::File(args) => args.run(printer),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(report_error(e.as_ref(), &|_| None)),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
