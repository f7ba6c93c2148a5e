//! The trust chain at import (SPEC §3.11): the chain the mirror keeps is
//! applied before the bundle's, and a mirror key the chain rotated to is
//! recorded by the same journal as the first index it signs.

use ferry_manifests::minisig::SecretKey;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;

use super::super::Mirror;
use crate::error::{Error, Result};

impl Mirror {
    /// Refuses a signing key that is not the mirror's (recorded at init)
    /// or, when the policy has `[mirror]`, not one of its keys.
    ///
    /// # Errors
    /// [`Error::Refused`].
    pub fn check_signing_key(&self, key: &SecretKey, policy: Option<&TrustPolicy>) -> Result<()> {
        let pk = key.public_key();
        if pk.base64() != self.config.public_key && !rotated_to(key, policy) {
            return Err(Error::refused(
                super::super::CONFIG_FILE,
                format!(
                    "the mirror is signed by key {}, not {} (pass the mirror's own --key; a new mirror key comes through the trust chain)",
                    self.config.key_id,
                    key.id()
                ),
            ));
        }
        if let Some(m) = policy.and_then(|p| p.mirror.as_ref())
            && m.keys.get(key.id()).is_none()
        {
            return Err(Error::refused(
                "trust policy [mirror].keys",
                format!(
                    "does not list the mirror key {}; readers would refuse what it signs",
                    key.id()
                ),
            ));
        }
        Ok(())
    }

    /// A mirror key the trust chain rotated to: the configuration naming
    /// it, written by the same journal as the first index it signs.
    pub(super) fn key_change(&self, key: &SecretKey) -> Result<Option<String>> {
        let pk = key.public_key();
        if pk.base64() == self.config.public_key {
            return Ok(None);
        }
        let mut config = self.config.clone();
        config.key_id = key.id().to_string();
        config.public_key = pk.base64().to_string();
        String::from_utf8(config.to_bytes()?)
            .map(Some)
            .map_err(|_| Error::refused(super::super::CONFIG_FILE, "not UTF-8 (internal error)"))
    }

    /// The policy with the trust chain this mirror keeps (`trust/`)
    /// applied: what earlier bundles brought (SPEC §3.11).
    ///
    /// # Errors
    /// Whatever the chain's rules refuse (a damaged `trust/`).
    pub fn with_own_chain(&self, policy: &TrustPolicy, now: Timestamp) -> Result<TrustPolicy> {
        let dir = self.root.join(ferry_manifests::trust::MIRROR_DIR);
        let candidates = ferry_manifests::trust::read_dir(&dir)?;
        Ok(ferry_manifests::trust::apply(policy, candidates, now)?.policy)
    }
}

/// Whether the trust chain (not the policy file alone) names `key` among
/// the mirror keys: a mirror key rotation (SPEC §3.11).
pub(super) fn rotated_to(key: &SecretKey, policy: Option<&TrustPolicy>) -> bool {
    policy.is_some_and(|p| {
        p.chain.iter().any(|a| a.doc.mirror.is_some())
            && p.mirror
                .as_ref()
                .is_some_and(|m| m.keys.get(key.id()).is_some())
    })
}
