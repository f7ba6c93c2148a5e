//! Test hook: a test build armed with `FERRY_FAILPOINT=<name>` (read by
//! `ferry_cli::arm_failpoints`) stops the process at a named step.
//!
//! Compiled only with the `failpoints` cargo feature (the test builds:
//! `cargo build --workspace --bins --features ferry-mirror/failpoints`,
//! which `scripts/ci.sh` and the e2e tests run). Without it [`hit`] is an
//! empty inline function and no environment variable can make a release
//! binary sleep or stop (issue 11; `scripts/ci.sh` checks the release
//! binary holds no trace of it).
//!
//! Inert unless the environment variable is set. At the matching point the
//! process writes the name to the file named by
//! `FERRY_FAILPOINT_MARK`, then sleeps forever, so a test can deliver a real
//! `SIGKILL` at exactly that instant (crash-safety tests, ATTACKS D1).
//! `FERRY_FAILPOINT=list` appends every point passed to the mark file (one
//! name a line) and carries on, so a test can enumerate them.
//! `FERRY_FAILPOINT=pause:<name>` writes the name to the mark file at the
//! point and waits until the test removes that file, then carries on (a
//! test acts at that instant, e.g. stops a storage node, issue 14).

#[cfg(feature = "failpoints")]
use std::ffi::OsString;
#[cfg(feature = "failpoints")]
use std::io::Write;

/// The environment variables a test build arms the failpoints with (the
/// point, the marker file): read by `ferry-cli`, the one crate that reads
/// the environment; `None` without the feature, so a release binary holds
/// not even their names.
#[cfg(feature = "failpoints")]
pub const ENV_NAMES: Option<(&str, &str)> = Some(("FERRY_FAILPOINT", "FERRY_FAILPOINT_MARK"));
/// Without the `failpoints` feature there is nothing to arm.
#[cfg(not(feature = "failpoints"))]
pub const ENV_NAMES: Option<(&str, &str)> = None;

#[cfg(feature = "failpoints")]
static ARMED: std::sync::OnceLock<(OsString, Option<OsString>)> = std::sync::OnceLock::new();

/// Arms the failpoints: stop at `point` (or `list`), marking `mark`.
#[cfg(feature = "failpoints")]
pub fn arm(point: OsString, mark: Option<OsString>) {
    let _ = ARMED.set((point, mark));
}

/// Without the `failpoints` feature: nothing.
#[cfg(not(feature = "failpoints"))]
pub fn arm(_point: std::ffi::OsString, _mark: Option<std::ffi::OsString>) {}

/// A named point: nothing at all without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// A named point; see the module documentation.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    let Some((want, mark)) = ARMED.get() else {
        return;
    };
    if want == "list" {
        if let Some(m) = mark
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(m)
        {
            let _ = writeln!(f, "{name}");
        }
        return;
    }
    if let Some(m) = mark
        && want.to_str().and_then(|w| w.strip_prefix("pause:")) == Some(name)
    {
        let _ = std::fs::write(m, name);
        while std::path::Path::new(m).exists() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        return;
    }
    if want != name {
        return;
    }
    if let Some(m) = mark {
        let _ = std::fs::write(m, name);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
