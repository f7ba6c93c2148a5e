//! `ferry-mirror import` (SPEC §4): verify a bundle with the same code as
//! `ferry-verify bundle` while extracting it into `.ferry/staging/<txn>/`
//! inside the mirror, then commit it crash-safely ([`super::commit`]).
//!
//! Order: recover an interrupted change; check the signing key; read the
//! signed index; verify the manifest alone (no-op if already imported,
//! rollback and equivocation against the index, the mirror's pins); plan
//! (a path already on the mirror with other bytes is refused, with the same
//! bytes it is skipped); check free space; verify the whole bundle while a
//! [`Sink`] writes each new file into staging (created exclusively, synced);
//! only when the verifier returns `Ok` is the new index computed and the
//! journal armed.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use ferry_manifests::decide::{self, Counter, PinKind, PinSource, Seen};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::{FileEntry, MANIFEST_PATH, Manifest, SHA256SUMS_PATH};
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::release::Yank;
use ferry_manifests::time::Timestamp;

use super::commit::{JOURNAL_SCHEMA, Journal, Rename, STAGING_DIR};
use super::failpoint::hit;
use super::index::{
    ImportedManifest, MirrorArtifact, MirrorIndex, MirrorRelease, hints_comment, index_comment,
};
use super::{AUDIT_FILE, Mirror, MirrorLock};
use crate::audit::{self, Action};
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, create_new_public, sync_dir, write_new};
use ferry_bundle::{
    Input, Sink, State, VerifiedManifest, VerifyOptions, verify_bundle_with_sink,
    verify_manifest_of,
};

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
}

/// Writes each wanted file into staging as the verifier streams it (the
/// import's new files; `fsck --repair`'s damaged ones). With `same_bytes`,
/// a file is taken only when the bundle lists it with the wanted size and
/// SHA-256 (repair restores exactly what the signed index lists).
pub(crate) struct StageSink {
    pub(crate) dir: PathBuf,
    pub(crate) wanted: HashMap<String, FileEntry>,
    pub(crate) same_bytes: bool,
    pub(crate) current: Option<(File, PathBuf)>,
    pub(crate) staged: Vec<String>,
}

impl Sink for StageSink {
    fn start(&mut self, file: &FileEntry) -> Result<()> {
        self.current = None;
        let Some(want) = self.wanted.get(file.path.as_str()) else {
            return Ok(());
        };
        if self.same_bytes && (want.sha256 != file.sha256 || want.size != file.size) {
            return Ok(());
        }
        let p = self.dir.join(file.path.as_str());
        if let Some(parent) = p.parent() {
            create_dir_all_durable(parent)?;
        }
        // 0644 whatever the umask: renamed into the served tree (§3.7).
        let f = create_new_public(&p)?;
        self.current = Some((f, p));
        Ok(())
    }

    fn data(&mut self, buf: &[u8]) -> Result<()> {
        if let Some((f, p)) = &mut self.current {
            f.write_all(buf).map_err(|e| Error::io(&*p, "write", e))?;
        }
        Ok(())
    }

    fn done(&mut self, file: &FileEntry) -> Result<()> {
        if let Some((f, p)) = self.current.take() {
            f.sync_all().map_err(|e| Error::io(&p, "sync", e))?;
            drop(f);
            if let Some(parent) = p.parent() {
                sync_dir(parent)?;
            }
            self.staged.push(file.path.as_str().to_string());
            hit(&format!("staged-{}", self.staged.len()));
        }
        Ok(())
    }
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

