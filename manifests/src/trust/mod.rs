//! The trust chain (`ferry.trust/v1`, SPEC §3.11): signed versions that
//! rotate and revoke the keys of every role, the way TUF rotates its root.
//!
//! * [`TrustDoc`] is one version, parsed strictly; [`comment`] is the
//!   trusted comment its signatures carry.
//! * [`Collector`] gathers a chain's files wherever they come from (a
//!   bundle's `ferry/trust/`, a mirror's `trust/`, a workspace or state
//!   folder) into [`Candidate`]s.
//! * [`apply`] is the one home of the chain's rules: version N+1 needs the
//!   threshold of version N's root keys **and** of its own, one version at
//!   a time, equivocation refused, older versions ignored. It returns the
//!   effective [`TrustPolicy`]; keys a newer version drops count nowhere.
//! * [`state`] is the record each side keeps of what it applied.

mod apply;
mod describe;
pub mod state;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use apply::{Applied, Outcome, apply};
pub use describe::{VersionSummary, changes, summarize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::minisig::{
    KeyId, KeySet, MAX_SIGNATURE_BYTES, OfferedSignature, PublicKey, read_small_bytes,
};
use crate::name::Name;
use crate::time::{Duration, Timestamp};

/// The schema string.
pub const SCHEMA: &str = "ferry.trust/v1";
/// Where a bundle carries the chain (first in the stream).
pub const BUNDLE_DIR: &str = "ferry/trust";
/// Where a mirror keeps and serves the chain.
pub const MIRROR_DIR: &str = "trust";
/// Largest trust document or Sigstore root read.
pub const MAX_TRUST_BYTES: u64 = 1024 * 1024;
/// Most versions one chain may hold (a bound on what is read).
pub const MAX_VERSIONS: usize = 1000;
/// Most signatures per version.
pub const MAX_SIGNATURES_PER_VERSION: usize = 32;

/// Keys and threshold of a role that signs with a threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdKeys {
    /// Base64 lines of minisign public keys.
    pub keys: Vec<String>,
    /// Distinct keys required.
    pub threshold: u64,
}

/// The vendor role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorKeys {
    /// Base64 lines of the vendor's minisign public keys.
    pub minisign_keys: Vec<String>,
}

/// The transfer (organisation) role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferKeys {
    /// Base64 lines of the org keys.
    pub keys: Vec<String>,
    /// Distinct keys required on a manifest.
    pub threshold: u64,
    /// Longest validity a manifest may claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_validity: Option<Duration>,
}

/// The mirror role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorKeys {
    /// Base64 lines of the keys that sign the mirror index and feed.
    pub keys: Vec<String>,
}

/// A file the chain carries beside a version (the Sigstore trusted root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// `trust/sigstore/<version>.trusted_root.json`.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
}

/// One version of the trust chain, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustDoc {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// The version: 2 follows the policy file (version 1).
    pub version: u64,
    /// When it was written.
    pub created: Timestamp,
    /// When it stops counting (`null`: never).
    #[serde(default)]
    pub expires: Option<Timestamp>,
    /// Keys that may sign the next version.
    pub root: ThresholdKeys,
    /// The vendor's keys, if this version names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<VendorKeys>,
    /// The org keys, if this version names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferKeys>,
    /// The mirror keys, if this version names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorKeys>,
    /// A Sigstore trusted root travelling with this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore_trusted_root: Option<FileRef>,
}

impl TrustDoc {
    /// Parses a version strictly (SPEC §3): schema, unknown fields,
    /// duplicate keys, and every key a minisign Ed25519 public key.
    ///
    /// # Errors
    /// [`Error::Format`] naming the field.
    pub fn parse(bytes: &[u8], doc: &str) -> Result<Self> {
        let d: TrustDoc = crate::json::parse_document(bytes, doc, SCHEMA)?;
        if d.version < 2 {
            return Err(Error::format(
                doc,
                "version",
                format!(
                    "{} is not a chain version: version 1 is the trust policy file itself, the chain starts at 2",
                    d.version
                ),
            ));
        }
        d.root_keys(doc)?;
        if let Some(v) = &d.vendor {
            keyset(&v.minisign_keys, doc, "vendor.minisign_keys")?;
        }
        if let Some(t) = &d.transfer {
            let keys = keyset(&t.keys, doc, "transfer.keys")?;
            check_threshold(t.threshold, keys.len(), doc, "transfer.threshold")?;
        }
        if let Some(m) = &d.mirror {
            keyset(&m.keys, doc, "mirror.keys")?;
        }
        if let Some(r) = &d.sigstore_trusted_root {
            let expected = sigstore_root_path(d.version);
            if r.path != expected {
                return Err(Error::format(
                    doc,
                    "sigstore_trusted_root.path",
                    format!("must be \"{expected}\""),
                ));
            }
        }
        Ok(d)
    }

