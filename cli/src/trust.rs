//! Loading a trust policy the way every command must (SPEC §3.11): the
//! policy file, then the trust-chain versions its state folder records
//! (`--trust-state`, default `<policy>.state/`), re-checked. Commands then
//! apply whatever chain their input carries (`ferry_manifests::trust::apply`)
//! and, where they are a side that remembers, record the result.

use std::path::{Path, PathBuf};

use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use ferry_manifests::trust::state::{self, TrustState};

/// A policy with its recorded chain applied, and where the record lives.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// The effective policy (file + recorded chain).
    pub policy: TrustPolicy,
    /// The state folder.
    pub state_dir: PathBuf,
    /// What the folder recorded (None: nothing yet).
    pub state: Option<TrustState>,
}

/// Loads `path` and applies the chain recorded in `state_dir` (default
/// `<path>.state/`).
///
/// # Errors
/// Whatever loading the policy or re-applying its recorded chain refuses.
pub fn load_policy(
    path: &Path,
    state_dir: Option<&Path>,
    now: Timestamp,
) -> Result<LoadedPolicy, ferry_manifests::Error> {
    let file = TrustPolicy::load(path)?;
    let dir = state_dir.map_or_else(|| state::default_dir(path), Path::to_path_buf);
    let (policy, state) = state::load(&file, &dir, now)?;
    Ok(LoadedPolicy {
        policy,
        state_dir: dir,
        state,
    })
}

impl LoadedPolicy {
    /// Records `effective` (this policy with more versions applied) in the
    /// state folder, atomically; returns whether anything changed.
    ///
    /// # Errors
    /// [`ferry_durable::Error::Io`] naming the file.
    pub fn record(
        &self,
        effective: &TrustPolicy,
        now: Timestamp,
    ) -> Result<bool, ferry_durable::Error> {
        ferry_durable::trust_state::record(&self.state_dir, effective, self.state.as_ref(), now)
    }
}
