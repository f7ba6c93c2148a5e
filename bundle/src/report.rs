//! What a verification found: one value rendered as text, as `--json`, and
//! as a receipt (`--receipt FILE`, signed with `--key`).

use std::path::{Path, PathBuf};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::progress::human_bytes;
use ferry_manifests::time::Timestamp;
use serde::Serialize;

use super::checker::{FileResult, Outcome};
use super::volumes::VolumeEntry;
use crate::error::Result;

/// The schema of a verification receipt.
pub const RECEIPT_SCHEMA: &str = "ferry.verify-receipt/v1";

/// The policy a verification used.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRef {
    /// Where it was loaded from.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
}

/// A signature that did not count, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Ignored {
    /// The signature file.
    pub name: String,
    /// Why it did not count.
    pub reason: String,
}

/// A rebuilt volume.
#[derive(Debug, Clone, Serialize)]
pub struct Repaired {
    /// The volume.
    pub name: String,
    /// Where the rebuilt copy is.
    pub path: PathBuf,
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always `bundle-verification`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Always [`RECEIPT_SCHEMA`].
    pub schema: &'static str,
    /// Always `verified` (failures are errors, not reports).
    pub result: &'static str,
    /// `ferry-verify <version>`.
    pub tool: String,
    /// The "now" the checks used.
    pub time: Timestamp,
    /// What was verified (path, or `-`).
    pub bundle: String,
    /// `tar`, `tar.gz`, `zip`, `dir`, `volumes (tar)`…
    pub format: String,
    /// The trust policy.
    pub policy: PolicyRef,
    /// Product.
    pub product: String,
    /// Manifest sequence.
    pub sequence: u64,
    /// Manifest `created`.
    pub created: Timestamp,
    /// Manifest `expires`.
    pub expires: Timestamp,
    /// SHA-256 of the manifest bytes.
    pub manifest_sha256: Sha256Digest,
    /// Key ids of the distinct trusted keys that signed.
    pub signers: Vec<String>,
    /// The threshold that applied.
    pub threshold: usize,
    /// Signatures that did not count.
    pub ignored_signatures: Vec<Ignored>,
    /// Every file with its digest.
    pub files: Vec<FileResult>,
    /// Volumes checked (split bundles).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeEntry>,
    /// Volumes rebuilt from parity.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repaired: Vec<Repaired>,
    /// Notes that are not failures, one line each.
    pub findings: Vec<String>,
    /// The trust chain in force (SPEC §3.11): every applied version, who
    /// signed it and the keys it added and dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trust_chain: Vec<ferry_manifests::trust::VersionSummary>,
    /// Trust-chain versions this bundle brought and that were applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trust_applied: Vec<u64>,
    /// The verified manifest (for provenance reports; not serialized).
    #[serde(skip)]
    pub manifest: Option<ferry_manifests::manifest::Manifest>,
    /// The effective policy (the bundle's chain applied), for the import.
    #[serde(skip)]
    pub effective_policy: Option<TrustPolicy>,
}

impl Report {
    pub(crate) fn new(
        policy: &TrustPolicy,
        now: Timestamp,
        bundle: String,
        format: String,
        outcome: Outcome,
    ) -> Self {
        let m = &outcome.manifest;
        let effective = &outcome.policy;
        Report {
            kind: "bundle-verification",
            schema: RECEIPT_SCHEMA,
            result: "verified",
            tool: format!("ferry-verify {}", env!("CARGO_PKG_VERSION")),
            time: now,
            bundle,
            format,
            policy: PolicyRef {
                path: policy.path.display().to_string(),
                sha256: policy.sha256,
            },
            product: m.manifest.product.to_string(),
            sequence: m.manifest.sequence,
            created: m.manifest.created,
            expires: m.manifest.expires,
            manifest_sha256: m.sha256,
            signers: m.signers.valid.iter().map(ToString::to_string).collect(),
            threshold: effective.transfer.as_ref().map_or(0, |t| t.threshold),
            ignored_signatures: m
                .signers
                .ignored
                .iter()
                .map(|(name, reason)| Ignored {
                    name: name.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            files: outcome.files,
            volumes: Vec::new(),
            repaired: Vec::new(),
            findings: outcome.findings,
            manifest: Some(outcome.manifest.manifest.clone()),
            trust_chain: ferry_manifests::trust::summarize(effective),
            trust_applied: outcome.trust_applied.clone(),
            effective_policy: Some(outcome.policy),
        }
    }

    /// The text form: one line per finding, then a summary line.
    #[must_use]
    pub fn to_text(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.repaired {
            out.push(format!(
                "repaired: {} rebuilt from parity into {}",
                r.name,
                r.path.display()
            ));
        }
        for v in &self.trust_chain {
            out.push(format!(
                "trust chain version {} (sha256 {}): signed by {} (previous root) and {} (own root)",
                v.version,
                v.sha256,
                v.signed_by_previous.join(", "),
                v.signed_by_own.join(", ")
            ));
            for c in &v.changes {
                out.push(format!("  {c}"));
            }
        }
        for f in &self.findings {
            out.push(format!("note: {f}"));
        }
        for f in &self.files {
            for v in &f.vendor {
                out.push(format!("vendor: {}: {v}", f.path));
            }
        }
        let bytes: u64 = self.files.iter().map(|f| f.size).sum();
        out.push(format!(
            "verified: {} ({}): {} sequence {}, {} file(s), {}; signed by {} (threshold {}); expires {}; manifest sha256 {}",
            self.bundle,
            self.format,
            self.product,
            self.sequence,
            self.files.len(),
            human_bytes(bytes),
            self.signers.join(", "),
            self.threshold,
            self.expires,
            self.manifest_sha256
        ));
        out
    }
}

/// Writes the report as a receipt at `path`, atomically (temporary file
/// beside it, fsync, rename); with `key`, also `<path>.minisig` signed with
/// the trusted comment `ferry-receipt product=<p> sequence=<n> sha256=<hex>`.
///
/// # Errors
/// I/O errors (exit 3) or a signing failure.
pub fn write_receipt(report: &Report, path: &Path, key: Option<&SecretKey>) -> Result<()> {
    let bytes = ferry_manifests::json::to_document_bytes(report);
    let sig = match key {
        Some(k) => {
            let comment = format!(
                "ferry-receipt product={} sequence={} sha256={}",
                report.product,
                report.sequence,
                Sha256Digest::of(&bytes)
            );
            Some(k.sign(&bytes[..], &comment)?)
        }
        None => None,
    };
    crate::fsutil::write_signed(path, &bytes, sig.as_deref())
}
