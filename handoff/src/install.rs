//! `ferry-handoff install` (SPEC §4): plan, pre-flight, fetch the artifact
//! into a private staging folder inside `--to` while checking size, SHA-256
//! and the vendor signatures from the stream, rename it into `--to`, write
//! `handoff.json`, run the installer with `FERRY_ARTIFACT`, `FERRY_VERSION`
//! and `FERRY_HANDOFF`, then the health checks, and the rollback when the
//! installer or a check fails.
//!
//! The installer gets exactly the bytes that verified: they are written
//! only inside the staging folder as they are checked, and renamed (same
//! filesystem) once every check passed; nothing is fetched twice. Nothing
//! runs when anything before it failed.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use semver::Version;

use ferry_manifests::artifact::{MinisignCheck, StreamCheck};
use ferry_manifests::decide::{self, VendorChecks};
use ferry_manifests::digest::{BUF_SIZE, Sha256Digest};
use ferry_manifests::manifest::Upstream;
use ferry_manifests::minisig::{KeyId, MAX_SIGNATURE_BYTES, SignatureFile};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;

use super::preflight::{self, CheckResult};
use super::record::{
    ArtifactRecord, CommandRecord, FILE_NAME, HandoffRecord, HealthRecord, SCHEMA,
};
use super::{MirrorSource, Selector, VerifiedMirror, check_pins, fetch_small};
use crate::upgrade;
use ferry_durable::fsutil::sync_dir;
use ferry_mirror_layout::error::{Error, Result};
use ferry_mirror_layout::mirror::index::{MirrorArtifact, MirrorRelease};

/// Post-upgrade URL checks (HTTP lives in `ferry-net`).
pub trait HealthProbe {
    /// Waits until `url` answers 2xx, retrying with backoff, for at most
    /// `timeout`. `Ok` and `Err` both carry what was seen
    /// (`HTTP 200 after 3 tries`, `HTTP 500 (5 tries in 2s)`).
    ///
    /// # Errors
    /// The last answer or failure, once the deadline passed.
    fn wait_healthy(&self, url: &str, timeout: Duration) -> std::result::Result<String, String>;
}

/// The plan and the pre-flight checks of one hand-off (what `--dry-run`
/// prints).
#[derive(Debug, Clone)]
pub struct Planned {
    /// The running version.
    pub current: Version,
    /// The target.
    pub target: Version,
    /// The upgrade path from `current` to the channel's latest (empty if
    /// none could be planned).
    pub upgrade_path: Vec<Version>,
    /// The target release.
    pub release: MirrorRelease,
    /// The artifact for the installed profile, if the release has one.
    pub artifact: Option<MirrorArtifact>,
    /// Every check with its measured value.
    pub checks: Vec<CheckResult>,
}

impl Planned {
    /// The failed checks as one refusal, or `None`.
    #[must_use]
    pub fn failure(&self) -> Option<Error> {
        preflight::failure(&self.checks)
    }
}

/// Plans a hand-off and runs the pre-flight checks (changes nothing).
///
/// # Errors
/// [`Error::Refused`] for pins, a target not on the mirror or not newer.
pub fn prepare(
    mirror: &VerifiedMirror,
    policy: &TrustPolicy,
    sel: &Selector,
    inputs: &preflight::Inputs,
) -> Result<Planned> {
    check_pins(mirror, policy, sel)?;
    let checks = preflight::run(mirror, policy, sel, inputs)?;
    let release = super::release(&mirror.index, sel, &inputs.target)
        .ok_or_else(|| {
            Error::refused(
                format!("upgrade to {}", inputs.target),
                "is not on the mirror for this channel",
            )
        })?
        .clone();
    let cands = super::candidates(&mirror.index, sel);
    let upgrade_path = upgrade::latest(&cands)
        .filter(|l| *l > &inputs.current)
        .and_then(|l| upgrade::plan(&inputs.current, l, &cands).ok())
        .unwrap_or_default();
    let artifact = super::artifact(&release, sel).ok().cloned();
    Ok(Planned {
        current: inputs.current.clone(),
        target: inputs.target.clone(),
        upgrade_path,
        release,
        artifact,
        checks,
    })
}

/// A verified artifact in `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The file.
    pub file: PathBuf,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// The vendor signatures that verified.
    pub signatures: Vec<String>,
}

