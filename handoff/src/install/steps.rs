//! The steps after the hand-off, each recorded in the [`HandoffRecord`]:
//! the installer, the health checks (URLs, then the command), then the
//! final status, running the rollback when a step failed.

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Actions, HealthProbe};
use crate::record::{CommandRecord, HandoffRecord, HealthRecord};

pub use ferry_manifests::redact::redact_url;

/// The environment every command gets (`FERRY_ARTIFACT`…).
pub(super) type Env = Vec<(&'static str, OsString)>;

/// Runs the installer (`--exec`); a non-zero exit fails the `installer`
/// step.
pub(super) fn run_installer(cmd: &str, env: &Env, record: &mut HandoffRecord, note: &dyn Fn(&str)) {
    note(&format!("running the installer: {cmd}"));
    let r = run_sh(cmd, env, None);
    if r.exit_code != Some(0) {
        record.failed_step = Some("installer".into());
    }
    record.installer = Some(r);
}

/// Waits for each `--health-url` in turn; the first that does not answer
/// 2xx in time fails the `health-url URL` step (URLs shown redacted).
pub(super) fn check_health_urls(
    probe: &dyn HealthProbe,
    actions: &Actions,
    record: &mut HandoffRecord,
    note: &dyn Fn(&str),
) {
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

/// Runs `--health-cmd`, killed after `timeout`; anything but exit 0 fails
/// the `health-cmd` step.
pub(super) fn check_health_cmd(
    cmd: &str,
    timeout: Duration,
    env: &Env,
    record: &mut HandoffRecord,
    note: &dyn Fn(&str),
) {
    note(&format!("health check: {cmd}"));
    let r = run_sh(cmd, env, Some(timeout));
    let passed = r.exit_code == Some(0);
    record.health.push(HealthRecord {
        kind: "cmd".into(),
        target: cmd.to_string(),
        passed,
        detail: describe(&r),
    });
    if !passed {
        record.failed_step = Some("health-cmd".into());
    }
}

/// Sets the record's final status: `installed` or `handed-over` when
/// every step passed, else `failed`, or runs `--rollback` (with
/// `FERRY_FAILED_STEP` set) and says whether it worked.
pub(super) fn settle(
    record: &mut HandoffRecord,
    actions: &Actions,
    env: &Env,
    note: &dyn Fn(&str),
) {
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
}

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
