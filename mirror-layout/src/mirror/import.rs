//! `ferry-mirror import` (SPEC §4): verify a bundle with the same code as
//! `ferry-verify bundle` while extracting it into `.ferry/staging/<txn>/`
//! inside the mirror, then commit it crash-safely ([`super::commit`]).
//!
//! Order: recover an interrupted change; check the signing key; read the
//! signed index; verify the manifest alone (no-op if already imported,
//! rollback and equivocation against the index, the mirror's pins); plan
//! (a path already on the mirror with other bytes is refused, with the same
//! bytes it is skipped); check free space; verify the whole bundle while a
//! [`ferry_bundle::Sink`] writes each new file into staging (created exclusively, synced);
//! only when the verifier returns `Ok` is the new index computed and the
//! journal armed.

use std::collections::{BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::path::Path;

use serde::Serialize;

use ferry_manifests::decide::{self, PinKind, PinSource};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::{FileEntry, MANIFEST_PATH, Manifest, SHA256SUMS_PATH};
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;

use super::commit::{Rename, STAGING_DIR};
use super::failpoint::hit;
use super::index::{ImportedManifest, MirrorIndex, merge};
use super::journal::Change;
use super::stage::{StageSink, keep_manifest, stage_trust};

mod fresh;
mod trust;
use super::{Mirror, MirrorLock};
use crate::audit::{self, Action};
use crate::error::{Error, Result};
use crate::fsutil::create_dir_all_durable;
use ferry_bundle::{
    Input, State, VerifiedManifest, VerifyOptions, verify_bundle_into_manifest,
    verify_manifest_and_trust,
};
use fresh::check_fresh;

/// Free space kept beyond what an import writes.
pub const SPACE_MARGIN: u64 = 4 * 1024 * 1024;

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    /// True when the manifest was already imported (nothing changed).
    pub noop: bool,
    /// SHA-256 of the manifest.
    pub manifest_sha256: Sha256Digest,
    /// Its sequence.
    pub manifest_sequence: u64,
    /// The mirror index sequence after the import.
    pub index_sequence: u64,
    /// Transfer keys that counted.
    pub signers: Vec<String>,
    /// Versions carried.
    pub releases: Vec<String>,
    /// Versions marked yanked.
    pub yanked: Vec<String>,
    /// Files written.
    pub files_added: usize,
    /// Files already on the mirror with the same bytes.
    pub files_present: usize,
    /// Bytes written.
    pub bytes_added: u64,
    /// The interrupted transaction finished first, if any.
    pub recovered: Option<String>,
    /// Trust-chain versions the bundle brought that this mirror now keeps
    /// and serves under `trust/` (SPEC §3.11).
    pub trust_applied: Vec<u64>,
    /// The effective policy after the bundle's chain (for the caller to
    /// record in its trust state).
    #[serde(skip)]
    pub policy: Option<TrustPolicy>,
}