    /// The bytes `ferry trust new` writes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::json::to_document_bytes(self)
    }

    /// The root keys and threshold of this version.
    ///
    /// # Errors
    /// [`Error::Format`] when a key is malformed or the threshold impossible.
    pub fn root_keys(&self, doc: &str) -> Result<(KeySet, usize)> {
        let keys = keyset(&self.root.keys, doc, "root.keys")?;
        let t = check_threshold(self.root.threshold, keys.len(), doc, "root.threshold")?;
        Ok((keys, t))
    }
}

/// The file name of a version in a chain folder.
#[must_use]
pub fn doc_name(version: u64) -> String {
    format!("{version}.json")
}

/// The file name of one signature over a version.
#[must_use]
pub fn signature_name(version: u64, key: KeyId) -> String {
    format!("{version}.{key}.minisig")
}

/// Where a version's Sigstore trusted root lives, relative to the mirror
/// (and, without the leading `trust/`, to any chain folder).
#[must_use]
pub fn sigstore_root_path(version: u64) -> String {
    format!("{MIRROR_DIR}/sigstore/{version}.trusted_root.json")
}

/// The trusted comment of every signature over a version (SPEC §3.11).
#[must_use]
pub fn comment(product: &Name, version: u64, sha256: &Sha256Digest) -> String {
    format!("ferry-trust product={product} version={version} sha256={sha256}")
}

pub(crate) fn keyset(list: &[String], doc: &str, field: &str) -> Result<KeySet> {
    let mut keys = Vec::with_capacity(list.len());
    for (i, k) in list.iter().enumerate() {
        let what = format!("{doc}: {field}[{i}]");
        keys.push(PublicKey::from_base64(k, &what)?);
    }
    KeySet::new(keys).map_err(|m| Error::format(doc, field, m))
}

fn check_threshold(t: u64, keys: usize, doc: &str, field: &str) -> Result<usize> {
    let n = usize::try_from(t).unwrap_or(usize::MAX);
    if n < 1 || n > keys {
        return Err(Error::format(
            doc,
            field,
            format!("{t} with {keys} distinct key(s): it must be between 1 and the number of keys"),
        ));
    }
    Ok(n)
}

/// One version offered for application, with whatever signatures and
/// Sigstore root came with it.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    /// The version its file name claims.
    pub version: u64,
    /// Where it came from (for messages), e.g. `ferry/trust/2.json`.
    pub name: String,
    /// The document's bytes.
    pub bytes: Vec<u8>,
    /// Signatures offered over it.
    pub signatures: Vec<OfferedSignature>,
    /// The Sigstore trusted root carried beside it.
    pub sigstore_root: Option<Arc<Vec<u8>>>,
}

/// Which file of a chain folder a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainFile {
    /// `<n>.json`.
    Doc(u64),
    /// `<n>.<KEYID>.minisig`.
    Signature(u64),
    /// `sigstore/<n>.trusted_root.json`.
    SigstoreRoot(u64),
}

impl ChainFile {
    /// Names a file by its path inside the chain folder, or `None` when it
    /// is not a chain file.
    #[must_use]
    pub fn of(rel: &str) -> Option<Self> {
        if let Some(rest) = rel.strip_prefix("sigstore/") {
            return rest
                .strip_suffix(".trusted_root.json")
                .and_then(version_of)
                .map(ChainFile::SigstoreRoot);
        }
        if let Some(v) = rel.strip_suffix(".json") {
            return version_of(v).map(ChainFile::Doc);
        }
        let (v, rest) = rel.split_once('.')?;
        let id = rest.strip_suffix(".minisig")?;
        KeyId::parse(id).ok()?;
        version_of(v).map(ChainFile::Signature)
    }

    /// The version it belongs to.
    #[must_use]
    pub fn version(self) -> u64 {
        match self {
            ChainFile::Doc(v) | ChainFile::Signature(v) | ChainFile::SigstoreRoot(v) => v,
        }
    }
}

fn version_of(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0')
    {
        return None;
    }
    s.parse().ok()
}

/// Gathers a chain's files, in any order, into [`Candidate`]s.
#[derive(Debug, Default)]
pub struct Collector {
    by_version: BTreeMap<u64, Candidate>,
    files: usize,
}

