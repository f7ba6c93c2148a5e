//! Test hook: `FERRY_FAILPOINT=<name>` stops the process at a named step.
//!
//! Compiled only with the `failpoints` cargo feature (the test builds:
//! `cargo build --workspace --bins --features ferry-mirror/failpoints`,
//! which `scripts/ci.sh` and the e2e tests run). Without it [`hit`] is an
//! empty inline function and no environment variable can make a release
//! binary sleep or stop (issue 11; `scripts/ci.sh` checks the release
//! binary holds no trace of it).
//!
//! Inert unless the environment variable is set. At the matching point the
//! process writes the name to standard error and to the file named by
//! `FERRY_FAILPOINT_MARK`, then sleeps forever, so a test can deliver a real
//! `SIGKILL` at exactly that instant (crash-safety tests, ATTACKS D1).
//! `FERRY_FAILPOINT=list` appends every point passed to the mark file (one
//! name a line) and carries on, so a test can enumerate them.

#[cfg(feature = "failpoints")]
use std::io::Write;

/// The environment variable naming the point to stop at (or `list`).
#[cfg(feature = "failpoints")]
pub const ENV: &str = "FERRY_FAILPOINT";
/// The environment variable naming the marker file.
#[cfg(feature = "failpoints")]
pub const MARK_ENV: &str = "FERRY_FAILPOINT_MARK";

/// A named point: nothing at all without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// A named point; see the module documentation.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    let Some(want) = std::env::var_os(ENV) else {
        return;
    };
    let mark = std::env::var_os(MARK_ENV);
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
    if want != name {
        return;
    }
    let _ = writeln!(std::io::stderr(), "failpoint {name}: waiting to be killed");
    if let Some(m) = mark {
        let _ = std::fs::write(m, name);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
