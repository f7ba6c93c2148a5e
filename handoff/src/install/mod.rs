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

use std::path::{Path, PathBuf};
use std::time::Duration;

use semver::Version;

use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;

use crate::preflight::{self, CheckResult};
use crate::record::{ArtifactRecord, FILE_NAME, HandoffRecord, SCHEMA};
use crate::upgrade;
use crate::{MirrorSource, Selector, VerifiedMirror, check_pins};
use ferry_mirror_layout::error::{Error, Result};
use ferry_mirror_layout::mirror::index::{MirrorArtifact, MirrorRelease};

mod deliver;
mod image;
mod steps;

pub use deliver::{Delivered, deliver};
pub use image::image_reference;
pub use steps::{describe, redact_url};

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

/// What a hand-off works with: where the mirror's bytes come from, how
/// health is probed, the verified mirror, the policy and the selection
/// (what [`install`] needs besides the plan and the actions).
#[derive(Clone, Copy)]
pub struct InstallContext<'a> {
    /// Where the artifact and its signatures are fetched from.
    pub source: &'a dyn MirrorSource,
    /// The `--health-url` checks.
    pub probe: &'a dyn HealthProbe,
    /// The verified mirror (its location and index go into the record).
    pub mirror: &'a VerifiedMirror,
    /// The trust policy (vendor keys, product).
    pub policy: &'a TrustPolicy,
    /// The channel, profile and platform followed.
    pub sel: &'a Selector,
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
pub fn install(
    ctx: &InstallContext<'_>,
    planned: &Planned,
    actions: &Actions,
    now: Timestamp,
    note: &dyn Fn(&str),
) -> Result<Outcome> {
    if let Some(e) = planned.failure() {
        return Err(e);
    }
    let artifact = planned_artifact(planned, ctx.sel)?;
    note(&format!("fetching and verifying {}", artifact.path));
    let delivered = match &artifact.image {
        Some(image) => {
            let version = planned.target.to_string();
            image::deliver_image(
                ctx.source,
                ctx.policy,
                artifact,
                image,
                &version,
                &actions.to,
            )?
        }
        None => deliver(ctx.source, ctx.policy, artifact, &actions.to)?,
    };
    let image = artifact
        .image
        .as_ref()
        .map(|i| image_reference(&ctx.mirror.location, ctx.policy.product.as_str(), i));
    let record_path = actions.to.join(FILE_NAME);
    if let Some(kept) = crate::record::archive_previous(&actions.to)? {
        note(&format!(
            "kept the earlier hand-off record as {}",
            kept.display()
        ));
    }
    let mut record = new_record(ctx, planned, artifact, &delivered, now);
    record.artifact.image.clone_from(&image);
    record.write(&record_path)?;
    note(&format!(
        "verified {} ({} bytes, sha256 {}); record {}",
        delivered.file.display(),
        delivered.size,
        delivered.sha256,
        record_path.display()
    ));
    let mut env = handoff_env(&delivered, planned, &record_path);
    if let Some(i) = image {
        env.push(("FERRY_IMAGE", i.into()));
    }
    if let Some(cmd) = &actions.exec {
        steps::run_installer(cmd, &env, &mut record, note);
        record.write(&record_path)?;
    }
    if record.failed_step.is_none() {
        steps::check_health_urls(ctx.probe, actions, &mut record, note);
    }
    if record.failed_step.is_none()
        && let Some(cmd) = &actions.health_cmd
    {
        steps::check_health_cmd(cmd, actions.health_timeout, &env, &mut record, note);
    }
    steps::settle(&mut record, actions, &env, note);
    record.write(&record_path)?;
    Ok(Outcome {
        record,
        record_path,
        delivered,
    })
}

/// The planned release's artifact for the installed profile, or the
/// refusal to upgrade without one.
fn planned_artifact<'p>(planned: &'p Planned, sel: &Selector) -> Result<&'p MirrorArtifact> {
    planned.artifact.as_ref().ok_or_else(|| {
        Error::refused(
            format!("upgrade to {}", planned.target),
            format!("the release has no artifact for profile {}", sel.profile),
        )
    })
}

/// The record as first written, right after the delivery (`handed-over`,
/// no step run yet).
fn new_record(
    ctx: &InstallContext<'_>,
    planned: &Planned,
    artifact: &MirrorArtifact,
    delivered: &Delivered,
    now: Timestamp,
) -> HandoffRecord {
    HandoffRecord {
        schema: SCHEMA.to_string(),
        product: ctx.policy.product.clone(),
        created: now,
        mirror: ctx.mirror.location.clone(),
        index_sequence: ctx.mirror.index.sequence,
        index_sha256: ctx.mirror.index_sha256,
        channel: ctx.sel.channel.clone(),
        profile: ctx.sel.profile.clone(),
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
            image: None,
        },
        checks: planned.checks.clone(),
        installer: None,
        health: Vec::new(),
        rollback: None,
        failed_step: None,
        status: "handed-over".into(),
    }
}

/// `FERRY_ARTIFACT`, `FERRY_VERSION` and `FERRY_HANDOFF`, for the
/// installer, the health command and the rollback.
fn handoff_env(delivered: &Delivered, planned: &Planned, record_path: &Path) -> steps::Env {
    vec![
        ("FERRY_ARTIFACT", delivered.file.clone().into_os_string()),
        ("FERRY_VERSION", planned.target.to_string().into()),
        ("FERRY_HANDOFF", record_path.to_path_buf().into_os_string()),
    ]
}