/// Fetches `artifact` from the mirror into a private (0700) staging folder
/// inside `to`, checking size, SHA-256 and the vendor signatures the policy
/// requires while the bytes stream by, then renames it into `to`.
///
/// # Errors
/// [`Error::Manifest`] for a mismatch or bad signature, naming the file
/// (exit 1; nothing is left in `to`); [`Error::Refused`] when a required
/// signature kind is missing; [`Error::Io`] for I/O (exit 3).
pub fn deliver(
    source: &dyn MirrorSource,
    policy: &TrustPolicy,
    artifact: &MirrorArtifact,
    to: &Path,
) -> Result<Delivered> {
    let vendor = policy.vendor()?;
    let loc = source.location(artifact.path.as_str());
    let mut sigs: Vec<(SignatureFile, String)> = Vec::new();
    let mut sigstore: Vec<String> = Vec::new();
    for up in &artifact.upstream {
        match up {
            Upstream::Minisign { path, key_id } => {
                let trusted = KeyId::parse(key_id)
                    .ok()
                    .is_some_and(|id| vendor.minisign_keys.get(id).is_some());
                if !trusted {
                    continue; // Signatures by keys the policy does not know are ignored (SPEC §3.4).
                }
                let bytes = fetch_small(source, path.as_str(), MAX_SIGNATURE_BYTES as u64)?;
                let sig = SignatureFile::parse(&bytes, &source.location(path.as_str()))?;
                sigs.push((sig, source.location(path.as_str())));
            }
            Upstream::Sigstore { path, .. } => sigstore.push(path.to_string()),
        }
    }
    let mut checks = Vec::new();
    let mut signatures = Vec::new();
    for (sig, what) in &sigs {
        if let Some(key) = vendor.minisign_keys.get(sig.key_id()) {
            checks.push(MinisignCheck {
                key,
                sig,
                legacy: vendor.legacy,
                what: what.clone(),
            });
            signatures.push(format!("minisign {}", sig.key_id()));
        }
    }
    let present = VendorChecks {
        minisign: !checks.is_empty(),
        sigstore: !sigstore.is_empty(),
    };
    decide::vendor_checks(&loc, vendor, present)
        .map_err(|r| r.advise("refusing to hand it over"))
        .map_err(ferry_manifests::Error::from)?;
    let mut check = StreamCheck::new(
        &loc,
        Some((artifact.sha256, artifact.size)),
        artifact.size,
        checks,
    )?;

    let name = artifact.path.file_name();
    let archived = name
        .strip_prefix("handoff.")
        .and_then(|r| r.strip_suffix(".json"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if name == FILE_NAME || archived {
        return Err(Error::refused(
            loc,
            format!(
                "is named like a hand-off record ({FILE_NAME}, handoff.N.json), which it would replace; refusing to hand it over"
            ),
        ));
    }
    let staging = tempfile::Builder::new()
        .prefix(".ferry-staging-")
        .tempdir_in(to)
        .map_err(|e| Error::io(to, "create the staging folder", e))?;
    std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(staging.path(), "set permissions", e))?;
    let me = std::fs::metadata(staging.path())
        .map_err(|e| Error::io(staging.path(), "stat", e))?
        .uid();
    refuse_shared_dirs(to, me)?;
    let name = artifact.path.file_name();
    let staged = staging.path().join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&staged)
        .map_err(|e| Error::io(&staged, "create", e))?;
    let mut reader = source
        .open(artifact.path.as_str())
        .map_err(|e| Error::io(&loc, "fetch", e))?;
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&loc, "fetch", e)),
        };
        check.update(&buf[..n])?;
        file.write_all(&buf[..n])
            .map_err(|e| Error::io(&staged, "write", e))?;
    }
    drop(reader);
    file.sync_all().map_err(|e| Error::io(&staged, "sync", e))?;
    drop(file);
    let (sha256, size) = check.finish()?;
    for path in &sigstore {
        let bytes = fetch_small(source, path, ferry_manifests::json::MAX_DOCUMENT_BYTES)?;
        let out = ferry_manifests::sigstore::check_vendor_sigstore(
            vendor,
            &bytes,
            &source.location(path),
            &sha256,
        )?;
        signatures.push(format!(
            "sigstore {}",
            out.identity.unwrap_or_else(|| "managed key".into())
        ));
    }
    let dest = to.join(name);
    std::fs::rename(&staged, &dest).map_err(|e| Error::io(&dest, "rename into place", e))?;
    sync_dir(to)?;
    Ok(Delivered {
        file: dest,
        sha256,
        size,
        signatures,
    })
}

