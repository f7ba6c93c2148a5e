//! `ferry-mirror prune --keep N` (SPEC §4): removes old versions, their
//! files and index entries, with the same crash-safe commit as import.
//!
//! Kept: for every channel × profile of the mirror, the newest `N` versions
//! carrying that profile in that channel, and always the latest (not
//! yanked) one, and every `required` (not yanked) release, which no
//! upgrade path may skip; a file another kept release names is never removed. The
//! imported manifests under `manifests/` are evidence and are never pruned,
//! and the advisories of a removed release stay in the feed.

use std::collections::BTreeSet;

use semver::Version;
use serde::Serialize;

use ferry_manifests::minisig::SecretKey;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;

use super::failpoint::hit;
use super::index::MirrorIndex;
use super::{Mirror, MirrorLock};
use crate::audit::{self, Action};
use crate::error::{Error, Result};

/// What a prune did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneOutcome {
    /// Versions removed (empty: nothing to do, nothing changed).
    pub removed: Vec<String>,
    /// Versions kept.
    pub kept: Vec<String>,
    /// Of those, the ones kept only because they are `required` (outside
    /// the newest `--keep`): no upgrade path may skip them.
    pub kept_required: Vec<String>,
    /// Files removed.
    pub files: usize,
    /// Bytes freed.
    pub bytes: u64,
    /// The index sequence after.
    pub index_sequence: u64,
    /// The interrupted transaction finished first, if any.
    pub recovered: Option<String>,
}

/// The versions `prune --keep keep` keeps.
#[must_use]
pub fn kept_versions(index: &MirrorIndex, keep: usize) -> BTreeSet<Version> {
    let mut kept = kept_versions_without_required(index, keep);
    // A `required` release carries a migration every later version relies
    // on: a host on any older version (the mirror cannot know which hosts
    // still run one) must pass through it, so it is never pruned while it
    // is not yanked (SPEC §4 prune, issue 10).
    kept.extend(required_versions(index));
    kept
}

/// The newest `keep` of each channel × profile, the latest, and releases
/// outside the mirror's channels and profiles.
fn kept_versions_without_required(index: &MirrorIndex, keep: usize) -> BTreeSet<Version> {
    let mut kept = BTreeSet::new();
    for c in &index.channels {
        for p in &index.profiles {
            let mut vs: Vec<(&Version, bool)> = index
                .releases
                .iter()
                .filter(|r| r.channels.contains(c) && r.artifacts.iter().any(|a| &a.profile == p))
                .map(|r| (&r.version, r.yanked.is_some()))
                .collect();
            vs.sort_by(|a, b| b.0.cmp(a.0));
            kept.extend(vs.iter().take(keep).map(|(v, _)| (*v).clone()));
            if let Some((v, _)) = vs.iter().find(|(_, yanked)| !yanked) {
                kept.insert((*v).clone());
            }
        }
    }
    // Releases outside every channel × profile of the mirror are left alone.
    for r in &index.releases {
        let listed = index.channels.iter().any(|c| r.channels.contains(c))
            && r.artifacts
                .iter()
                .any(|a| index.profiles.contains(&a.profile));
        if !listed {
            kept.insert(r.version.clone());
        }
    }
    kept
}

/// The `required`, not yanked, releases: never pruned.
#[must_use]
pub fn required_versions(index: &MirrorIndex) -> BTreeSet<Version> {
    index
        .releases
        .iter()
        .filter(|r| r.required && r.yanked.is_none())
        .map(|r| r.version.clone())
        .collect()
}

