//! `ferry-mirror`: the offline mirror host (SPEC §3.7, §4). Thin: parses
//! arguments, calls `ferry-mirror-layout`, maps the outcome to an exit code.

#![forbid(unsafe_code)]

mod import;
mod prune;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};
use ferry_cli::{Printer, VerifyError, report_error};
use ferry_manifests::minisig::{KeySet, SecretKey};
use ferry_manifests::name::Name;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::Mirror;

/// The internal mirror: create it, import verified bundles, serve it,
/// check it.
#[derive(Debug, Parser)]
#[command(name = "ferry-mirror", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  ferry-mirror init /srv/mirror --product novantra --channel stable --profile no-training --key mirror.key\n  ferry-mirror fsck /srv/mirror --trust site.toml\n  ferry-mirror status /srv/mirror"
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
    /// Create a mirror in a new or empty folder.
    Init(InitArgs),
    /// Verify bundles and add them to the mirror, atomically.
    Import(import::ImportArgs),
    /// Serve the mirror read-only over HTTP, with a status page.
    Serve(serve::ServeArgs),
    /// Remove old versions (never the latest of a channel).
    Prune(prune::PruneArgs),
    /// Write what the mirror holds, for `ferry pack --since`.
    ExportState(prune::ExportStateArgs),
    /// Re-hash everything against the signed index.
    Fsck(FsckArgs),
    /// What the mirror holds: channels, latest versions, advisories.
    Status(StatusArgs),
}

/// Create a mirror. Its product, channels and profiles are fixed here.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ferry-mirror init /srv/mirror --product novantra --channel stable --profile no-training --key mirror.key"
)]
struct InitArgs {
    /// The mirror folder (new or empty).
    dir: PathBuf,
    /// The product.
    #[arg(long)]
    product: Name,
    /// A channel this site accepts (repeatable).
    #[arg(long = "channel", required = true)]
    channels: Vec<Name>,
    /// A profile this site accepts (repeatable).
    #[arg(long = "profile", required = true)]
    profiles: Vec<Name>,
    /// The mirror's minisign secret key (signs the index and the feed).
    #[arg(long)]
    key: PathBuf,
}

/// Re-hash every file against the signed index; check the feed and the
/// audit chain; report anything not listed. Exit 1 on any problem.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ferry-mirror fsck /srv/mirror --trust site.toml\n  ferry-mirror fsck /srv/mirror     # trusts the key recorded at init\n  ferry-mirror fsck /srv/mirror --trust site.toml --repair /media/usb/novantra.tar"
)]
struct FsckArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// Trust policy whose [mirror] keys check the index (default: the key
    /// recorded in ferry-mirror.toml at init, which only guards against
    /// damage, not against someone who can write the mirror).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Wait for another ferry process holding the mirror's lock instead of failing.
    #[arg(long)]
    wait: bool,
    /// Restore damaged or missing files from this bundle (verified in full
    /// with --trust; only bytes the mirror's signed index lists are taken).
    #[arg(long, value_name = "BUNDLE", requires = "trust")]
    repair: Option<PathBuf>,
}

/// Show what the mirror holds.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ferry-mirror status /srv/mirror --json")]
struct StatusArgs {
    /// The mirror folder.
    dir: PathBuf,
    /// Trust policy whose [mirror] keys check the index (default: the key recorded at init).
    #[arg(long)]
    trust: Option<PathBuf>,
}

fn main() -> ExitCode {
    ferry_cli::arm_failpoints();
    let cli = Cli::parse();
    let printer = Printer {
        json: cli.json,
        quiet: cli.quiet,
    };
    let result = match cli.command {
        Command::Init(a) => init(a, printer),
        Command::Import(a) => a.run(printer),
        Command::Serve(a) => a.run(printer),
        Command::Prune(a) => a.run(printer),
        Command::ExportState(a) => a.run(printer),
        Command::Fsck(a) => fsck(a, printer),
        Command::Status(a) => status(a, printer),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(report_error(e.as_ref(), &|_| None)),
    }
}

pub(crate) fn load_key(path: &Path) -> Result<SecretKey> {
    Ok(ferry_cli::keyload::load_secret_key(path)?)
}

pub(crate) fn mirror_keys(
    mirror: &Mirror,
    trust: Option<&Path>,
    printer: Printer,
) -> Result<KeySet> {
    match trust {
        Some(p) => {
            let policy = TrustPolicy::load(p)?;
            Ok(policy.mirror()?.keys.clone())
        }
        None => {
            printer.info("note: checking with the mirror key recorded at init (pass --trust POLICY to check against your policy)");
            Ok(mirror.recorded_keys()?)
        }
    }
}

