//! The mirror's trust chain, read before its index is trusted (SPEC
//! §3.11): versions after the one this host applied, fetched one by one
//! from `trust/` (`N.json`, then `N.KEYID.minisig` for every root key of
//! version N−1 and N) until the next is not there. Whether they count is
//! decided by `ferry_manifests::trust::apply`, the one home of the rules.

use ferry_manifests::minisig::{KeyId, OfferedSignature};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::trust::{
    Candidate, MAX_TRUST_BYTES, MAX_VERSIONS, MIRROR_DIR, TrustDoc, doc_name, signature_name,
};
use ferry_mirror_layout::error::{Error, Result};

use crate::MirrorSource;

/// The versions the mirror serves beyond the policy's newest applied one.
///
/// # Errors
/// [`Error::Io`] when the mirror cannot be read (other than a version not
/// being there), a format error for a damaged document.
pub fn fetch(source: &dyn MirrorSource, policy: &TrustPolicy) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    let mut previous_root: Vec<KeyId> = policy
        .root_keys()
        .map(|(k, _)| k.keys().iter().map(|k| k.id()).collect())
        .unwrap_or_default();
    let mut version = policy.trust_version() + 1;
    while out.len() < MAX_VERSIONS {
        let rel = format!("{MIRROR_DIR}/{}", doc_name(version));
        let bytes = match source.read_small(&rel, MAX_TRUST_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(Error::io(source.location(&rel), "read", e)),
        };
        let name = source.location(&rel);
        let doc = TrustDoc::parse(&bytes, &name)?;
        let own: Vec<KeyId> = doc
            .root_keys(&name)?
            .0
            .keys()
            .iter()
            .map(|k| k.id())
            .collect();
        let mut ids = previous_root.clone();
        ids.extend(own.iter().copied().filter(|k| !previous_root.contains(k)));
        let mut signatures = Vec::new();
        for id in ids {
            let rel = format!("{MIRROR_DIR}/{}", signature_name(version, id));
            match source.read_small(&rel, ferry_manifests::minisig::MAX_SIGNATURE_BYTES as u64) {
                Ok(b) => signatures.push(OfferedSignature {
                    name: source.location(&rel),
                    bytes: b,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(source.location(&rel), "read", e)),
            }
        }
        let sigstore_root = match &doc.sigstore_trusted_root {
            Some(r) => Some(std::sync::Arc::new(
                source
                    .read_small(&r.path, MAX_TRUST_BYTES)
                    .map_err(|e| Error::io(source.location(&r.path), "read", e))?,
            )),
            None => None,
        };
        out.push(Candidate {
            version,
            name,
            bytes,
            signatures,
            sigstore_root,
        });
        previous_root = own;
        version += 1;
    }
    Ok(out)
}
