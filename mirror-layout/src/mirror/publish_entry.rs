//! The audit entry of a publish to object storage (SPEC §3.14, issue 14).
//!
//! `ferry-mirror publish` records each publish in the mirror's own audit
//! log before it uploads anything: the entry (target, objects, bytes) is
//! committed like a prune (journaled, crash-safe, the index re-signed
//! with the new audit head and the next sequence), and that new log and
//! index are what the publish then puts on the store. An interrupted
//! publish keeps its entry; the re-run appends its own.

use ferry_manifests::minisig::SecretKey;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;

use super::{Mirror, MirrorLock};
use crate::audit::{self, Action};
use crate::error::Result;

impl Mirror {
    /// Appends a `publish` entry with `details` to the audit log and
    /// commits the re-signed index (next sequence). Hold `lock`; an
    /// interrupted change is finished first. Returns the new sequence.
    ///
    /// # Errors
    /// [`crate::Error::Refused`] for a wrong key or a broken audit chain;
    /// [`crate::Error::Io`].
    pub fn record_publish(
        &self,
        lock: &MirrorLock,
        key: &SecretKey,
        policy: Option<&TrustPolicy>,
        details: serde_json::Value,
        now: Timestamp,
    ) -> Result<u64> {
        if let Some(p) = policy {
            self.check_policy_product(p)?;
        }
        self.recover(lock)?;
        self.check_signing_key(key, policy)?;
        let (index, _) = self.read_index(&self.recorded_keys()?)?;
        self.check_audit_head(index.audit_head)?;
        let mut next = index.clone();
        next.sequence = index.sequence + 1;
        next.generated = now;
        let entry = audit::next_entry(
            Some(index.audit_head),
            now,
            Action::Publish,
            &audit::current_actor(),
            details,
        );
        let txn = super::commit::new_txn(now);
        let change = super::journal::Change {
            txn: &txn,
            action: "publish",
            renames: Vec::new(),
            removes: Vec::new(),
        };
        let done = self
            .journal(key, &mut next, &entry, change)
            .and_then(|j| self.commit(lock, &j));
        self.drop_staging_unless_armed(&txn, done)?;
        Ok(next.sequence)
    }
}
