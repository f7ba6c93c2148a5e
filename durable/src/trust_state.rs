//! Writes a side's trust state (`ferry.trust-state/v1`, SPEC §3.11): the
//! applied versions under `trust/` first, each atomically, then
//! `trust.json` atomically — the commit point. A crash before it leaves
//! the old trust (the extra documents are ignored by
//! [`ferry_manifests::trust::state::load`]); after it, the new.

use std::path::Path;

use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use ferry_manifests::trust::state::{FILE, TrustState};
use ferry_manifests::trust::{MIRROR_DIR, chain_files};

use crate::error::Result;
use crate::fsutil::write_atomic_creating;

/// Records what `policy` has applied into the state folder `dir`, when it
/// is newer than `before` (what the folder held). Returns whether anything
/// was written.
///
/// # Errors
/// [`crate::Error::Io`] naming the file that could not be written.
pub fn record(
    dir: &Path,
    policy: &TrustPolicy,
    before: Option<&TrustState>,
    now: Timestamp,
) -> Result<bool> {
    let held = before.map_or(1, |b| b.version);
    if policy.trust_version() <= held {
        return Ok(false);
    }
    let chain = dir.join(MIRROR_DIR);
    for (rel, bytes) in chain_files(&policy.chain)? {
        let path = chain.join(&rel);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            continue;
        }
        write_atomic_creating(&path, &bytes)?;
    }
    let state = TrustState::of(policy, before, now);
    write_atomic_creating(&dir.join(FILE), &state.to_bytes())?;
    Ok(true)
}
