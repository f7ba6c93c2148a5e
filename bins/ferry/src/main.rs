//! `ferry`: the connected side (SPEC §1, §4): keys, vendor indexes, sync,
//! sign, pack, and the demo. Thin: parses arguments, calls the libraries,
//! maps the outcome to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_cli::report_error;

mod config;
mod counter;
mod demo;
mod index;
mod keygen;
mod license;
mod output;
mod pack;
mod password;
mod sign;
mod sync;
mod trust;

/// Carry a vendor's releases into an air-gapped network, proving at every
/// step that nothing changed on the way (connected side).
#[derive(Debug, Parser)]
#[command(name = "ferry", version = ferry_cli::build_info::VERSION, propagate_version = true)]
#[command(
    after_help = "Examples:\n  ferry demo --dir /tmp/ferry-demo\n  ferry keygen --out keys/org-1\n  ferry index build --from vendor-src --key vendor.key --out vendor-web\n  ferry sync --config ferry.toml\n  ferry sign --workspace ws --key keys/org-1.key"
)]
struct Cli {
    #[command(flatten)]
    output: ferry_cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a minisign key pair (KEY.key, KEY.pub).
    Keygen(keygen::KeygenArgs),
    /// Build vendor release indexes.
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Issue vendor-signed product licenses (for the hand-off's pre-flight).
    #[command(subcommand)]
    License(license::LicenseCommand),
    /// Fetch and verify a vendor's releases into a workspace.
    Sync(sync::SyncArgs),
    /// Write or co-sign the transfer manifest of a workspace.
    Sign(sign::SignArgs),
    /// Pack a signed workspace into a bundle (tar, tar.gz, zip, dir; volumes).
    Pack(pack::PackArgs),
    /// Write, co-sign and explain trust-chain versions (key rotation, revocation).
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Run the whole flow on a built-in sample vendor, on 127.0.0.1.
    Demo(demo::DemoArgs),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    #[command(after_help = ferry_cli::help::completions_examples("ferry"))]
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
        Command::Keygen(args) => args.run(printer),
        Command::Index(cmd) => cmd.run(printer),
        Command::License(cmd) => cmd.run(printer),
        Command::Sync(args) => args.run(printer),
        Command::Sign(args) => args.run(printer),
        Command::Pack(args) => args.run(printer),
        Command::Trust(cmd) => cmd.run(printer),
        Command::Demo(args) => args.run(printer),
        Command::Completions(args) => args.run::<Cli>().map_err(Into::into),
        Command::Man(args) => args.run::<Cli>().map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