impl Mirror {
    /// Takes the exclusive lock, waiting for another holder to finish.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn lock_wait(&self) -> Result<MirrorLock> {
        let path = self.root.join(super::PRIVATE_DIR).join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, "open lock", e))?;
        file.lock().map_err(|e| Error::io(&path, "lock", e))?;
        Ok(MirrorLock { _file: file })
    }

    /// Imports one bundle (see the module documentation). Hold `lock`.
    ///
    /// # Errors
    /// Exit-1 class: any verification failure, rollback, equivocation, a
    /// pin, a path already on the mirror with other bytes. Exit-3 class:
    /// I/O, [`Error::NoSpace`]. The mirror is unchanged on every error
    /// before the journal is armed.
    pub fn import(
        &self,
        lock: &MirrorLock,
        input: &Input,
        policy: &TrustPolicy,
        key: &SecretKey,
        now: Timestamp,
    ) -> Result<ImportOutcome> {
        let recovered = self.recover(lock)?;
        hit("recovered");
        if matches!(input, Input::Stdin) {
            return Err(Error::refused(
                "-",
                "import reads the bundle twice (manifest first, then everything); give a file, a first volume, a volumes.json or a directory",
            ));
        }
        self.check_policy_product(policy)?;
        // The chain this mirror keeps is applied first, then the bundle's.
        let policy = &self.with_own_chain(policy, now)?;
        let (index, _) = self.read_index(&self.recorded_keys()?)?;
        self.check_audit_head(index.audit_head)?;
        let (vm, effective) = verify_manifest_and_trust(
            input,
            policy,
            &VerifyOptions {
                now,
                state: None,
                progress: Default::default(),
            },
        )?;
        self.check_signing_key(key, Some(&effective))?;
        let m = &vm.manifest;
        let mut outcome = ImportOutcome::new(&vm, &index, recovered);
        outcome.trust_applied = effective
            .chain
            .iter()
            .map(|a| a.version)
            .filter(|v| *v > policy.trust_version())
            .collect();
        outcome.policy = Some(effective.clone());
        if index.manifests.iter().any(|im| im.sha256 == vm.sha256) {
            outcome.noop = true;
            return Ok(outcome);
        }
        check_fresh(&index, &vm)?;
        self.check_pins(m)?;
        let Plan {
            wanted,
            present,
            places,
        } = self.plan(&index, m, &vm)?;
        outcome.files_present = present;
        let new_bytes = wanted
            .values()
            .fold(0u64, |acc, f| acc.saturating_add(f.size));
        self.check_space(
            new_bytes
                .saturating_add(vm.bytes.len() as u64)
                .saturating_add(8 * index.to_bytes().len() as u64),
        )?;
        hit("space-checked");

        let txn = super::commit::new_txn(now);
        let staging = self.root.join(STAGING_DIR).join(&txn);
        create_dir_all_durable(&staging)?;
        let job = ImportJob {
            input,
            policy,
            effective: &effective,
            now,
            index: &index,
            manifest_sha256: vm.sha256,
            txn: &txn,
            places: &places,
        };
        // The manifest of the first pass (its text, its entries and their
        // path index) is freed before the second verifies it again: one
        // manifest in memory at a time, the peak of a 100,000-file import
        // (issue 17); the previous index once the next one is computed.
        drop(vm);
        let staged = self.stage_import(&job, wanted);
        drop(index);
        let result = staged.and_then(|s| self.commit_import(lock, key, &txn, s));
        self.finish(result, &txn, outcome)
    }

    /// The outcome of a commit, or its error after dropping staging when
    /// the journal was never armed (nothing final was touched).
    fn finish(
        &self,
        result: Result<(usize, u64, Vec<String>, u64)>,
        txn: &str,
        mut outcome: ImportOutcome,
    ) -> Result<ImportOutcome> {
        match result {
            Ok((added, bytes, yanked, seq)) => {
                outcome.files_added = added;
                outcome.bytes_added = bytes;
                outcome.yanked = yanked;
                outcome.index_sequence = seq;
                Ok(outcome)
            }
            Err(e) => self.drop_staging_unless_armed(txn, Err(e)),
        }
    }

    /// Stages every wanted file while the bundle is verified a second
    /// time, keeps the manifest, and computes the new index, its audit
    /// entry and the renames ([`Mirror::commit_import`] publishes them).
    fn stage_import(
        &self,
        job: &ImportJob<'_>,
        wanted: HashMap<String, FileEntry>,
    ) -> Result<StagedImport> {
        let staging = self.root.join(STAGING_DIR).join(job.txn);
        let (staged, vm) = self.stage(job, &staging, wanted)?;
        hit("verified");
        let mut moves = super::images::place(staged, job.places)?;
        let kept = keep_manifest(&staging, &vm, moves.len())?;
        moves.extend(kept.into_iter().map(|f| (f.path.as_str().to_string(), f)));
        let new_files: Vec<FileEntry> = moves.iter().map(|(_, f)| f.clone()).collect();
        let trust_files = stage_trust(&self.root, &staging, job.effective)?;
        let bytes_added: u64 = new_files.iter().map(|f| f.size).sum();
        let trust_applied: Vec<serde_json::Value> = job
            .effective
            .chain
            .iter()
            .filter(|a| a.version > job.policy.trust_version())
            .map(|a| serde_json::json!({"version": a.version, "sha256": a.sha256}))
            .collect();
        let (mut next, yanked) = next_index(job, &vm, &new_files);
        next.trust.extend(trust_files.iter().cloned());
        next.trust
            .sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        let entry = audit::next_entry(
            Some(job.index.audit_head),
            job.now,
            Action::Import,
            &audit::current_actor(),
            serde_json::json!({
                "manifest_sha256": vm.sha256,
                "sequence": vm.manifest.sequence,
                "signers": vm.signers.valid.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "releases": vm.manifest.releases.iter().map(|r| r.version.to_string()).collect::<Vec<_>>(),
                "yanked": yanked,
                "files": new_files.len(),
                "bytes": bytes_added,
                "index_sequence": next.sequence,
                "trust_applied": trust_applied,
            }),
        );
        let renames = moves
            .iter()
            .map(|(staged, f)| (staged.clone(), f.path.as_str().to_string()))
            .chain(trust_files.iter().map(|f| {
                let rel = f.path.as_str().to_string();
                (rel.clone(), rel)
            }))
            .map(|(staged, to)| Rename {
                from: format!("{STAGING_DIR}/{}/{staged}", job.txn),
                to,
            })
            .collect();
        Ok(StagedImport {
            next,
            entry,
            renames,
            files: new_files.len(),
            bytes: bytes_added,
            yanked,
        })
    }

    /// Journals and commits a staged import; returns files and bytes
    /// added, versions yanked and the new index sequence.
    fn commit_import(
        &self,
        lock: &MirrorLock,
        key: &SecretKey,
        txn: &str,
        s: StagedImport,
    ) -> Result<(usize, u64, Vec<String>, u64)> {
        let StagedImport {
            mut next,
            entry,
            renames,
            files,
            bytes,
            yanked,
        } = s;
        let change = Change {
            txn,
            action: "import",
            renames,
            removes: Vec::new(),
        };
        let mut journal = self.journal(key, &mut next, &entry, change)?;
        journal.new_config = self.key_change(key)?;
        hit("staging-complete");
        self.commit(lock, &journal)?;
        Ok((files, bytes, yanked, next.sequence))
    }

    /// The second, full verification of the bundle, each wanted file
    /// streamed into `staging`; every wanted file must have been staged.
    fn stage(
        &self,
        job: &ImportJob<'_>,
        staging: &Path,
        wanted: HashMap<String, FileEntry>,
    ) -> Result<(Vec<FileEntry>, VerifiedManifest)> {
        let mut sink = StageSink {
            dir: staging.to_path_buf(),
            wanted,
            same_bytes: false,
            current: None,
            staged: Vec::new(),
        };
        let state = State {
            schema: ferry_bundle::manifest::STATE_SCHEMA.into(),
            product: job.index.product.clone(),
            sequence: job.index.manifest_sequence,
            manifest_sha256: None,
        };
        let opts = VerifyOptions {
            now: job.now,
            state: Some(state),
            progress: self.progress.clone(),
        };
        let vm = verify_bundle_into_manifest(job.input, job.policy, &opts, &mut sink)?;
        if vm.sha256 != job.manifest_sha256 {
            return Err(Error::refused(
                MANIFEST_PATH,
                "the bundle changed while it was being imported (another manifest on the second read); refused",
            ));
        }
        let staged: BTreeSet<&String> = sink.staged.iter().collect();
        if let Some(p) = sink.wanted.keys().find(|p| !staged.contains(p)) {
            return Err(Error::refused(
                p.as_str(),
                "listed in the manifest but never staged; refused",
            ));
        }
        Ok((
            sink.staged.iter().map(|p| sink.wanted[p].clone()).collect(),
            vm,
        ))
    }

    /// SPEC §5 rule 5: the mirror's channels and profiles (fixed at init)
    /// are a boundary too, on top of the policy's pins.
    fn check_pins(&self, m: &Manifest) -> Result<()> {
        for r in &m.releases {
            decide::pinned(
                &format!("release {}", r.version),
                PinKind::Channel,
                PinSource::Mirror,
                &r.channels,
                &self.config.channels,
            )
            .map_err(ferry_manifests::Error::from)?;
            for a in &r.artifacts {
                decide::pinned(
                    a.path.as_str(),
                    PinKind::Profile,
                    PinSource::Mirror,
                    std::slice::from_ref(&a.profile),
                    &self.config.profiles,
                )
                .map_err(ferry_manifests::Error::from)?;
            }
        }
        Ok(())
    }

    /// Which files to stage, and where each image blob goes on the mirror
    /// (stored once, [`super::images`]); a path on the mirror with other
    /// bytes is refused.
    fn plan(&self, index: &MirrorIndex, m: &Manifest, vm: &VerifiedManifest) -> Result<Plan> {
        super::conflicts::check_against_mirror(index, m)?;
        // A blob's listed SHA-256 is its name's (a rule of the manifest,
        // `manifest_image.rs`), so the store path is its digest's.
        let mut wanted = HashMap::new();
        let mut places = HashMap::new();
        let mut placed = BTreeSet::new();
        let mut present = 0;
        // One hash lookup a file, not a scan of the mirror's list (issue 17).
        let on_mirror: HashMap<&str, &FileEntry> =
            index.files.iter().map(|f| (f.path.as_str(), f)).collect();
        for f in &m.files {
            if f.path.as_str() == SHA256SUMS_PATH {
                continue;
            }
            let at = super::images::placement(vm, &f.path);
            if let Some(e) = on_mirror.get(at.as_str()) {
                if e.sha256 == f.sha256 && e.size == f.size {
                    present += 1;
                    continue;
                }
                return Err(Error::refused(
                    f.path.as_str(),
                    format!(
                        "is already on the mirror with other bytes (sha256 {}, the bundle carries {}); a version's files never change",
                        e.sha256, f.sha256
                    ),
                ));
            }
            if !placed.insert(at.clone()) {
                present += 1; // a blob two versions of this bundle share
                continue;
            }
            self.refuse_unlisted(&at)?;
            if at != f.path.as_str() {
                places.insert(f.path.as_str().to_string(), at);
            }
            wanted.insert(f.path.as_str().to_string(), f.clone());
        }
        self.refuse_unlisted(&format!("manifests/{}", vm.sha256))?;
        Ok(Plan {
            wanted,
            present,
            places,
        })
    }

    fn refuse_unlisted(&self, rel: &str) -> Result<()> {
        super::commit::refuse_symlinked_parents(&self.root, rel)?;
        if std::fs::symlink_metadata(self.root.join(rel)).is_ok() {
            return Err(Error::refused(
                rel,
                "exists on the mirror but is not listed in its signed index (refused; run ferry-mirror fsck and remove it)",
            ));
        }
        Ok(())
    }

    /// Refuses with [`Error::NoSpace`] (exit 3) unless `needed` bytes plus
    /// [`SPACE_MARGIN`] are free on the mirror's filesystem.
    ///
    /// # Errors
    /// [`Error::NoSpace`], [`Error::Io`].
    pub fn check_space(&self, needed: u64) -> Result<()> {
        let available = fs4::available_space(&self.root)
            .map_err(|e| Error::io(&self.root, "check free space", e))?;
        let needed = needed.saturating_add(SPACE_MARGIN);
        if available < needed {
            return Err(Error::NoSpace {
                path: self.root.clone(),
                needed,
                available,
            });
        }
        Ok(())
    }
}

