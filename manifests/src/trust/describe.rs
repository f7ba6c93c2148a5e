//! What a chain says, for people: each version's key changes against the
//! one before (`ferry trust show`, `ferry-verify report`).

use serde::Serialize;

use super::{MirrorKeys, SCHEMA, ThresholdKeys, TransferKeys, TrustDoc, VendorKeys};
use crate::digest::Sha256Digest;
use crate::minisig::{KeySet, PublicKey};
use crate::policy::TrustPolicy;
use crate::time::Timestamp;

impl TrustDoc {
    /// The policy file as version 1 (its keys as base64 lines): what
    /// `ferry trust new --from POLICY` copies and what version 2 is
    /// compared with. `None` when the policy has no `[root]`.
    #[must_use]
    pub fn from_policy(p: &TrustPolicy) -> Option<TrustDoc> {
        let b64 = |keys: &KeySet| -> Vec<String> {
            keys.keys().iter().map(|k| k.base64().to_string()).collect()
        };
        let root = p.root.as_ref()?;
        Some(TrustDoc {
            schema: SCHEMA.to_string(),
            product: p.product.clone(),
            version: 1,
            created: Timestamp::from_unix(0),
            expires: None,
            root: ThresholdKeys {
                keys: b64(&root.keys),
                threshold: root.threshold as u64,
            },
            vendor: p.vendor.as_ref().map(|v| VendorKeys {
                minisign_keys: b64(&v.minisign_keys),
            }),
            transfer: p.transfer.as_ref().map(|t| TransferKeys {
                keys: b64(&t.keys),
                threshold: t.threshold as u64,
                max_validity: t.max_validity,
            }),
            mirror: p.mirror.as_ref().map(|m| MirrorKeys { keys: b64(&m.keys) }),
            sigstore_trusted_root: None,
        })
    }
}

/// One applied version, described.
#[derive(Debug, Clone, Serialize)]
pub struct VersionSummary {
    /// The version.
    pub version: u64,
    /// SHA-256 of its document.
    pub sha256: Sha256Digest,
    /// Key ids of the previous version's root keys that signed it.
    pub signed_by_previous: Vec<String>,
    /// Key ids of its own root keys that signed it.
    pub signed_by_own: Vec<String>,
    /// Keys added and dropped per role, one line each.
    pub changes: Vec<String>,
}

/// Every version the policy has applied, described against the one
/// before (version 2 against the policy file).
#[must_use]
pub fn summarize(policy: &TrustPolicy) -> Vec<VersionSummary> {
    let mut before = policy.version1.as_deref().cloned();
    let mut out = Vec::new();
    for a in &policy.chain {
        out.push(VersionSummary {
            version: a.version,
            sha256: a.sha256,
            signed_by_previous: a
                .signed_by_previous
                .iter()
                .map(ToString::to_string)
                .collect(),
            signed_by_own: a.signed_by_own.iter().map(ToString::to_string).collect(),
            changes: changes(before.as_ref(), &a.doc),
        });
        before = Some(a.doc.clone());
    }
    out
}

/// A role's name, its key ids now, and before.
type RoleKeys<'a> = (&'a str, Option<Vec<String>>, Option<Vec<String>>);

/// Keys added and dropped per role from `before` to `doc` (every key when
/// there is nothing before).
#[must_use]
pub fn changes(before: Option<&TrustDoc>, doc: &TrustDoc) -> Vec<String> {
    let ids = |keys: &[String]| -> Vec<String> {
        keys.iter()
            .filter_map(|k| PublicKey::from_base64(k, "key").ok())
            .map(|k| k.id().to_string())
            .collect()
    };
    let roles: [RoleKeys<'_>; 4] = [
        (
            "root",
            Some(ids(&doc.root.keys)),
            before.map(|b| ids(&b.root.keys)),
        ),
        (
            "vendor",
            doc.vendor.as_ref().map(|v| ids(&v.minisign_keys)),
            before.and_then(|b| b.vendor.as_ref().map(|v| ids(&v.minisign_keys))),
        ),
        (
            "transfer",
            doc.transfer.as_ref().map(|t| ids(&t.keys)),
            before.and_then(|b| b.transfer.as_ref().map(|t| ids(&t.keys))),
        ),
        (
            "mirror",
            doc.mirror.as_ref().map(|m| ids(&m.keys)),
            before.and_then(|b| b.mirror.as_ref().map(|m| ids(&m.keys))),
        ),
    ];
    let mut out = Vec::new();
    for (role, now, was) in roles {
        let Some(now) = now else { continue };
        match was {
            None => out.push(format!("{role}: keys {}", now.join(", "))),
            Some(was) => {
                for k in now.iter().filter(|k| !was.contains(k)) {
                    out.push(format!("{role}: added key {k}"));
                }
                for k in was.iter().filter(|k| !now.contains(k)) {
                    out.push(format!(
                        "{role}: dropped key {k} (it counts nowhere once applied)"
                    ));
                }
            }
        }
    }
    if let (Some(b), Some(t)) = (before.and_then(|b| b.transfer.as_ref()), &doc.transfer)
        && b.threshold != t.threshold
    {
        out.push(format!(
            "transfer: threshold {} -> {}",
            b.threshold, t.threshold
        ));
    }
    if let Some(b) = before
        && b.root.threshold != doc.root.threshold
    {
        out.push(format!(
            "root: threshold {} -> {}",
            b.root.threshold, doc.root.threshold
        ));
    }
    if let Some(r) = &doc.sigstore_trusted_root {
        out.push(format!(
            "sigstore trusted root {} (sha256 {})",
            r.path, r.sha256
        ));
    }
    out
}
