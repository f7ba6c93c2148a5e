//! What a side has applied of the trust chain (`ferry.trust-state/v1`):
//! a state folder beside the policy (`--trust-state`, default
//! `<policy>.state/`) holding `trust.json` and, under `trust/`, the
//! applied versions with their signatures. `trust.json` is written last
//! and atomically (by `ferry-durable`): it is the commit point, so a crash
//! leaves the old trust or the new one, never a mix.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{MIRROR_DIR, apply, read_dir};
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::minisig::read_small_bytes;
use crate::name::Name;
use crate::policy::TrustPolicy;
use crate::time::Timestamp;

/// The schema string.
pub const SCHEMA: &str = "ferry.trust-state/v1";
/// The state document's file name inside the state folder.
pub const FILE: &str = "trust.json";

/// One applied version as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The version.
    pub version: u64,
    /// SHA-256 of its document.
    pub sha256: Sha256Digest,
    /// When this side applied it.
    pub applied: Timestamp,
}

/// The state document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustState {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// The newest version applied.
    pub version: u64,
    /// Every version applied, oldest first (2, 3, …).
    pub versions: Vec<Entry>,
}

impl TrustState {
    /// The state of an effective policy; `before` keeps the times of
    /// versions applied earlier.
    #[must_use]
    pub fn of(policy: &TrustPolicy, before: Option<&TrustState>, now: Timestamp) -> Self {
        let versions = policy
            .chain
            .iter()
            .map(|a| Entry {
                version: a.version,
                sha256: a.sha256,
                applied: before
                    .and_then(|b| b.versions.iter().find(|e| e.version == a.version))
                    .map_or(now, |e| e.applied),
            })
            .collect();
        TrustState {
            schema: SCHEMA.to_string(),
            product: policy.product.clone(),
            version: policy.trust_version(),
            versions,
        }
    }

    /// The bytes written.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::json::to_document_bytes(self)
    }
}

/// The default state folder of a policy file: `<policy>.state/`.
#[must_use]
pub fn default_dir(policy: &Path) -> PathBuf {
    let mut s = policy.as_os_str().to_owned();
    s.push(".state");
    PathBuf::from(s)
}

/// The policy with the versions its state folder records applied again
/// (their signatures re-checked). A folder without `trust.json` is the
/// policy file alone.
///
/// # Errors
/// [`Error::Format`] for a damaged state, [`Error::Policy`] when the
/// folder's documents disagree with `trust.json`, and whatever
/// [`apply`] refuses.
pub fn load(
    policy: &TrustPolicy,
    dir: &Path,
    now: Timestamp,
) -> Result<(TrustPolicy, Option<TrustState>)> {
    let file = dir.join(FILE);
    let bytes = match read_small_bytes(&file, crate::json::MAX_DOCUMENT_BYTES) {
        Ok(b) => b,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok((policy.clone(), None));
        }
        Err(e) => return Err(e),
    };
    let name = file.display().to_string();
    let state: TrustState = crate::json::parse_document(&bytes, &name, SCHEMA)?;
    if state.product != policy.product {
        return Err(Error::policy(
            &name,
            format!(
                "records the trust chain of product \"{}\"; the policy is for \"{}\"",
                state.product, policy.product
            ),
        ));
    }
    let candidates = read_dir(&dir.join(MIRROR_DIR))?
        .into_iter()
        .filter(|c| c.version <= state.version)
        .collect();
    let out = apply(policy, candidates, now)?;
    let got: Vec<(u64, Sha256Digest)> = out
        .policy
        .chain
        .iter()
        .map(|a| (a.version, a.sha256))
        .collect();
    let want: Vec<(u64, Sha256Digest)> = state
        .versions
        .iter()
        .map(|e| (e.version, e.sha256))
        .collect();
    if got != want || out.policy.trust_version() != state.version {
        return Err(Error::policy(
            &name,
            format!(
                "records trust chain version {} but its folder holds other documents (version {} applied from them): restore the folder or apply the chain again",
                state.version,
                out.policy.trust_version()
            ),
        ));
    }
    Ok((out.policy, Some(state)))
}
