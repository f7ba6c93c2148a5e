//! `ferry-verify report MIRROR`: a mirror's chain of custody (issue 16).
//! The index is checked against the policy's `[mirror]` keys (with the
//! mirror's own trust chain applied), the audit log must chain and end at
//! the head the signed index records, and every imported manifest kept
//! under `manifests/` must hash to the digest the index lists. Each file
//! is then attributed to the first manifest that brought it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use ferry_cli::VerifyError;
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::manifest::{Manifest, Upstream};
use ferry_manifests::minisig::{MAX_SIGNATURE_BYTES, SignatureFile, read_small_bytes};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use ferry_manifests::trust::VersionSummary;
use ferry_mirror_layout::audit::{Entry, Head, MAX_LOG_BYTES, verify_chain};
use ferry_mirror_layout::mirror::index::MirrorIndex;
use ferry_mirror_layout::mirror::verify_index_bytes;
use serde::Serialize;

/// Whether `dir` is a mirror folder (its signed index and its config).
pub(crate) fn is_mirror(dir: &Path) -> bool {
    dir.is_dir() && dir.join("index.json").is_file() && dir.join("ferry-mirror.toml").is_file()
}

/// A verified mirror index and the policy that verified it.
pub(crate) struct VerifiedIndex {
    pub(crate) index: MirrorIndex,
    pub(crate) sha256: Sha256Digest,
    pub(crate) key_id: String,
    pub(crate) policy: TrustPolicy,
}

/// Verifies `index` (with its `.minisig` beside it) by the `[mirror]` keys
/// of `policy` once the chain under the index's `trust/` folder is applied.
pub(crate) fn verify_index(
    index: &Path,
    policy: &TrustPolicy,
    now: Timestamp,
) -> Result<VerifiedIndex> {
    let chain_dir = index
        .parent()
        .unwrap_or(Path::new("."))
        .join(ferry_manifests::trust::MIRROR_DIR);
    let candidates = ferry_manifests::trust::read_dir(&chain_dir)?;
    let policy = ferry_manifests::trust::apply(policy, candidates, now)?.policy;
    let keys = &policy.mirror()?.keys;
    let ib = read_small_bytes(index, MAX_DOCUMENT_BYTES)?;
    let sig_path = PathBuf::from(format!("{}.minisig", index.display()));
    let sb = read_small_bytes(&sig_path, MAX_SIGNATURE_BYTES as u64)?;
    let what = index.display().to_string();
    let parsed = verify_index_bytes(&ib, &sb, keys, &what)?;
    let key_id = SignatureFile::parse(&sb, &what)?.key_id().to_string();
    Ok(VerifiedIndex {
        index: parsed,
        sha256: Sha256Digest::of(&ib),
        key_id,
        policy,
    })
}

/// One imported manifest: what it is, when, by whom, signed by whom.
#[derive(Debug, Serialize)]
pub(crate) struct Import {
    pub(crate) manifest_sha256: Sha256Digest,
    pub(crate) sequence: u64,
    pub(crate) created: Timestamp,
    pub(crate) imported: Timestamp,
    pub(crate) signers: Vec<String>,
    /// The audit log's line for this import (seq, actor), when present.
    pub(crate) audit_seq: Option<u64>,
    pub(crate) actor: Option<String>,
    pub(crate) files: usize,
}

/// One file the mirror holds and the manifest that brought it.
#[derive(Debug, Serialize)]
pub(crate) struct FileCustody {
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) sha256: Sha256Digest,
    /// The first imported manifest listing these bytes at this path (or,
    /// under `manifests/`, the manifest itself); `None` for the mirror's
    /// trust chain.
    pub(crate) brought_by: Option<Sha256Digest>,
    pub(crate) imported: Option<Timestamp>,
}

/// One artifact of a release on the mirror.
#[derive(Debug, Serialize)]
pub(crate) struct Artifact<'a> {
    pub(crate) version: String,
    pub(crate) channels: Vec<String>,
    pub(crate) path: &'a str,
    pub(crate) profile: String,
    pub(crate) platform: String,
    pub(crate) size: u64,
    pub(crate) sha256: Sha256Digest,
    pub(crate) upstream: &'a [Upstream],
    pub(crate) brought_by: Option<Sha256Digest>,
}

/// The `--json` document `mirror-report` (docs/json.md).
#[derive(Debug, Serialize)]
pub(crate) struct MirrorReport<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) result: &'static str,
    pub(crate) mirror: String,
    pub(crate) product: String,
    pub(crate) index_sequence: u64,
    pub(crate) index_sha256: Sha256Digest,
    pub(crate) index_generated: Timestamp,
    pub(crate) index_signed_by: String,
    pub(crate) manifest_sequence: u64,
    pub(crate) audit_head: Head,
    pub(crate) audit_entries: usize,
    pub(crate) policy_sha256: Sha256Digest,
    pub(crate) verified_at: Timestamp,
    pub(crate) tool: String,
    /// Always false: `ferry-mirror fsck` re-hashes the files.
    pub(crate) files_rehashed: bool,
    pub(crate) imports: Vec<Import>,
    pub(crate) artifacts: Vec<Artifact<'a>>,
    pub(crate) files: Vec<FileCustody>,
    pub(crate) trust_chain: Vec<VersionSummary>,
}

