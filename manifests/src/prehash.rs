//! Vendor minisign signatures checked against a BLAKE2b-512 computed
//! earlier (SPEC §3.6, issue 10): a bundle may carry an artifact before its
//! `.minisig` (GNU tar sorts names, so `x.deb` precedes `x.deb.minisig`).
//! A prehashed minisign signature signs the BLAKE2b-512 of the file, so
//! the one pass hashes the artifact as it streams by and checks the
//! signature when it arrives: no second read, constant memory.
//!
//! The check is minisign's own: Ed25519 over the 64-byte prehash with the
//! key, then the global signature over the signature and the trusted
//! comment. Legacy (non-prehashed) signatures sign the whole message and
//! cannot be checked this way.

use base64::Engine as _;
use blake2::Digest as _;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::error::{Error, Result};
use crate::minisig::{PublicKey, SignatureFile};

/// A running BLAKE2b-512, the minisign prehash.
#[derive(Clone, Default)]
pub struct Prehasher(blake2::Blake2b512);

impl Prehasher {
    /// A fresh hash.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, buf: &[u8]) {
        self.0.update(buf);
    }

    /// The prehash of everything fed.
    #[must_use]
    pub fn finish(self) -> [u8; 64] {
        self.0.finalize().into()
    }
}

impl std::fmt::Debug for Prehasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prehasher")
    }
}

/// The 64-byte Ed25519 signatures of a signature file's lines 2 and 4.
pub(crate) fn raw_signatures(line2: &str, line4: &str) -> Option<([u8; 64], [u8; 64])> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let l2 = b64.decode(line2.trim()).ok()?;
    let l4 = b64.decode(line4.trim()).ok()?;
    // line 2: algorithm (2) || key id (8) || signature (64)
    let sig: [u8; 64] = l2.get(10..74)?.try_into().ok()?;
    let global: [u8; 64] = l4.get(..64)?.try_into().ok()?;
    (l2.len() == 74 && l4.len() == 64).then_some((sig, global))
}

impl PublicKey {
    /// Verifies a prehashed signature against the BLAKE2b-512 `prehash` of
    /// the signed file, and its trusted comment.
    ///
    /// # Errors
    /// [`Error::Signature`] naming `what`: another key, a legacy signature,
    /// or a signature that does not verify.
    pub fn verify_prehash(
        &self,
        sig: &SignatureFile,
        prehash: &[u8; 64],
        what: &str,
    ) -> Result<()> {
        if sig.key_id() != self.id() {
            return Err(Error::signature(
                what,
                format!("made by key {}, not by key {}", sig.key_id(), self.id()),
            ));
        }
        if !sig.is_prehashed() {
            return Err(Error::signature(
                what,
                "a legacy (non-prehashed) minisign signature that comes after its file cannot be checked in one pass: pack the bundle with signatures first (ferry pack), or have the vendor sign prehashed",
            ));
        }
        let vk = VerifyingKey::from_bytes(self.raw())
            .map_err(|_| Error::signature(what, "the vendor key is not a valid Ed25519 point"))?;
        let fail = || {
            Error::signature(
                what,
                "signature verification failed: the data or the trusted comment was altered, or another key made it",
            )
        };
        vk.verify_strict(prehash, &Signature::from_bytes(&sig.signature))
            .map_err(|_| fail())?;
        let mut global_msg = sig.signature.to_vec();
        global_msg.extend_from_slice(sig.trusted_comment().as_bytes());
        vk.verify_strict(&global_msg, &Signature::from_bytes(&sig.global))
            .map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minisig::{Legacy, SecretKey, generate};

    #[test]
    fn a_prehash_verifies_exactly_what_the_streaming_check_verifies() {
        let g = generate(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        std::fs::write(&path, &g.secret).unwrap();
        let sk = SecretKey::from_file(&path, None).unwrap();
        let pk = PublicKey::from_text(&g.public, "pk").unwrap();
        let data = b"artifact bytes".repeat(1000);
        let text = sk.sign(&data[..], "timestamp:1\\tfile:x").unwrap();
        let sig = SignatureFile::parse(text.as_bytes(), "x.minisig").unwrap();
        pk.verify(&data, &sig, Legacy::Refuse, "x").unwrap();
        let mut h = Prehasher::new();
        h.update(&data[..7]);
        h.update(&data[7..]);
        let d = h.finish();
        pk.verify_prehash(&sig, &d, "x.minisig").unwrap();
        let mut bad = d;
        bad[0] ^= 1;
        assert!(pk.verify_prehash(&sig, &bad, "x.minisig").is_err());
        // Another trusted comment over the same signature: refused.
        let forged = text.replace("timestamp:1", "timestamp:2");
        let fsig = SignatureFile::parse(forged.as_bytes(), "x.minisig").unwrap();
        assert!(pk.verify_prehash(&fsig, &d, "x.minisig").is_err());
    }
}
