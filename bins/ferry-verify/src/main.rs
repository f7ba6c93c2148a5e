//! `ferry-verify`: the air-gapped side's checks (SPEC §1, §4). Offline by
//! construction: this binary links no networking crate. Thin: parses
//! arguments, calls the libraries, maps the outcome to an exit code
//! (0 valid, 1 not valid, 2 usage, 3 missing file or other environment error).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_cli::report_error;

mod audit_log;
mod bundle;
mod file;
mod html;
mod inspect;
mod manifest;
mod mirror_report;
mod output;
mod report;

/// Check what crossed the air gap, offline: bundles, manifests, and single
/// vendor artifacts with their minisign signatures and Sigstore bundles.
#[derive(Debug, Parser)]
#[command(name = "ferry-verify", version = ferry_cli::build_info::VERSION, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 verified, 1 verification or policy failure, 2 usage or
configuration error, 3 environment error (missing file...).

Examples:
  ferry-verify bundle /media/usb/novantra.tar --trust ferry-trust.toml
  ferry-verify manifest /media/usb/novantra.tar --trust ferry-trust.toml
  ferry-verify report /media/usb/novantra.tar --trust ferry-trust.toml \\
      --format json
  ferry-verify file app.deb --minisig app.deb.minisig --pubkey vendor.pub
  ferry-verify file app.deb --sigstore app.deb.sigstore.json \\
      --trusted-root trusted_root.json \\
      --identity \\
      https://github.com/acme/app/.github/workflows/rel.yml@refs/tags/v1 \\
      --issuer https://token.actions.githubusercontent.com"
)]
struct Cli {
    #[command(flatten)]
    output: ferry_cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a bundle: tar, tar.gz, zip, directory, volumes or stdin.
    Bundle(bundle::BundleArgs),
    /// Verify a manifest alone: signatures, threshold, expiry, validity.
    Manifest(manifest::ManifestArgs),
    /// Provenance of every artifact of a verified bundle, or a mirror's
    /// chain of custody (text, JSON or HTML).
    Report(report::ReportArgs),
    /// What a bundle or stick holds, without a policy (NOT verified).
    Inspect(inspect::InspectArgs),
    /// Spot-check one vendor artifact (or its digest): SHA-256, minisign
    /// signature, Sigstore bundle.
    File(file::FileArgs),
    /// Check a mirror's hash-chained audit log (and that the signed index anchors it).
    AuditLog(audit_log::AuditLogArgs),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    #[command(after_help = ferry_cli::help::completions_examples("ferry-verify"))]
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
        Command::Bundle(args) => args.run(printer),
        Command::Manifest(args) => args.run(printer),
        Command::Report(args) => args.run(printer),
        Command::Inspect(args) => args.run(printer),
        Command::File(args) => args.run(printer),
        Command::AuditLog(args) => args.run(printer),
        Command::Completions(args) => args.run::<Cli>().map_err(Into::into),
        Command::Man(args) => args.run::<Cli>().map_err(Into::into),
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

    #[test]
    fn help_examples_paste_as_one_command() {
        if let Err(problems) = ferry_cli::help::check_examples(super::Cli::command()) {
            panic!("{}", problems.join("\n"));
        }
    }
}
