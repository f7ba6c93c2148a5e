//! The signing side's sequence counter across workspaces (SPEC §3.3,
//! issue 10): two workspaces signed within one second got the same
//! manifest sequence, and the mirror refused the second bundle as
//! equivocation. Every new manifest this user signs for a product records
//! its sequence here, under a lock, and the next one goes above it.
//!
//! Where: `$FERRY_STATE_DIR`, else `$XDG_STATE_HOME/ferry`, else
//! `~/.local/state/ferry`; one file per product, `sequence-<product>`.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use anyhow::{Context, Result};

/// The folder of the counter files.
fn state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FERRY_STATE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(d).join("ferry"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/ferry"))
}

/// A product's counter, locked until dropped.
pub(crate) struct Counter {
    path: PathBuf,
    value: u64,
    _lock: File,
}

impl Counter {
    /// Opens and locks the counter of `product` (waits for another `ferry
    /// sign` of this user). `None` when no state folder can be found.
    pub(crate) fn open(product: &str) -> Result<Option<Counter>> {
        let Some(dir) = state_dir() else {
            return Ok(None);
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: create the state folder", dir.display()))?;
        let lock_path = dir.join(format!("sequence-{product}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("{}: open", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("{}: lock", lock_path.display()))?;
        let path = dir.join(format!("sequence-{product}"));
        let value = match std::fs::read_to_string(&path) {
            Ok(t) => t.trim().parse().with_context(|| {
                format!(
                    "{}: not a sequence number (remove it to start again from the clock)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).with_context(|| format!("{}: read", path.display())),
        };
        Ok(Some(Counter {
            path,
            value,
            _lock: lock,
        }))
    }

    /// The highest sequence recorded.
    pub(crate) fn value(&self) -> u64 {
        self.value
    }

    /// Records `sequence` if it is higher.
    pub(crate) fn record(&self, sequence: u64) -> Result<()> {
        if sequence > self.value {
            ferry_durable::fsutil::write_atomic(&self.path, format!("{sequence}\n").as_bytes())?;
        }
        Ok(())
    }
}
