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

/// A BLAKE2b-512 of a large stream, on a thread of its own fed copies of
/// the bytes: beside the caller's SHA-256 the two digests take the time of
/// the slower, not their sum (SPEC §6: the hand-off of a 256 MiB artifact
/// spent 46 % of its time in BLAKE2b after the SHA-256, issue 17). Falls
/// back to hashing inline if the thread cannot start.
#[derive(Debug)]
pub enum SidePrehasher {
    /// Hashed on the caller's thread.
    Inline(Prehasher),
    /// Hashed on a thread of its own.
    Thread {
        /// Copies of the bytes, at most [`SIDE_QUEUE`] chunks ahead.
        tx: std::sync::mpsc::SyncSender<Vec<u8>>,
        /// The hashing thread; its result is the prehash.
        handle: std::thread::JoinHandle<[u8; 64]>,
    },
}

/// Chunks queued for a [`SidePrehasher`]'s thread (memory stays bounded:
/// a few MiB with the callers' 256 KiB–1 MiB reads).
pub const SIDE_QUEUE: usize = 8;

impl SidePrehasher {
    /// On a thread of its own.
    #[must_use]
    pub fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(SIDE_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("ferry-blake2b".into())
            .spawn(move || {
                let mut h = Prehasher::new();
                for chunk in rx {
                    h.update(&chunk);
                }
                h.finish()
            });
        match spawned {
            Ok(handle) => SidePrehasher::Thread { tx, handle },
            Err(_) => SidePrehasher::Inline(Prehasher::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, buf: &[u8]) {
        match self {
            SidePrehasher::Inline(h) => h.update(buf),
            SidePrehasher::Thread { tx, .. } => {
                // The thread ends only by panicking; `finish` reports it.
                let _ = tx.send(buf.to_vec());
            }
        }
    }

    /// The prehash of everything fed, or `None` if the thread failed.
    #[must_use]
    pub fn finish(self) -> Option<[u8; 64]> {
        match self {
            SidePrehasher::Inline(h) => Some(h.finish()),
            SidePrehasher::Thread { tx, handle } => {
                drop(tx);
                handle.join().ok()
            }
        }
    }
}

impl Default for SidePrehasher {
    fn default() -> Self {
        Self::new()
    }
}

/// The decoded lines 2 and 4 of a signature file.
pub(crate) struct RawSignature {
    /// `ED` (prehashed) or `Ed` (legacy).
    pub(crate) algorithm: [u8; 2],
    pub(crate) key_id: [u8; 8],
    /// Over the message, or its BLAKE2b-512.
    pub(crate) signature: [u8; 64],
    /// Over `signature` || trusted comment.
    pub(crate) global: [u8; 64],
}

/// Decodes a signature file's lines 2 (algorithm, key id, signature) and
/// 4 (global signature); `None` unless exactly 74 and 64 bytes.
pub(crate) fn raw_signatures(line2: &str, line4: &str) -> Option<RawSignature> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let l2 = b64.decode(line2.trim()).ok()?;
    let l4 = b64.decode(line4.trim()).ok()?;
    if l2.len() != 74 || l4.len() != 64 {
        return None;
    }
    Some(RawSignature {
        algorithm: l2[..2].try_into().ok()?,
        key_id: l2[2..10].try_into().ok()?,
        signature: l2[10..74].try_into().ok()?,
        global: l4[..].try_into().ok()?,
    })
}

impl PublicKey {
    /// Verifies a prehashed signature against the BLAKE2b-512 `prehash` of
    /// the signed file, and its trusted comment, now. Many at once go
    /// faster through [`crate::minisig::BatchVerifier`].
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
        self.check_prehashed(sig, what)?;
        verify_strict(&self.vk, sig, prehash, what)
    }

    /// What a prehashed check refuses before any crypto: another key's
    /// signature, or a legacy one.
    ///
    /// # Errors
    /// [`Error::Signature`] naming `what`.
    pub fn check_prehashed(&self, sig: &SignatureFile, what: &str) -> Result<()> {
        self.check_id(sig, what)?;
        if !sig.is_prehashed() {
            return Err(Error::signature(
                what,
                "a legacy (non-prehashed) minisign signature that comes after its file cannot be checked in one pass: pack the bundle with signatures first (ferry pack), or have the vendor sign prehashed",
            ));
        }
        Ok(())
    }
}

/// minisign's check of a prehashed signature, one at a time: Ed25519
/// (strict: canonical `s`, no small-order `R` or key) over the 64-byte
/// prehash, then the global signature over the signature and the trusted
/// comment.
pub(crate) fn verify_strict(
    vk: &VerifyingKey,
    sig: &SignatureFile,
    prehash: &[u8; 64],
    what: &str,
) -> Result<()> {
    let ok = vk
        .verify_strict(prehash, &Signature::from_bytes(&sig.signature))
        .is_ok()
        && vk
            .verify_strict(&global_message(sig), &Signature::from_bytes(&sig.global))
            .is_ok();
    if ok { Ok(()) } else { Err(invalid(what)) }
}

/// What the global signature signs: the signature, then the trusted comment.
pub(crate) fn global_message(sig: &SignatureFile) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + sig.trusted_comment().len());
    m.extend_from_slice(&sig.signature);
    m.extend_from_slice(sig.trusted_comment().as_bytes());
    m
}

/// The refusal of a signature that does not verify.
pub(crate) fn invalid(what: &str) -> Error {
    Error::signature(
        what,
        "signature verification failed: the data or the trusted comment was altered, or another key made it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{MinisignCheck, StreamCheck};
    use crate::minisig::Legacy;

    /// A large stream's check (prehash on its own thread) passes the
    /// vendor's signature and refuses one flipped byte, as the inline
    /// check of a small stream does.
    #[test]
    fn a_large_stream_checks_its_signature_on_a_side_thread() {
        let (sk, pk, _dir) = crate::minisig::tests::pair();
        for len in [1000, 6 * 1024 * 1024 + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let text = sk.sign(&data[..], "file:x").unwrap();
            let sig = SignatureFile::parse(text.as_bytes(), "x.minisig").unwrap();
            let check = |bytes: &[u8]| {
                let mut c = StreamCheck::new(
                    "x",
                    None,
                    u64::try_from(len).unwrap(),
                    vec![MinisignCheck {
                        key: &pk,
                        sig: &sig,
                        legacy: Legacy::Refuse,
                        what: "x.minisig".into(),
                    }],
                )
                .unwrap();
                for chunk in bytes.chunks(256 * 1024) {
                    c.update(chunk).unwrap();
                }
                c.finish()
            };
            check(&data).unwrap_or_else(|e| panic!("{len}: {e}"));
            let mut bad = data.clone();
            bad[len / 2] ^= 1;
            assert!(check(&bad).is_err(), "{len}: a flipped byte passed");
        }
        let mut side = SidePrehasher::new();
        let mut inline = Prehasher::new();
        for chunk in [&b"abc"[..], &[7u8; 300_000][..], b""] {
            side.update(chunk);
            inline.update(chunk);
        }
        assert_eq!(side.finish(), Some(inline.finish()));
    }

    #[test]
    fn a_prehash_verifies_exactly_what_the_streaming_check_verifies() {
        let (sk, pk, _dir) = crate::minisig::tests::pair();
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