impl Collector {
    /// Adds one file; `rel` is its path inside the chain folder, `name` its
    /// full name for messages.
    ///
    /// # Errors
    /// [`Error::Format`] for a name that is not a chain file, a file too
    /// large, or more files than a chain may hold.
    pub fn add(&mut self, rel: &str, name: &str, bytes: Vec<u8>) -> Result<()> {
        let Some(kind) = ChainFile::of(rel) else {
            return Err(Error::format(
                name,
                "(name)",
                "not a trust-chain file (<n>.json, <n>.<KEYID>.minisig or sigstore/<n>.trusted_root.json)",
            ));
        };
        let limit = match kind {
            ChainFile::Signature(_) => MAX_SIGNATURE_BYTES as u64,
            _ => MAX_TRUST_BYTES,
        };
        if bytes.len() as u64 > limit {
            return Err(Error::DocumentTooLarge {
                doc: name.to_string(),
                limit,
            });
        }
        self.files += 1;
        if self.files > MAX_VERSIONS * (MAX_SIGNATURES_PER_VERSION + 2) {
            return Err(Error::format(name, "(chain)", "too many trust-chain files"));
        }
        let c = self
            .by_version
            .entry(kind.version())
            .or_insert_with(|| Candidate {
                version: kind.version(),
                ..Candidate::default()
            });
        match kind {
            ChainFile::Doc(_) => {
                c.name = name.to_string();
                c.bytes = bytes;
            }
            ChainFile::Signature(_) => {
                if c.signatures.len() >= MAX_SIGNATURES_PER_VERSION {
                    return Err(Error::format(
                        name,
                        "(chain)",
                        format!(
                            "more than {MAX_SIGNATURES_PER_VERSION} signatures over one version"
                        ),
                    ));
                }
                c.signatures.push(OfferedSignature {
                    name: name.to_string(),
                    bytes,
                });
            }
            ChainFile::SigstoreRoot(_) => c.sigstore_root = Some(Arc::new(bytes)),
        }
        Ok(())
    }

    /// The candidates, oldest first.
    ///
    /// # Errors
    /// [`Error::Format`] when signatures or a Sigstore root came without
    /// their version's document.
    pub fn finish(self) -> Result<Vec<Candidate>> {
        let mut out = Vec::with_capacity(self.by_version.len());
        for (v, c) in self.by_version {
            if c.name.is_empty() {
                return Err(Error::format(
                    format!("trust chain version {v}"),
                    "(chain)",
                    format!("signatures without the document {}", doc_name(v)),
                ));
            }
            out.push(c);
        }
        Ok(out)
    }

    /// Whether nothing was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_version.is_empty()
    }
}

/// The files of applied versions, as a chain folder holds them: each
/// version's document, the signatures that counted (named by key id) and
/// its Sigstore root. Paths are relative to the chain folder.
///
/// # Errors
/// [`Error::Signature`] if a kept signature no longer parses (never for
/// versions [`apply`] returned).
pub fn chain_files(chain: &[Arc<Applied>]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for a in chain {
        out.push((doc_name(a.version), a.bytes.clone()));
        for s in &a.signatures {
            let id = crate::minisig::SignatureFile::parse(&s.bytes, &s.name)?.key_id();
            out.push((signature_name(a.version, id), s.bytes.clone()));
        }
        if let Some(root) = &a.sigstore_root {
            out.push((
                format!("sigstore/{}.trusted_root.json", a.version),
                root.as_ref().clone(),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// Reads a chain folder (a workspace's `--trust-chain`, a mirror's
/// `trust/`, a state folder). A missing folder is an empty chain; files
/// that are not chain files are ignored.
///
/// # Errors
/// [`Error::Io`] for an unreadable folder or file.
pub fn read_dir(dir: &Path) -> Result<Vec<Candidate>> {
    let mut c = Collector::default();
    for sub in ["", "sigstore"] {
        let d = if sub.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(sub)
        };
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&d, "list the trust chain", e)),
        };
        let mut names: Vec<String> = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io(&d, "list the trust chain", e))?;
            if e.file_type().is_ok_and(|t| t.is_file())
                && let Some(n) = e.file_name().to_str()
            {
                names.push(n.to_string());
            }
        }
        names.sort();
        for n in names {
            let rel = if sub.is_empty() {
                n.clone()
            } else {
                format!("{sub}/{n}")
            };
            if ChainFile::of(&rel).is_none() {
                continue;
            }
            let path = d.join(&n);
            let bytes = read_small_bytes(&path, MAX_TRUST_BYTES)?;
            c.add(&rel, &path.display().to_string(), bytes)?;
        }
    }
    c.finish()
}
