//! Upstream signatures that come after their artifact (SPEC §3.6, issue
//! 10): any order, still one pass. The artifact's bytes are hashed as they
//! stream by — SHA-256 always, and the minisign prehash (BLAKE2b-512) when
//! a `.minisig` is still to come — and each signature is checked when it
//! arrives, against those digests ([`ferry_manifests::prehash`]). Memory:
//! 64 bytes per artifact waiting for its signature.

use std::collections::{HashMap, HashSet};

use ferry_manifests::decide::{self, VendorChecks};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::{BatchVerifier, KeyId, SignatureFile};
use ferry_manifests::policy::VendorPolicy;
use ferry_manifests::release::SigKind;

use crate::error::{Error, Result};

/// A signature an artifact's plan did not have yet.
#[derive(Debug, Clone)]
pub(crate) enum Awaited {
    /// A vendor minisign signature by the declared key.
    Minisign {
        /// Its path in the bundle.
        path: String,
        /// The key id the manifest declares.
        key_id: KeyId,
    },
    /// A Sigstore bundle over the artifact's digest.
    Sigstore {
        /// Its path in the bundle.
        path: String,
    },
}

impl Awaited {
    fn path(&self) -> &str {
        match self {
            Awaited::Minisign { path, .. } | Awaited::Sigstore { path } => path,
        }
    }
}

/// What an artifact that streamed by leaves for its late signatures.
#[derive(Debug, Clone)]
pub(crate) struct Hashed {
    pub(crate) artifact: String,
    pub(crate) sha256: Sha256Digest,
    pub(crate) prehash: Option<[u8; 64]>,
}

/// The signatures still awaited, and what each artifact has passed so far.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    waiting: HashMap<String, (Awaited, Hashed)>,
    left: HashMap<String, usize>,
    passed: HashMap<String, HashSet<SigKind>>,
}

impl Deferred {
    /// An artifact's plan found these signatures (true: at least one of
    /// `kind` was checked already).
    pub(crate) fn passed_in_plan(&mut self, artifact: &str, kind: SigKind) {
        self.passed
            .entry(artifact.to_string())
            .or_default()
            .insert(kind);
    }

    /// An artifact streamed by; `awaited` signatures come later. Those
    /// already in `arrived` (a parallel carrier's batch) are checked now.
    pub(crate) fn artifact_done(
        &mut self,
        vendor: &VendorPolicy,
        batch: &mut BatchVerifier,
        hashed: &Hashed,
        awaited: Vec<Awaited>,
        arrived: &mut HashMap<String, Vec<u8>>,
        notes: &mut Vec<String>,
    ) -> Result<()> {
        self.left.insert(hashed.artifact.clone(), awaited.len());
        for a in awaited {
            if let Some(bytes) = arrived.remove(a.path()) {
                self.check(vendor, batch, &a, hashed, &bytes, notes)?;
            } else {
                self.waiting
                    .insert(a.path().to_string(), (a, hashed.clone()));
            }
        }
        Ok(())
    }

    /// An upstream signature file streamed by. Returns the artifact whose
    /// check it completed (for its notes), or `None` if no artifact is
    /// waiting for it (it came first: the plan of its artifact takes it).
    pub(crate) fn signature_done(
        &mut self,
        vendor: &VendorPolicy,
        batch: &mut BatchVerifier,
        path: &str,
        bytes: &[u8],
        notes: &mut Vec<String>,
    ) -> Result<Option<String>> {
        let Some((a, hashed)) = self.waiting.remove(path) else {
            return Ok(None);
        };
        self.check(vendor, batch, &a, &hashed, bytes, notes)?;
        Ok(Some(hashed.artifact))
    }

    /// Checks one late signature; a minisign one's Ed25519 checks join
    /// `batch` (the check passes only once the batch finished).
    fn check(
        &mut self,
        vendor: &VendorPolicy,
        batch: &mut BatchVerifier,
        a: &Awaited,
        h: &Hashed,
        bytes: &[u8],
        notes: &mut Vec<String>,
    ) -> Result<()> {
        match a {
            Awaited::Minisign { path, key_id } => {
                let sig = SignatureFile::parse(bytes, path)?;
                if sig.key_id() != *key_id {
                    return Err(Error::bundle(
                        path.as_str(),
                        format!(
                            "made by key {}, but the manifest says key {key_id}",
                            sig.key_id()
                        ),
                    ));
                }
                match (vendor.minisign_keys.get(*key_id), &h.prehash) {
                    (Some(key), Some(prehash)) => {
                        batch.push(
                            key,
                            sig,
                            *prehash,
                            format!("{}: vendor signature {path}", h.artifact),
                        )?;
                        notes.push(format!(
                            "minisign {path}: valid, vendor key {key_id} (checked after the artifact)"
                        ));
                        self.passed_in_plan(&h.artifact, SigKind::Minisign);
                    }
                    (Some(_), None) => {
                        return Err(Error::bundle(
                            path.as_str(),
                            "arrived after its artifact, which was not prehashed (internal error; refused)",
                        ));
                    }
                    (None, _) => notes.push(format!(
                        "minisign {path}: not checked, key {key_id} is not a vendor key of this policy"
                    )),
                }
            }
            Awaited::Sigstore { path } => {
                if vendor.sigstore_ready() {
                    let o = ferry_manifests::sigstore::check_vendor_sigstore(
                        vendor, bytes, path, &h.sha256,
                    )?;
                    notes.push(format!(
                        "sigstore {path}: valid, identity {}, issuer {}, log index {}",
                        o.identity.as_deref().unwrap_or("(managed key)"),
                        o.issuer.as_deref().unwrap_or("-"),
                        o.log_index
                            .map_or_else(|| "-".to_string(), |i| i.to_string())
                    ));
                    self.passed_in_plan(&h.artifact, SigKind::Sigstore);
                } else {
                    notes.push(format!(
                        "sigstore {path}: not checked, the policy has no vendor.sigstore_trusted_root and identities"
                    ));
                }
            }
        }
        let left = self.left.entry(h.artifact.clone()).or_insert(1);
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.require(vendor, &h.artifact)?;
        }
        Ok(())
    }

    /// Once nothing is awaited for `artifact`: the policy's `require`.
    fn require(&self, vendor: &VendorPolicy, artifact: &str) -> Result<()> {
        let passed = self.passed.get(artifact);
        let has = |k: SigKind| passed.is_some_and(|p| p.contains(&k));
        let present = VendorChecks {
            minisign: has(SigKind::Minisign),
            sigstore: has(SigKind::Sigstore),
        };
        decide::vendor_checks(artifact, vendor, present).map_err(ferry_manifests::Error::from)?;
        Ok(())
    }

    /// At the end: nothing may still be awaited.
    pub(crate) fn finish(&self) -> Result<()> {
        if let Some((path, (_, h))) = self.waiting.iter().next() {
            return Err(Error::bundle(
                path.as_str(),
                format!(
                    "the upstream signature of {} never came (truncated or incomplete copy)",
                    h.artifact
                ),
            ));
        }
        Ok(())
    }
}