impl Mirror {
    /// Removes old versions (see the module documentation). Hold `lock`.
    ///
    /// # Errors
    /// [`Error::Refused`] for `keep == 0` or a wrong key; [`Error::Io`].
    pub fn prune(
        &self,
        lock: &MirrorLock,
        keep: usize,
        key: &SecretKey,
        policy: Option<&TrustPolicy>,
        now: Timestamp,
    ) -> Result<PruneOutcome> {
        if keep == 0 {
            return Err(Error::refused(
                "--keep",
                "must be at least 1 (the latest of a channel is never removed)",
            ));
        }
        if let Some(p) = policy {
            self.check_policy_product(p)?;
        }
        let recovered = self.recover(lock)?;
        self.check_signing_key(key, policy)?;
        let (index, _) = self.read_index(&self.recorded_keys()?)?;
        self.check_audit_head(index.audit_head)?;
        let kept = kept_versions(&index, keep);
        let mut next = index.clone();
        next.releases.retain(|r| kept.contains(&r.version));
        carry_orphaned_advisories(&index, &mut next, &kept);
        // Paths the kept releases name, and the folders of removed versions.
        let needed = needed_paths(&next);
        let removed: Vec<&Version> = index
            .releases
            .iter()
            .map(|r| &r.version)
            .filter(|v| !kept.contains(*v))
            .collect();
        let prefixes: Vec<String> = removed.iter().map(|v| format!("releases/{v}")).collect();
        // An image blob goes with the last kept version that needs it.
        let blobs = super::images::needed_blobs(&next);
        let (gone, stay): (Vec<_>, Vec<_>) = index.files.iter().cloned().partition(|f| {
            let p = f.path.as_str();
            if f.path.starts_with_dir(super::images::OCI_DIR) {
                return !blobs.contains(p);
            }
            prefixes.iter().any(|x| f.path.starts_with_dir(x)) && !needed.contains(p)
        });
        let mut outcome = PruneOutcome {
            removed: removed.iter().map(ToString::to_string).collect(),
            kept: kept.iter().map(ToString::to_string).collect(),
            kept_required: kept_only_as_required(&index, keep),
            files: gone.len(),
            bytes: gone.iter().map(|f| f.size).sum(),
            index_sequence: index.sequence,
            recovered,
        };
        if removed.is_empty() {
            return Ok(outcome);
        }
        next.files = stay;
        next.sequence = index.sequence + 1;
        next.generated = now;
        let entry = prune_audit_entry(&index, &next, &outcome, keep, now);
        let txn = super::commit::new_txn(now);
        let change = super::journal::Change {
            txn: &txn,
            action: "prune",
            renames: Vec::new(),
            removes: gone.iter().map(|f| f.path.as_str().to_string()).collect(),
        };
        let done = self.journal(key, &mut next, &entry, change).and_then(|j| {
            hit("prune-planned");
            self.commit(lock, &j)
        });
        self.drop_staging_unless_armed(&txn, done)?;
        outcome.index_sequence = next.sequence;
        Ok(outcome)
    }
}

/// Advisories are not files: one published with a removed release stays in
/// the signed feed, carried by the newest kept release of `next` (ATTACKS
/// A7, no silent removal).
fn carry_orphaned_advisories(
    index: &MirrorIndex,
    next: &mut MirrorIndex,
    kept: &BTreeSet<Version>,
) {
    let orphaned: Vec<_> = index
        .releases
        .iter()
        .filter(|r| !kept.contains(&r.version))
        .flat_map(|r| r.advisories.iter())
        .filter(|a| {
            !next
                .releases
                .iter()
                .any(|r| r.advisories.iter().any(|x| x.id == a.id))
        })
        .cloned()
        .collect();
    if let Some(newest) = next
        .releases
        .iter_mut()
        .max_by(|a, b| a.version.cmp(&b.version))
    {
        for a in orphaned {
            if !newest.advisories.iter().any(|x| x.id == a.id) {
                newest.advisories.push(a);
            }
        }
    }
}

/// Every path the releases of `next` name: notes, artifacts, upstream
/// signatures.
fn needed_paths(next: &MirrorIndex) -> BTreeSet<String> {
    let mut needed = BTreeSet::new();
    for r in &next.releases {
        needed.insert(r.notes.as_str().to_string());
        for a in &r.artifacts {
            needed.insert(a.path.as_str().to_string());
            for u in &a.upstream {
                needed.insert(u.path().as_str().to_string());
            }
        }
    }
    needed
}

/// The `required` releases kept only because they are required (outside
/// the newest `keep`).
fn kept_only_as_required(index: &MirrorIndex, keep: usize) -> Vec<String> {
    let plain = kept_versions_without_required(index, keep);
    required_versions(index)
        .iter()
        .filter(|v| !plain.contains(*v))
        .map(ToString::to_string)
        .collect()
}

/// The audit entry of a prune from `index` to `next`.
fn prune_audit_entry(
    index: &MirrorIndex,
    next: &MirrorIndex,
    outcome: &PruneOutcome,
    keep: usize,
    now: Timestamp,
) -> audit::Entry {
    audit::next_entry(
        Some(index.audit_head),
        now,
        Action::Prune,
        &audit::current_actor(),
        serde_json::json!({
            "keep": keep,
            "removed": outcome.removed,
            "files": outcome.files,
            "bytes": outcome.bytes,
            "index_sequence": next.sequence,
        }),
    )
}
