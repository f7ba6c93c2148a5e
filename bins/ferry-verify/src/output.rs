//! The `--json` documents of `ferry-verify` that are not a library report
//! (docs/json.md): tagged `type`, the kind of verification in kebab-case.
//! (`bundle` prints the library's `Report`, `bundle-verification`.)

use ferry_bundle::Report;
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::Upstream;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::audit::Head;
use serde::Serialize;

/// One document a run.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum Output<'a> {
    /// `manifest`.
    ManifestVerification {
        result: &'static str,
        product: String,
        sequence: u64,
        created: Timestamp,
        expires: Timestamp,
        manifest_sha256: Sha256Digest,
        signers: Vec<String>,
        ignored_signatures: Vec<IgnoredSignature<'a>>,
        files: usize,
        policy_sha256: Sha256Digest,
    },
    /// `audit-log`.
    AuditLogVerification {
        result: &'static str,
        entries: usize,
        head: &'a Head,
        anchored_by_index: bool,
    },
    /// `report` of a bundle.
    ProvenanceReport(ProvenanceReport<'a>),
}

/// `report` of a bundle: what was verified, by whom, and every artifact.
#[derive(Debug, Serialize)]
pub(crate) struct ProvenanceReport<'a> {
    pub(crate) bundle: &'a str,
    pub(crate) product: &'a str,
    pub(crate) sequence: u64,
    pub(crate) created: Timestamp,
    pub(crate) expires: Timestamp,
    pub(crate) manifest_sha256: Sha256Digest,
    pub(crate) transfer_signers: &'a [String],
    pub(crate) threshold: usize,
    pub(crate) policy_sha256: Sha256Digest,
    pub(crate) verified_at: Timestamp,
    pub(crate) tool: &'a str,
    pub(crate) artifacts: Vec<Provenance<'a>>,
    /// The trust chain in force: versions, signers, keys added and dropped.
    pub(crate) trust_chain: &'a [ferry_manifests::trust::VersionSummary],
}

/// An upstream (vendor) signature as recorded, in words.
pub(crate) fn upstream_text(u: &Upstream) -> String {
    match u {
        Upstream::Minisign { path, key_id } => format!("minisign {path}: vendor key {key_id}"),
        Upstream::Sigstore {
            path,
            identity,
            issuer,
            log_index,
        } => format!(
            "sigstore {path}: identity {}, issuer {}, log index {}",
            identity.as_deref().unwrap_or("(managed key)"),
            issuer.as_deref().unwrap_or("-"),
            log_index.map_or_else(|| "-".to_string(), |i| i.to_string())
        ),
    }
}

/// A manifest signature that did not count.
#[derive(Debug, Serialize)]
pub(crate) struct IgnoredSignature<'a> {
    pub(crate) name: &'a str,
    pub(crate) reason: &'a str,
}

/// One artifact's provenance.
#[derive(Debug, Serialize)]
pub(crate) struct Provenance<'a> {
    pub(crate) version: String,
    pub(crate) channels: Vec<String>,
    pub(crate) path: &'a str,
    pub(crate) profile: String,
    pub(crate) platform: String,
    pub(crate) format: String,
    pub(crate) size: Option<u64>,
    pub(crate) sha256: Option<String>,
    pub(crate) upstream: &'a [Upstream],
    pub(crate) checked_offline: Vec<String>,
}

/// Every artifact of a verified bundle, with what was checked offline.
pub(crate) fn provenance(report: &Report) -> Vec<Provenance<'_>> {
    let Some(m) = &report.manifest else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &m.releases {
        for a in &r.artifacts {
            // An image's bytes are its root blob (its digest, what the
            // vendor signed): the row shows that file (SPEC §3.12).
            let at = match a.digest.filter(|_| a.is_image()) {
                Some(d) => format!("{}/blobs/sha256/{}", a.path, d.hex()),
                None => a.path.to_string(),
            };
            let file = report.files.iter().find(|f| f.path == at);
            out.push(Provenance {
                version: r.version.to_string(),
                channels: r.channels.iter().map(ToString::to_string).collect(),
                path: a.path.as_str(),
                profile: a.profile.to_string(),
                platform: a.platform.to_string(),
                format: a.format.to_string(),
                size: file.map(|f| f.size),
                sha256: file.map(|f| f.sha256.to_string()),
                upstream: &a.upstream,
                checked_offline: file.map(|f| f.vendor.clone()).unwrap_or_default(),
            });
        }
    }
    out
}