fn init(a: InitArgs, printer: Printer) -> Result<()> {
    let key = load_key(&a.key)?;
    let m = Mirror::init(
        &a.dir,
        a.product,
        a.channels,
        a.profiles,
        &key,
        Timestamp::now(),
    )?;
    printer.json(&serde_json::json!({"type": "init", "mirror": a.dir, "config": m.config()}));
    printer.line(&format!(
        "mirror {} created for {} ({} / {}), signed by key {}",
        a.dir.display(),
        m.config().product,
        join(&m.config().channels),
        join(&m.config().profiles),
        key.id()
    ));
    Ok(())
}

fn fsck(a: FsckArgs, printer: Printer) -> Result<()> {
    let m = Mirror::open(&a.dir)?;
    let keys = mirror_keys(&m, a.trust.as_deref(), printer)?;
    // Finish (or discard) an interrupted change first, under the lock.
    let lock = if a.wait { m.lock_wait()? } else { m.lock()? };
    if let Some(t) = m.recover(&lock)? {
        printer.info(&format!("finished the interrupted transaction {t}"));
    }
    let mut r = m.fsck(&keys)?;
    let mut repaired = None;
    if let (Some(bundle), Some(trust)) = (&a.repair, &a.trust)
        && !r.damaged.is_empty()
    {
        let policy = TrustPolicy::load(trust)?;
        let input = ferry_bundle::verify::Input::from_arg(bundle);
        let o = m.repair(&lock, &input, &policy, &r.damaged, Timestamp::now())?;
        for f in &o.restored {
            printer.line(&format!("restored {f} from {}", bundle.display()));
        }
        r = m.fsck(&keys)?;
        repaired = Some(o);
    }
    drop(lock);
    printer.json(&serde_json::json!({"type": "fsck", "ok": r.problems.is_empty(), "report": r, "repair": repaired}));
    for p in &r.problems {
        printer.line(&format!("problem: {p}"));
    }
    printer.line(&format!(
        "{}: {} file(s), {} bytes re-hashed against index sequence {}; {} problem(s)",
        a.dir.display(),
        r.files,
        r.bytes,
        r.index_sequence,
        r.problems.len()
    ));
    if let Some(o) = &repaired
        && !o.not_in_bundle.is_empty()
    {
        printer.warn(&format!(
            "{} does not carry {} with the bytes the index signed: repair with a bundle that does",
            a.repair.as_deref().unwrap_or(Path::new("-")).display(),
            o.not_in_bundle.join(", ")
        ));
    } else if repaired.is_none() && !r.damaged.is_empty() {
        printer.warn(&format!(
            "hint: restore damaged files from a bundle that carries them: ferry-mirror fsck {} --trust POLICY --repair BUNDLE",
            a.dir.display()
        ));
    }
    if !r.problems.is_empty() {
        bail!(VerifyError(format!(
            "{}: fsck found {} problem(s)",
            a.dir.display(),
            r.problems.len()
        )));
    }
    Ok(())
}

fn status(a: StatusArgs, printer: Printer) -> Result<()> {
    let m = Mirror::open(&a.dir)?;
    let keys = mirror_keys(&m, a.trust.as_deref(), printer)?;
    let (index, _) = m.read_index(&keys)?;
    let hints = index.hints();
    printer.json(&serde_json::json!({"type": "status", "product": index.product, "sequence": index.sequence, "manifest_sequence": index.manifest_sequence, "generated": index.generated, "channels": hints.channels, "advisories": hints.advisories, "releases": index.releases.len(), "last_import": index.manifests.iter().max_by_key(|m| m.imported)}));
    printer.line(&format!(
        "{} mirror at {}: index sequence {}, {} release(s)",
        index.product,
        a.dir.display(),
        index.sequence,
        index.releases.len()
    ));
    if let Some(last) = index.manifests.iter().max_by_key(|m| m.imported) {
        printer.line(&format!(
            "  last import {}: manifest sequence {} ({}), signed by {}",
            last.imported,
            last.sequence,
            last.sha256.short(),
            last.signers.join(", ")
        ));
    }
    for (channel, profiles) in &hints.channels {
        for (profile, cp) in profiles {
            let versions: Vec<String> = cp.versions.iter().map(ToString::to_string).collect();
            printer.line(&format!(
                "  {channel}/{profile}: latest {} (versions {})",
                cp.latest,
                versions.join(", ")
            ));
        }
    }
    for adv in &hints.advisories {
        printer.line(&format!(
            "  advisory {} ({:?}): affects {}; fixed in {}",
            adv.id,
            adv.severity,
            adv.affected,
            adv.fixed_in
                .as_ref()
                .map_or("-".into(), ToString::to_string)
        ));
    }
    Ok(())
}

fn join(names: &[Name]) -> String {
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
}