/// What an import stages: bundle path → entry, how many listed files the
/// mirror already holds, bundle path → mirror path of each image blob.
struct Plan {
    wanted: HashMap<String, FileEntry>,
    present: usize,
    places: HashMap<String, String>,
}

/// A staged import, ready to journal.
struct StagedImport {
    next: MirrorIndex,
    entry: audit::Entry,
    renames: Vec<Rename>,
    files: usize,
    bytes: u64,
    yanked: Vec<String>,
}

/// What one import works with, once planned.
struct ImportJob<'a> {
    input: &'a Input,
    policy: &'a TrustPolicy,
    effective: &'a TrustPolicy,
    now: Timestamp,
    index: &'a MirrorIndex,
    /// The manifest the first pass verified; the second must read the same.
    manifest_sha256: Sha256Digest,
    txn: &'a str,
    /// Bundle path → mirror path of each image blob staged.
    places: &'a HashMap<String, String>,
}

impl ImportOutcome {
    fn new(vm: &VerifiedManifest, index: &MirrorIndex, recovered: Option<String>) -> Self {
        ImportOutcome {
            noop: false,
            manifest_sha256: vm.sha256,
            manifest_sequence: vm.manifest.sequence,
            index_sequence: index.sequence,
            signers: vm.signers.valid.iter().map(ToString::to_string).collect(),
            releases: vm
                .manifest
                .releases
                .iter()
                .map(|r| r.version.to_string())
                .collect(),
            yanked: Vec::new(),
            files_added: 0,
            files_present: 0,
            bytes_added: 0,
            recovered,
            trust_applied: Vec::new(),
            policy: None,
        }
    }
}

/// The index after the import, and the versions it newly yanks.
fn next_index(
    job: &ImportJob<'_>,
    vm: &VerifiedManifest,
    new_files: &[FileEntry],
) -> (MirrorIndex, Vec<String>) {
    let mut next = job.index.clone();
    let yanked = merge(&mut next, &vm.manifest, job.now);
    next.files.extend(new_files.iter().cloned());
    next.files
        .sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
    next.manifests.push(ImportedManifest {
        sha256: vm.sha256,
        sequence: vm.manifest.sequence,
        imported: job.now,
        signers: vm.signers.valid.iter().map(ToString::to_string).collect(),
    });
    next.manifest_sequence = vm.manifest.sequence;
    next.sequence = job.index.sequence + 1;
    next.generated = job.now;
    (next, yanked)
}

/// The bundle argument's file name only (for the audit log: no local paths).
#[must_use]
pub fn bundle_label(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