/// ATTACKS C11: the installer reads the artifact by path from `to`, so
/// `to` and every folder above it must be changeable only by this user
/// (`me`) or root: writable by others (or by a group other than this
/// process's own) without the sticky bit, or owned by another user, would
/// let someone swap the verified bytes.
fn refuse_shared_dirs(to: &Path, me: u32) -> Result<()> {
    let real = std::fs::canonicalize(to).map_err(|e| Error::io(to, "resolve", e))?;
    // The folders as named too: a symlinked --to is only as safe as the
    // folder holding the link.
    let named = std::path::absolute(to).map_err(|e| Error::io(to, "resolve", e))?;
    // Group-writable is fine for this process's own (user-private) group,
    // as a umask of 002 creates it; any other group counts as other users.
    let my_gid = effective_gid();
    for d in real.ancestors().chain(named.ancestors()) {
        let m = std::fs::metadata(d).map_err(|e| Error::io(d, "stat", e))?;
        let group_shared = m.mode() & 0o020 != 0 && Some(m.gid()) != my_gid;
        let shared = (m.mode() & 0o002 != 0 || group_shared) && m.mode() & 0o1000 == 0;
        if shared || (m.uid() != me && m.uid() != 0) {
            return Err(Error::refused(
                format!("--to {}", to.display()),
                format!(
                    "{} is {}: another user could swap the verified artifact before the installer runs; use a folder only you (or root) can change",
                    d.display(),
                    if shared {
                        "writable by other users"
                    } else {
                        "owned by another user"
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// This process's effective group id (Linux `/proc/self/status`), if known.
fn effective_gid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Gid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// What `install` does after the checks.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    /// `--to`: where the verified artifact and `handoff.json` go.
    pub to: PathBuf,
    /// `--exec`: the installer (run with `sh -c`).
    pub exec: Option<String>,
    /// `--health-url`, each must answer 2xx within `health_timeout`.
    pub health_urls: Vec<String>,
    /// `--health-cmd`, must exit 0 within `health_timeout`.
    pub health_cmd: Option<String>,
    /// `--health-timeout`.
    pub health_timeout: Duration,
    /// `--rollback`: run when the installer or a health check fails.
    pub rollback: Option<String>,
}

/// How a hand-off ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The record as written.
    pub record: HandoffRecord,
    /// Where it was written.
    pub record_path: PathBuf,
    /// The verified artifact.
    pub delivered: Delivered,
}

impl Outcome {
    /// Whether a step after the hand-off failed (exit 1).
    #[must_use]
    pub fn failed(&self) -> bool {
        self.record.failed_step.is_some()
    }
}

/// The whole hand-off, after [`prepare`]: refuses if a check failed, then
/// [`deliver`], `handoff.json`, installer, health checks, rollback.
/// `note` receives progress lines (the binary prints them on stderr);
/// commands' output goes to this process's stderr, as it comes.
///
/// # Errors
/// The pre-flight refusal, or a delivery error; in both cases nothing ran.
/// A failing installer or health check is not an error: see
/// [`Outcome::failed`] and the record.
#[allow(clippy::too_many_arguments)]
pub fn install(
    source: &dyn MirrorSource,
    probe: &dyn HealthProbe,
    mirror: &VerifiedMirror,
    policy: &TrustPolicy,
    sel: &Selector,
    planned: &Planned,
    actions: &Actions,
    now: Timestamp,
    note: &dyn Fn(&str),
) -> Result<Outcome> {
    if let Some(e) = planned.failure() {
        return Err(e);
    }
    let artifact = planned.artifact.as_ref().ok_or_else(|| {
        Error::refused(
            format!("upgrade to {}", planned.target),
            format!("the release has no artifact for profile {}", sel.profile),
        )
    })?;
    note(&format!("fetching and verifying {}", artifact.path));
    let delivered = deliver(source, policy, artifact, &actions.to)?;
    let record_path = actions.to.join(FILE_NAME);
    if let Some(kept) = super::record::archive_previous(&actions.to)? {
        note(&format!(
            "kept the earlier hand-off record as {}",
            kept.display()
        ));
    }
    let mut record = HandoffRecord {
        schema: SCHEMA.to_string(),
        product: policy.product.clone(),
        created: now,
        mirror: mirror.location.clone(),
        index_sequence: mirror.index.sequence,
        index_sha256: mirror.index_sha256,
        channel: sel.channel.clone(),
        profile: sel.profile.clone(),
        current: planned.current.clone(),
        target: planned.target.clone(),
        upgrade_path: planned.upgrade_path.clone(),
        artifact: ArtifactRecord {
            mirror_path: artifact.path.to_string(),
            file: delivered.file.display().to_string(),
            platform: artifact.platform.clone(),
            format: artifact.format.clone(),
            size: delivered.size,
            sha256: delivered.sha256,
            signatures: delivered.signatures.clone(),
        },
        checks: planned.checks.clone(),
        installer: None,
        health: Vec::new(),
        rollback: None,
        failed_step: None,
        status: "handed-over".into(),
    };
    record.write(&record_path)?;
    note(&format!(
        "verified {} ({} bytes, sha256 {}); record {}",
        delivered.file.display(),
        delivered.size,
        delivered.sha256,
        record_path.display()
    ));
    let env: Vec<(&str, OsString)> = vec![
        ("FERRY_ARTIFACT", delivered.file.clone().into_os_string()),
        ("FERRY_VERSION", planned.target.to_string().into()),
        ("FERRY_HANDOFF", record_path.clone().into_os_string()),
    ];

    if let Some(cmd) = &actions.exec {
        note(&format!("running the installer: {cmd}"));
        let r = run_sh(cmd, &env, None);
        if r.exit_code != Some(0) {
            record.failed_step = Some("installer".into());
        }
        record.installer = Some(r);
        record.write(&record_path)?;
    }
    if record.failed_step.is_none() {
        for url in &actions.health_urls {
            note(&format!("health check: {}", redact_url(url)));
            let (passed, detail) = match probe.wait_healthy(url, actions.health_timeout) {
                Ok(d) => (true, d),
                Err(d) => (false, d),
            };
            let shown = redact_url(url);
            record.health.push(HealthRecord {
                kind: "url".into(),
                target: shown.clone(),
                passed,
                detail,
            });
            if !passed {
                record.failed_step = Some(format!("health-url {shown}"));
                break;
            }
        }
    }
    if record.failed_step.is_none()
        && let Some(cmd) = &actions.health_cmd
    {
        note(&format!("health check: {cmd}"));
        let r = run_sh(cmd, &env, Some(actions.health_timeout));
        let passed = r.exit_code == Some(0);
        record.health.push(HealthRecord {
            kind: "cmd".into(),
            target: cmd.clone(),
            passed,
            detail: describe(&r),
        });
        if !passed {
            record.failed_step = Some("health-cmd".into());
        }
    }
    record.status = match (&record.failed_step, &actions.rollback) {
        (None, _) if actions.exec.is_some() => "installed".into(),
        (None, _) => "handed-over".into(),
        (Some(_), None) => "failed".into(),
        (Some(step), Some(cmd)) => {
            note(&format!("{step} failed; running the rollback: {cmd}"));
            let mut env = env.clone();
            env.push(("FERRY_FAILED_STEP", step.clone().into()));
            let r = run_sh(cmd, &env, None);
            let ok = r.exit_code == Some(0);
            record.rollback = Some(r);
            if ok {
                "rolled-back".into()
            } else {
                "rollback-failed".into()
            }
        }
    };
    record.write(&record_path)?;
    Ok(Outcome {
        record,
        record_path,
        delivered,
    })
}

pub use ferry_manifests::redact::redact_url;

/// `exit 3`, `killed by a signal`, plus any note.
#[must_use]
pub fn describe(r: &CommandRecord) -> String {
    let mut s = r
        .exit_code
        .map_or_else(|| "no exit code".to_string(), |c| format!("exit {c}"));
    if let Some(n) = &r.note {
        s.push_str(&format!(" ({n})"));
    }
    s
}

/// Runs `sh -c CMD` with `env`, its stdout and stderr going to this
/// process's stderr (stdout carries data only), killed after `timeout`.
fn run_sh(cmd: &str, env: &[(&str, OsString)], timeout: Option<Duration>) -> CommandRecord {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd).stdin(Stdio::null());
    c.stdout(Stdio::from(std::io::stderr()));
    c.stderr(Stdio::from(std::io::stderr()));
    for (k, v) in env {
        c.env(k, v);
    }
    let mut record = CommandRecord {
        command: cmd.to_string(),
        exit_code: None,
        note: None,
    };
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            record.note = Some(format!("could not start: {e}"));
            return record;
        }
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                record.exit_code = status.code();
                if status.code().is_none() {
                    record.note = Some("killed by a signal".into());
                }
                return record;
            }
            Ok(None) => {}
            Err(e) => {
                record.note = Some(format!("could not wait: {e}"));
                return record;
            }
        }
        if let Some(t) = timeout
            && start.elapsed() > t
        {
            let _ = child.kill();
            let _ = child.wait();
            record.note = Some(format!("timed out after {}s", t.as_secs()));
            return record;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
