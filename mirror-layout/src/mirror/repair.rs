//! `ferry-mirror fsck DIR --repair BUNDLE` (SPEC §4): restores damaged or
//! missing files from a bundle that carries them. Re-importing is a no-op
//! (the manifest is already imported), so this is the way back.
//!
//! The bundle is verified in full against the policy, as an import would;
//! only files whose bytes the mirror's own signed index lists (same path,
//! size and SHA-256) are taken, staged under `.ferry/staging/`, and each
//! renamed over the damaged copy once the whole bundle verified. The index
//! does not change (the mirror goes back to what it signed), so neither
//! does the audit log. A crash leaves some files restored and the rest as
//! they were; running it again finishes.

use std::collections::HashMap;

use serde::Serialize;

use ferry_manifests::manifest::FileEntry;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;

use super::commit::STAGING_DIR;
use super::stage::StageSink;
use super::{Mirror, MirrorLock};
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, parent_dir, sync_dir};
use ferry_bundle::manifest::VerifyOptions;
use ferry_bundle::verify::{Input, verify_bundle_with_sink};

/// What a repair did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairOutcome {
    /// Files restored from the bundle.
    pub restored: Vec<String>,
    /// Damaged files the bundle does not carry (with the signed bytes).
    pub not_in_bundle: Vec<String>,
}

impl Mirror {
    /// Restores `damaged` (paths the signed index lists) from `input`.
    /// Hold `lock`; run [`Mirror::recover`] first.
    ///
    /// # Errors
    /// The bundle's verification error (nothing is restored then), a
    /// product mismatch, or [`Error::Io`].
    pub fn repair(
        &self,
        _lock: &MirrorLock,
        input: &Input,
        policy: &TrustPolicy,
        damaged: &[String],
        now: Timestamp,
    ) -> Result<RepairOutcome> {
        self.check_policy_product(policy)?;
        let (index, _) = self.read_index(&policy.mirror()?.keys)?;
        let wanted: HashMap<String, FileEntry> = index
            .files
            .iter()
            .filter(|f| damaged.iter().any(|d| d == f.path.as_str()))
            .map(|f| (f.path.as_str().to_string(), f.clone()))
            .collect();
        let txn = format!("repair-{}", super::commit::new_txn(now));
        let dir = self.root.join(STAGING_DIR).join(&txn);
        create_dir_all_durable(&dir)?;
        let mut sink = StageSink {
            dir: dir.clone(),
            wanted,
            same_bytes: true,
            current: None,
            staged: Vec::new(),
        };
        let verified = verify_bundle_with_sink(
            input,
            policy,
            &VerifyOptions {
                now,
                state: None,
                progress: self.progress.clone(),
            },
            &mut sink,
        );
        let res = verified.and_then(|_| self.put_back(&dir, &sink.staged));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = sync_dir(&self.root.join(STAGING_DIR));
        let restored = res?;
        let not_in_bundle = damaged
            .iter()
            .filter(|d| !restored.contains(d))
            .cloned()
            .collect();
        Ok(RepairOutcome {
            restored,
            not_in_bundle,
        })
    }

    /// Renames each verified staged file over its damaged copy.
    fn put_back(&self, dir: &std::path::Path, staged: &[String]) -> Result<Vec<String>> {
        let mut restored = Vec::new();
        for rel in staged {
            super::commit::refuse_symlinked_parents(&self.root, rel)?;
            let to = self.root.join(rel);
            let parent = parent_dir(&to).to_path_buf();
            create_dir_all_durable(&parent)?;
            if let Ok(m) = std::fs::symlink_metadata(&to)
                && m.is_dir()
            {
                return Err(Error::refused(
                    rel.clone(),
                    "is a folder where the signed index lists a file; move it out of the mirror, then repair again",
                ));
            }
            std::fs::rename(dir.join(rel), &to).map_err(|e| Error::io(&to, "restore", e))?;
            sync_dir(&parent)?;
            restored.push(rel.clone());
        }
        Ok(restored)
    }
}