/// Verifies the mirror at `dir` and gathers its chain of custody.
pub(crate) fn build<'a>(
    dir: &Path,
    v: &'a VerifiedIndex,
    policy_sha256: Sha256Digest,
    now: Timestamp,
) -> Result<MirrorReport<'a>> {
    let log_path = dir.join("audit/log.jsonl");
    let log = read_small_bytes(&log_path, MAX_LOG_BYTES)?;
    let (entries, head) = verify_chain(&log, &log_path.display().to_string())?;
    let idx = &v.index;
    if head != Some(idx.audit_head) {
        bail!(VerifyError(format!(
            "{}: its last line is not the head the signed index records (seq {}, sha256 {}): the log was changed or the index is stale",
            log_path.display(),
            idx.audit_head.seq,
            idx.audit_head.sha256
        )));
    }
    let (imports, origin) = imports(dir, idx, &entries)?;
    let files = custody(idx, &origin);
    let artifacts = artifacts(idx, &origin);
    Ok(MirrorReport {
        kind: "mirror-report",
        result: "verified",
        mirror: dir.display().to_string(),
        product: idx.product.to_string(),
        index_sequence: idx.sequence,
        index_sha256: v.sha256,
        index_generated: idx.generated,
        index_signed_by: v.key_id.clone(),
        manifest_sequence: idx.manifest_sequence,
        audit_head: idx.audit_head,
        audit_entries: entries.len(),
        policy_sha256,
        verified_at: now,
        tool: format!("ferry-verify {}", ferry_cli::build_info::VERSION),
        files_rehashed: false,
        imports,
        artifacts,
        files,
        trust_chain: ferry_manifests::trust::summarize(&v.policy),
    })
}

/// Where each (path, digest) came from: the manifest and its import time.
type Origin = HashMap<(String, Sha256Digest), (Sha256Digest, Timestamp)>;

/// Every imported manifest, read back from `manifests/<sha256>/` and
/// checked against the digest the signed index lists.
fn imports(dir: &Path, idx: &MirrorIndex, entries: &[Entry]) -> Result<(Vec<Import>, Origin)> {
    let mut out = Vec::new();
    let mut origin = Origin::new();
    for m in &idx.manifests {
        let path = dir.join(format!("manifests/{}/manifest.json", m.sha256));
        let bytes = read_small_bytes(&path, MAX_DOCUMENT_BYTES)?;
        if Sha256Digest::of(&bytes) != m.sha256 {
            bail!(VerifyError(format!(
                "{}: does not hash to {}, the digest the signed index lists",
                path.display(),
                m.sha256
            )));
        }
        let manifest = Manifest::parse(&bytes)?;
        for f in &manifest.files {
            // An image blob sits in the mirror's store under its digest
            // (SPEC §3.12): the first manifest that carried it brought it.
            let at = ferry_mirror_layout::mirror::images::store_path_of(f)
                .unwrap_or_else(|| f.path.as_str().to_string());
            origin
                .entry((at, f.sha256))
                .or_insert((m.sha256, m.imported));
        }
        let line = entries.iter().find(|e| {
            e.details.get("manifest_sha256").and_then(|s| s.as_str())
                == Some(m.sha256.to_string().as_str())
        });
        out.push(Import {
            manifest_sha256: m.sha256,
            sequence: m.sequence,
            created: manifest.created,
            imported: m.imported,
            signers: m.signers.clone(),
            audit_seq: line.map(|e| e.seq),
            actor: line.map(|e| e.actor.clone()),
            files: manifest.files.len(),
        });
    }
    Ok((out, origin))
}

fn custody(idx: &MirrorIndex, origin: &Origin) -> Vec<FileCustody> {
    let imported: HashMap<Sha256Digest, Timestamp> = idx
        .manifests
        .iter()
        .map(|m| (m.sha256, m.imported))
        .collect();
    idx.files
        .iter()
        .chain(&idx.trust)
        .map(|f| {
            let p = f.path.as_str().to_string();
            // A manifest's own files sit in its folder.
            let own = p
                .strip_prefix("manifests/")
                .and_then(|r| r.split('/').next())
                .and_then(|s| imported.keys().find(|d| d.to_string() == s).copied());
            let by = own
                .map(|d| (d, imported[&d]))
                .or_else(|| origin.get(&(p.clone(), f.sha256)).copied());
            FileCustody {
                path: p,
                size: f.size,
                sha256: f.sha256,
                brought_by: by.map(|b| b.0),
                imported: by.map(|b| b.1),
            }
        })
        .collect()
}

fn artifacts<'a>(idx: &'a MirrorIndex, origin: &Origin) -> Vec<Artifact<'a>> {
    let mut out = Vec::new();
    for r in &idx.releases {
        for a in &r.artifacts {
            out.push(Artifact {
                version: r.version.to_string(),
                channels: r.channels.iter().map(ToString::to_string).collect(),
                path: a.path.as_str(),
                profile: a.profile.to_string(),
                platform: a.platform.to_string(),
                size: a.size,
                sha256: a.sha256,
                upstream: &a.upstream,
                // An image is brought with its root blob.
                brought_by: origin
                    .get(&(a.path.as_str().to_string(), a.sha256))
                    .or_else(|| {
                        let root = a.image.as_ref()?.digest;
                        origin.get(&(
                            ferry_mirror_layout::mirror::images::blob_path(&root),
                            a.sha256,
                        ))
                    })
                    .map(|o| o.0),
            });
        }
    }
    out
}
