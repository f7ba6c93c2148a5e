//! The trust chain's rules (SPEC §3.11), in one place.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Candidate, TrustDoc, comment, keyset};
use crate::decide::{self, Counter, Freshness, Refusal, Rule, Seen};
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::minisig::{KeyId, KeySet, OfferedSignature, verify_threshold};
use crate::policy::{MirrorPolicy, TransferPolicy, TrustPolicy, VendorPolicy};
use crate::release::SigKind;
use crate::time::Timestamp;

/// One applied version: the document, its bytes and who signed it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Its version.
    pub version: u64,
    /// Where it came from.
    pub name: String,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
    /// The document.
    pub doc: TrustDoc,
    /// Its bytes, as signed.
    pub bytes: Vec<u8>,
    /// The signatures that counted (by the previous root or its own).
    pub signatures: Vec<OfferedSignature>,
    /// Distinct keys of the previous version's root that signed it.
    pub signed_by_previous: Vec<KeyId>,
    /// Distinct keys of its own root that signed it.
    pub signed_by_own: Vec<KeyId>,
    /// Its root keys, resolved.
    pub root_keys: KeySet,
    /// Its root threshold.
    pub root_threshold: usize,
    /// The Sigstore trusted root it carries.
    pub sigstore_root: Option<Arc<Vec<u8>>>,
}

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The effective policy: the policy file and every applied version.
    pub policy: TrustPolicy,
    /// Versions applied by this call, oldest first.
    pub applied: Vec<u64>,
}

/// Applies the offered versions over `policy` (SPEC §3.11): version N+1
/// needs the threshold of version N's root keys **and** of its own; one
/// version at a time, never skipped; a version already applied must be the
/// same document (a repeat changes nothing, other bytes are equivocation);
/// the newest must not be expired. Candidates may come from several
/// sources at once (state, mirror, bundle) in any order.
///
/// # Errors
/// [`Error::Refused`] (a named rule), [`Error::Threshold`],
/// [`Error::Format`] or [`Error::Policy`]: all exit 1. Nothing is applied
/// when any version fails.
pub fn apply(policy: &TrustPolicy, candidates: Vec<Candidate>, now: Timestamp) -> Result<Outcome> {
    let mut out = Outcome {
        policy: policy.clone(),
        applied: Vec::new(),
    };
    for c in merge(candidates)? {
        let current = out.policy.trust_version();
        let sha256 = Sha256Digest::of(&c.bytes);
        if c.version <= current {
            known(&out.policy, &c, sha256)?;
            continue;
        }
        if c.version > current + 1 {
            return Err(Refusal::new(
                &c.name,
                Rule::TrustVersionSkipped {
                    offered: c.version,
                    applied: current,
                },
            )
            .advise("bring every version in between (ferry trust show lists a chain)")
            .into());
        }
        let applied = verify_next(&out.policy, c, sha256)?;
        out.policy = with_version(&out.policy, applied)?;
        out.applied.push(current + 1);
    }
    if let Some(last) = out.policy.chain.last()
        && let Some(expires) = last.doc.expires
    {
        decide::validity(&last.name, None, expires, now, None).map_err(|r| {
            Error::from(r.advise(
                "the root key holders must sign a newer version (ferry trust new, ferry trust sign)",
            ))
        })?;
    }
    Ok(out)
}

/// Candidates by version; two sources of one version must agree (their
/// signatures are pooled), two different documents are equivocation.
fn merge(candidates: Vec<Candidate>) -> Result<Vec<Candidate>> {
    let mut by: BTreeMap<u64, Candidate> = BTreeMap::new();
    for c in candidates {
        match by.get_mut(&c.version) {
            None => {
                by.insert(c.version, c);
            }
            Some(prev) if prev.bytes == c.bytes => {
                for s in c.signatures {
                    if !prev.signatures.iter().any(|p| p.bytes == s.bytes) {
                        prev.signatures.push(s);
                    }
                }
                if prev.sigstore_root.is_none() {
                    prev.sigstore_root = c.sigstore_root;
                }
            }
            Some(prev) => {
                return Err(Refusal::new(
                    &c.name,
                    Rule::Equivocation {
                        counter: Counter::TrustVersion,
                        value: c.version.to_string(),
                        accepted: Sha256Digest::of(&prev.bytes),
                        offered: Sha256Digest::of(&c.bytes),
                    },
                )
                .advise(format!(
                    "{} and {} are two different documents with one version: suspect a stolen root key",
                    prev.name, c.name
                ))
                .into());
            }
        }
    }
    Ok(by.into_values().collect())
}

/// A version at or below the newest applied one: the same document is a
/// repeat (ignored), another is equivocation.
fn known(policy: &TrustPolicy, c: &Candidate, sha256: Sha256Digest) -> Result<()> {
    let Some(index) = c.version.checked_sub(2) else {
        return Err(Error::format(
            &c.name,
            "version",
            "version 1 is the trust policy file itself; the chain starts at 2",
        ));
    };
    let Some(accepted) = usize::try_from(index)
        .ok()
        .and_then(|i| policy.chain.get(i))
    else {
        return Ok(());
    };
    let offered = Seen {
        value: c.version,
        sha256: Some(sha256),
    };
    let before = Seen {
        value: c.version,
        sha256: Some(accepted.sha256),
    };
    match decide::freshness(&c.name, Counter::TrustVersion, &offered, Some(&before)) {
        Ok(Freshness::Repeat | Freshness::New) => Ok(()),
        Err(r) => Err(r
            .advise("two different documents carry one version: suspect a stolen root key")
            .into()),
    }
}

