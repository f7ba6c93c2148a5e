//! How long ferry waits on a slow server (issue 10, "Inputs that hang"): a
//! vendor that trickled the index signature one byte every ten seconds
//! kept `sync` waiting for about an hour. Small documents (indexes,
//! signatures, feeds) get an overall deadline; large downloads a minimum
//! rate, measured over a window, so a slow but moving transfer goes on and
//! a stalled one stops (exit 3, resumable where resume applies).
//!
//! The binaries may change the limits (`FERRY_NET_DEADLINE`,
//! `FERRY_NET_MIN_RATE`, `FERRY_NET_RATE_WINDOW`: seconds, bytes/s,
//! seconds) with [`set`]; libraries never read the environment.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::Error;

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole-response deadline for a small document.
    pub deadline: Duration,
    /// Slowest accepted average rate of a large download, bytes/s.
    pub min_rate: u64,
    /// The window the rate is measured over.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(60),
            min_rate: 1024,
            window: Duration::from_secs(30),
        }
    }
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets the limits for this process (once; later calls are ignored).
pub fn set(limits: Limits) {
    let _ = LIMITS.set(limits);
}

/// Reads overrides from `var` (the binaries pass the environment), over
/// the defaults. A value that does not parse is a usage error.
///
/// # Errors
/// [`Error::Usage`] naming the variable.
pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Limits, Error> {
    let mut l = Limits::default();
    let num = |name: &str| -> Result<Option<u64>, Error> {
        var(name)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| Error::Usage {
                    what: name.to_string(),
                    reason: format!("\"{v}\" is not a whole number"),
                })
            })
            .transpose()
    };
    if let Some(s) = num("FERRY_NET_DEADLINE")? {
        l.deadline = Duration::from_secs(s.max(1));
    }
    if let Some(r) = num("FERRY_NET_MIN_RATE")? {
        l.min_rate = r;
    }
    if let Some(w) = num("FERRY_NET_RATE_WINDOW")? {
        l.window = Duration::from_secs(w.max(1));
    }
    Ok(l)
}

/// The limits in force.
pub fn get() -> Limits {
    *LIMITS.get_or_init(Limits::default)
}

/// Watches a large download's rate.
#[derive(Debug)]
pub struct RateWatch {
    limits: Limits,
    start: Instant,
    bytes: u64,
}

impl RateWatch {
    /// Starts watching now.
    #[must_use]
    pub fn new() -> Self {
        RateWatch {
            limits: get(),
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// How long to wait for the next chunk before giving up.
    #[must_use]
    pub fn chunk_wait(&self) -> Duration {
        self.limits.window
    }

    /// Counts `n` bytes; refuses a window whose average fell below the
    /// minimum rate.
    ///
    /// # Errors
    /// The reason, naming the rate.
    pub fn add(&mut self, n: usize) -> Result<(), String> {
        self.bytes += n as u64;
        let elapsed = self.start.elapsed();
        if elapsed >= self.limits.window {
            let rate = self.bytes as f64 / elapsed.as_secs_f64();
            if rate < self.limits.min_rate as f64 {
                return Err(self.too_slow(rate));
            }
            self.start = Instant::now();
            self.bytes = 0;
        }
        Ok(())
    }

    /// The reason when no chunk came within [`RateWatch::chunk_wait`].
    #[must_use]
    pub fn stalled(&self) -> String {
        self.too_slow(0.0)
    }

    fn too_slow(&self, rate: f64) -> String {
        format!(
            "the transfer fell below {} bytes/s ({rate:.0} bytes/s over the last {} s): the server is stalled or too slow; try again later (the download resumes where it stopped)",
            self.limits.min_rate,
            self.limits.window.as_secs()
        )
    }
}

impl Default for RateWatch {
    fn default() -> Self {
        Self::new()
    }
}

/// The reason when a small document did not arrive within the deadline.
#[must_use]
pub fn deadline_reason(limit: u64) -> String {
    format!(
        "no complete answer within {} s for a document of at most {limit} bytes: the server is stalled or too slow",
        get().deadline.as_secs()
    )
}
