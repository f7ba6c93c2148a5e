//! `ferry-verify`: offline verification (SPEC §1, §4). No networking code:
//! it reads files and standard input, and writes only what it is asked to
//! (`--receipt`, `--repair`). Thin: parses arguments, calls the libraries,
//! maps the outcome to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_mirror_layout::cli::{Printer, report_error};

mod bundle;
mod manifest;
mod report;

/// Verify ferry bundles, manifests and artifacts offline.
#[derive(Debug, Parser)]
#[command(name = "ferry-verify", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 verified, 1 verification or policy failure, 2 usage or configuration error, 3 environment error (missing file...).\n\nExamples:\n  ferry-verify bundle /media/usb/novantra.tar --trust ferry-trust.toml\n  ferry-verify manifest /media/usb/novantra.tar --trust ferry-trust.toml\n  ferry-verify report /media/usb/novantra.tar --trust ferry-trust.toml --format json"
)]
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
    /// Verify a bundle: tar, tar.gz, zip, directory, volumes or stdin.
    Bundle(bundle::BundleArgs),
    /// Verify a manifest alone: signatures, threshold, expiry, validity.
    Manifest(manifest::ManifestArgs),
    /// Provenance of every artifact of a verified bundle.
    Report(report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer {
        json: cli.json,
        quiet: cli.quiet,
    };
    let result = match cli.command {
        Command::Bundle(args) => args.run(printer),
        Command::Manifest(args) => args.run(printer),
        Command::Report(args) => args.run(printer),
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