    /// Refuses a signing key that is not the mirror's (recorded at init)
    /// or, when the policy has `[mirror]`, not one of its keys.
    ///
    /// # Errors
    /// [`Error::Refused`].
    pub fn check_signing_key(&self, key: &SecretKey, policy: Option<&TrustPolicy>) -> Result<()> {
        let pk = key.public_key();
        if pk.base64() != self.config.public_key {
            return Err(Error::refused(
                super::CONFIG_FILE,
                format!(
                    "the mirror is signed by key {}, not {} (pass the mirror's own --key)",
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
        self.check_signing_key(key, Some(policy))?;
        let (index, _) = self.read_index(&self.recorded_keys()?)?;
        self.check_audit_head(index.audit_head)?;
        let vm = verify_manifest_of(input, policy, &VerifyOptions { now, state: None })?;
        let m = &vm.manifest;
        let mut outcome = ImportOutcome {
            noop: false,
            manifest_sha256: vm.sha256,
            manifest_sequence: m.sequence,
            index_sequence: index.sequence,
            signers: vm.signers.valid.iter().map(ToString::to_string).collect(),
            releases: m.releases.iter().map(|r| r.version.to_string()).collect(),
            yanked: Vec::new(),
            files_added: 0,
            files_present: 0,
            bytes_added: 0,
            recovered,
        };
        if index.manifests.iter().any(|im| im.sha256 == vm.sha256) {
            outcome.noop = true;
            return Ok(outcome);
        }
        let accepted = Seen {
            value: index.manifest_sequence,
            sha256: index
                .manifests
                .iter()
                .find(|im| im.sequence == index.manifest_sequence)
                .map(|im| im.sha256),
        };
        let offered = Seen {
            value: m.sequence,
            sha256: Some(vm.sha256),
        };
        decide::freshness(
            MANIFEST_PATH,
            Counter::ManifestSequence,
            &offered,
            Some(&accepted),
        )
        .map_err(|r| ferry_manifests::Error::from(r.advise("this mirror imported it before")))?;
        self.check_pins(m)?;
        let (wanted, present) = self.plan(&index, m, &vm)?;
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
        let result =
            self.stage_and_commit(lock, input, policy, key, now, &index, &vm, wanted, &txn);
        match result {
            Ok((added, bytes, yanked, seq)) => {
                outcome.files_added = added;
                outcome.bytes_added = bytes;
                outcome.yanked = yanked;
                outcome.index_sequence = seq;
                Ok(outcome)
            }
            Err(e) => {
                // Before arming: nothing final was touched; drop staging.
                if !self.root.join(super::commit::ARMED).exists() {
                    let _ = std::fs::remove_dir_all(&staging);
                    let _ = sync_dir(&self.root.join(STAGING_DIR));
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stage_and_commit(
        &self,
        lock: &MirrorLock,
        input: &Input,
        policy: &TrustPolicy,
        key: &SecretKey,
        now: Timestamp,
        index: &MirrorIndex,
        vm: &VerifiedManifest,
        wanted: HashMap<String, FileEntry>,
        txn: &str,
    ) -> Result<(usize, u64, Vec<String>, u64)> {
        let staging = self.root.join(STAGING_DIR).join(txn);
        let mut sink = StageSink {
            dir: staging.clone(),
            wanted,
            same_bytes: false,
            current: None,
            staged: Vec::new(),
        };
        let state = State {
            schema: ferry_bundle::manifest::STATE_SCHEMA.into(),
            product: index.product.clone(),
            sequence: index.manifest_sequence,
            manifest_sha256: None,
        };
        let report = verify_bundle_with_sink(
            input,
            policy,
            &VerifyOptions {
                now,
                state: Some(state),
            },
            &mut sink,
        )?;
        if report.manifest_sha256 != vm.sha256 {
            return Err(Error::refused(
                MANIFEST_PATH,
                "the bundle changed while it was being imported (another manifest on the second read); refused",
            ));
        }
        let staged: BTreeSet<&String> = sink.staged.iter().collect();
        for p in sink.wanted.keys() {
            if !staged.contains(p) {
                return Err(Error::refused(
                    p.as_str(),
                    "listed in the manifest but never staged; refused",
                ));
            }
        }
        hit("verified");
        // The manifest and its signatures, kept for audit.
        let mdir = format!("manifests/{}", vm.sha256);
        let mut kept: Vec<(String, Vec<u8>)> =
            vec![(format!("{mdir}/manifest.json"), vm.bytes.clone())];
        for s in &vm.signatures {
            let name = BundlePath::new(&s.name)?;
            kept.push((
                format!("{mdir}/signatures/{}", name.file_name()),
                s.bytes.clone(),
            ));
        }
        let mut n = sink.staged.len();
        let mut new_files: Vec<FileEntry> =
            sink.staged.iter().map(|p| sink.wanted[p].clone()).collect();
        for (rel, bytes) in &kept {
            let p = staging.join(rel);
            if let Some(parent) = p.parent() {
                create_dir_all_durable(parent)?;
            }
            write_new(&p, bytes)?;
            sync_dir(p.parent().unwrap_or(&staging))?;
            n += 1;
            hit(&format!("staged-{n}"));
            new_files.push(FileEntry {
                path: BundlePath::new(rel)?,
                size: bytes.len() as u64,
                sha256: Sha256Digest::of(bytes),
            });
        }
        let bytes_added: u64 = new_files.iter().map(|f| f.size).sum();

        // The new index.
        let mut next = index.clone();
        let yanked = merge(&mut next, &vm.manifest, now);
        next.files.extend(new_files.iter().cloned());
        next.files
            .sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        next.manifests.push(ImportedManifest {
            sha256: vm.sha256,
            sequence: vm.manifest.sequence,
            imported: now,
            signers: vm.signers.valid.iter().map(ToString::to_string).collect(),
        });
        next.manifest_sequence = vm.manifest.sequence;
        next.sequence = index.sequence + 1;
        next.generated = now;
        let entry = audit::next_entry(
            Some(index.audit_head),
            now,
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
            }),
        );
        let journal = self.journal(
            key,
            txn,
            "import",
            &mut next,
            &entry,
            new_files
                .iter()
                .map(|f| Rename {
                    from: format!("{STAGING_DIR}/{txn}/{}", f.path),
                    to: f.path.as_str().to_string(),
                })
                .collect(),
            Vec::new(),
        )?;
        hit("staging-complete");
        self.commit(lock, &journal)?;
        Ok((new_files.len(), bytes_added, yanked, next.sequence))
    }

    /// Builds the journal for a change: sets `next.audit_head`, signs the
    /// feed and index with `key` (checked by the caller).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn journal(
        &self,
        key: &SecretKey,
        txn: &str,
        action: &str,
        next: &mut MirrorIndex,
        entry: &audit::Entry,
        renames: Vec<Rename>,
        removes: Vec<String>,
    ) -> Result<Journal> {
        let line = entry.to_line();
        next.audit_head = audit::Head {
            seq: entry.seq,
            sha256: Sha256Digest::of(&line),
        };
        let hints = next.hints().to_bytes();
        let hints_sig = key.sign(
            &hints[..],
            &hints_comment(&next.product, next.sequence, &Sha256Digest::of(&hints)),
        )?;
        let bytes = next.to_bytes();
        let index_sig = key.sign(
            &bytes[..],
            &index_comment(&next.product, next.sequence, &Sha256Digest::of(&bytes)),
        )?;
        let text = |b: Vec<u8>, what: &str| {
            String::from_utf8(b).map_err(|_| Error::refused(what, "not UTF-8 (internal error)"))
        };
        Ok(Journal {
            schema: JOURNAL_SCHEMA.into(),
            txn: txn.to_string(),
            action: action.to_string(),
            renames,
            removes,
            audit_prev: prev_head(entry)?,
            audit_line: text(line, AUDIT_FILE)?,
            hints: text(hints, super::HINTS_FILE)?,
            hints_sig,
            index: text(bytes, super::INDEX_FILE)?,
            index_sig,
        })
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

    /// Which files to stage; a path on the mirror with other bytes is refused.
    fn plan(
        &self,
        index: &MirrorIndex,
        m: &Manifest,
        vm: &VerifiedManifest,
    ) -> Result<(HashMap<String, FileEntry>, usize)> {
        super::conflicts::check_against_mirror(index, m)?;
        let mut wanted = HashMap::new();
        let mut present = 0;
        for f in &m.files {
            if f.path.as_str() == SHA256SUMS_PATH {
                continue;
            }
            if let Some(e) = index.file(f.path.as_str()) {
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
            self.refuse_unlisted(f.path.as_str())?;
            wanted.insert(f.path.as_str().to_string(), f.clone());
        }
        self.refuse_unlisted(&format!("manifests/{}", vm.sha256))?;
        Ok((wanted, present))
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

fn prev_head(entry: &audit::Entry) -> Result<audit::Head> {
    let seq = entry.seq.checked_sub(1).ok_or_else(|| {
        Error::refused(
            AUDIT_FILE,
            "an import cannot be the first entry (internal error)",
        )
    })?;
    Ok(audit::Head {
        seq,
        sha256: entry.prev,
    })
}

/// Merges a manifest's releases and yanks into `next`; returns the
/// versions newly marked yanked.
fn merge(next: &mut MirrorIndex, m: &Manifest, _now: Timestamp) -> Vec<String> {
    let sizes: HashMap<&str, &FileEntry> = m.files.iter().map(|f| (f.path.as_str(), f)).collect();
    for r in &m.releases {
        let artifacts: Vec<MirrorArtifact> = r
            .artifacts
            .iter()
            .filter_map(|a| {
                let f = sizes.get(a.path.as_str())?;
                Some(MirrorArtifact {
                    path: a.path.clone(),
                    profile: a.profile.clone(),
                    platform: a.platform.clone(),
                    format: a.format.clone(),
                    size: f.size,
                    sha256: f.sha256,
                    upstream: a.upstream.clone(),
                })
            })
            .collect();
        if let Some(existing) = next.releases.iter_mut().find(|x| x.version == r.version) {
            for a in artifacts {
                if !existing.artifacts.iter().any(|x| x.path == a.path) {
                    existing.artifacts.push(a);
                }
            }
            for c in &r.channels {
                if !existing.channels.contains(c) {
                    existing.channels.push(c.clone());
                }
            }
            for adv in &r.advisories {
                if let Some(x) = existing.advisories.iter_mut().find(|x| x.id == adv.id) {
                    *x = adv.clone();
                } else {
                    existing.advisories.push(adv.clone());
                }
            }
            if r.yanked.is_some() {
                existing.yanked.clone_from(&r.yanked);
            }
        } else {
            next.releases.push(MirrorRelease {
                version: r.version.clone(),
                channels: r.channels.clone(),
                published: r.published,
                supported_from: r.supported_from.clone(),
                required: r.required,
                yanked: r.yanked.clone(),
                advisories: r.advisories.clone(),
                notes: r.notes.clone(),
                artifacts,
            });
        }
    }
    let mut yanked = Vec::new();
    for y in &m.yanks {
        if let Some(x) = next.releases.iter_mut().find(|x| x.version == y.version)
            && x.yanked.is_none()
        {
            x.yanked = Some(Yank {
                reason: y.reason.clone(),
            });
            yanked.push(y.version.to_string());
        }
    }
    next.releases.sort_by(|a, b| a.version.cmp(&b.version));
    yanked
}

/// The bundle argument's file name only (for the audit log: no local paths).
#[must_use]
pub fn bundle_label(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