/// Version N+1: parsed, for this product, signed by the threshold of
/// version N's root and of its own.
fn verify_next(policy: &TrustPolicy, c: Candidate, sha256: Sha256Digest) -> Result<Applied> {
    let Some((old_keys, old_t)) = policy.root_keys() else {
        return Err(Refusal::new(&c.name, Rule::TrustNoRoot)
            .advise(format!(
                "add a [root] section to {} to accept key changes, or remove the trust chain",
                policy.path.display()
            ))
            .into());
    };
    let doc = TrustDoc::parse(&c.bytes, &c.name)?;
    if doc.version != c.version {
        return Err(Error::format(
            &c.name,
            "version",
            format!(
                "{} inside a file named for version {}",
                doc.version, c.version
            ),
        ));
    }
    if doc.product != policy.product {
        return Err(Error::policy(
            &c.name,
            format!(
                "a trust chain for product \"{}\"; this policy is for \"{}\"",
                doc.product, policy.product
            ),
        ));
    }
    let tc = comment(&doc.product, doc.version, &sha256);
    let prev = verify_threshold(
        &old_keys,
        old_t,
        &c.bytes,
        &tc,
        &c.signatures,
        &format!(
            "{} (signatures by version {}'s root keys)",
            c.name,
            doc.version - 1
        ),
    )?;
    let (root_keys, root_threshold) = doc.root_keys(&c.name)?;
    let own = verify_threshold(
        &root_keys,
        root_threshold,
        &c.bytes,
        &tc,
        &c.signatures,
        &format!("{} (signatures by its own root keys)", c.name),
    )?;
    if let Some(r) = &doc.sigstore_trusted_root {
        let ok = c
            .sigstore_root
            .as_ref()
            .is_some_and(|b| Sha256Digest::of(b) == r.sha256);
        if !ok {
            return Err(Error::policy(
                &c.name,
                format!(
                    "names the Sigstore trusted root {} (sha256 {}), which did not come with it or has other bytes",
                    r.path, r.sha256
                ),
            ));
        }
    }
    let signatures = c
        .signatures
        .into_iter()
        .filter(|s| {
            !prev.ignored.iter().any(|(n, _)| *n == s.name)
                || !own.ignored.iter().any(|(n, _)| *n == s.name)
        })
        .collect();
    Ok(Applied {
        version: doc.version,
        name: c.name,
        sha256,
        signatures,
        signed_by_previous: prev.valid,
        signed_by_own: own.valid,
        root_keys,
        root_threshold,
        sigstore_root: if doc.sigstore_trusted_root.is_some() {
            c.sigstore_root
        } else {
            None
        },
        bytes: c.bytes,
        doc,
    })
}

/// The policy with one more version applied: each role the version names
/// takes its keys (and thresholds); local pins stay the policy file's.
fn with_version(policy: &TrustPolicy, a: Applied) -> Result<TrustPolicy> {
    let mut p = policy.clone();
    let doc = &a.doc;
    let name = a.name.as_str();
    if let Some(v) = &doc.vendor {
        let keys = keyset(&v.minisign_keys, name, "vendor.minisign_keys")?;
        match &mut p.vendor {
            Some(vp) => vp.minisign_keys = keys,
            None => p.vendor = Some(vendor_from_chain(keys)),
        }
    }
    if let (Some(root), Some(bytes)) = (&doc.sigstore_trusted_root, &a.sigstore_root) {
        let _ = root;
        let vp = p
            .vendor
            .get_or_insert_with(|| vendor_from_chain(KeySet::default()));
        vp.sigstore_chain_root = Some((a.version, Arc::clone(bytes)));
    }
    if let Some(t) = &doc.transfer {
        let keys = keyset(&t.keys, name, "transfer.keys")?;
        let threshold = usize::try_from(t.threshold).unwrap_or(usize::MAX);
        let max_validity = t
            .max_validity
            .or(p.transfer.as_ref().and_then(|x| x.max_validity));
        p.transfer = Some(TransferPolicy {
            keys,
            threshold,
            max_validity,
        });
    }
    if let Some(m) = &doc.mirror {
        let keys = keyset(&m.keys, name, "mirror.keys")?;
        match &mut p.mirror {
            Some(mp) => mp.keys = keys,
            None => {
                p.mirror = Some(MirrorPolicy {
                    keys,
                    channels: Vec::new(),
                    profiles: Vec::new(),
                });
            }
        }
    }
    p.chain.push(Arc::new(a));
    Ok(p)
}

fn vendor_from_chain(keys: KeySet) -> VendorPolicy {
    VendorPolicy {
        minisign_keys: keys,
        require: vec![SigKind::Minisign],
        legacy: crate::minisig::Legacy::Refuse,
        sigstore_trusted_root: None,
        sigstore_identities: Vec::new(),
        sigstore_chain_root: None,
    }
}
