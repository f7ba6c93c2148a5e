//! Many prehashed minisign signatures checked together (issue 17): a
//! bundle of 5,000 small signed artifacts spent two thirds of its
//! verification in 10,000 one-at-a-time Ed25519 checks.
//!
//! [`BatchVerifier`] takes each signature once its file's BLAKE2b-512 is
//! known and refuses at once what needs no crypto (another key's
//! signature, a legacy one). The Ed25519 checks — the signature over the
//! prehash and the global signature over signature and trusted comment —
//! go in batches of [`BATCH`] to `ed25519-dalek`'s `verify_batch`, on a
//! second thread while the caller keeps reading and hashing; when that
//! thread is busy, the caller checks the batch itself, so both cores work
//! and memory stays bounded ([`QUEUED`] batches at most).
//!
//! A batch that fails is checked again one signature at a time with the
//! strict check ([`crate::prehash::verify_strict`]), so the error names the
//! file whose signature failed, exactly as a single check would.
//!
//! What the batch equation accepts: `verify_batch` checks a random linear
//! combination (128-bit weights derived from all inputs) of the Ed25519
//! equations. A signature made without the secret key passes with
//! negligible probability. It can differ from the one-at-a-time strict check
//! only for signatures with a small-order component in `R`, which only the
//! key's holder can make; keys themselves are refused when weak
//! ([`super::PublicKey::from_base64`]).
//!
//! Nothing is accepted until [`BatchVerifier::finish`] returned `Ok`:
//! callers must not act on a file's "valid" before then.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use ed25519_dalek::{Signature, VerifyingKey};

use super::{PublicKey, SignatureFile};
use crate::error::{Error, Result};
use crate::prehash::{global_message, verify_strict};

/// Signatures per batch (two Ed25519 checks each: 256 points, where
/// `verify_batch` costs ~18 µs a check here against ~45 µs one at a time).
pub(crate) const BATCH: usize = 128;
/// Batches waiting for the second thread at most.
pub(crate) const QUEUED: usize = 8;

/// One signature waiting for its Ed25519 checks.
struct Item {
    vk: VerifyingKey,
    sig: SignatureFile,
    prehash: [u8; 64],
    what: String,
}

/// The earliest failure found, by the order signatures were pushed.
type Found = Option<(usize, Error)>;

/// The second thread and how to reach it.
struct Worker {
    tx: SyncSender<(usize, Vec<Item>)>,
    handle: JoinHandle<Found>,
    failed: Arc<AtomicBool>,
}

/// Prehashed minisign signatures to check; see the module documentation.
#[derive(Default)]
pub struct BatchVerifier {
    pending: Vec<Item>,
    next: usize,
    worker: Option<Worker>,
    no_worker: bool,
}

impl std::fmt::Debug for BatchVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BatchVerifier({} pushed, {} pending)",
            self.next + self.pending.len(),
            self.pending.len()
        )
    }
}

impl BatchVerifier {
    /// An empty set of checks.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the check of `sig`, by `key`, over a file whose BLAKE2b-512 is
    /// `prehash`. `what` names the signature in errors.
    ///
    /// # Errors
    /// [`Error::Signature`] at once for another key's or a legacy
    /// signature; a failed Ed25519 check found so far (the rest are
    /// reported by [`BatchVerifier::finish`]).
    pub fn push(
        &mut self,
        key: &PublicKey,
        sig: SignatureFile,
        prehash: [u8; 64],
        what: String,
    ) -> Result<()> {
        key.check_prehashed(&sig, &what)?;
        self.pending.push(Item {
            vk: key.vk,
            sig,
            prehash,
            what,
        });
        if self.pending.len() < BATCH {
            return Ok(());
        }
        let items = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        let first = self.next;
        self.next += items.len();
        let batch = match self.worker() {
            Some(w) => match w.tx.try_send((first, items)) {
                Ok(()) => None,
                Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => Some(b),
            },
            None => Some((first, items)),
        };
        if let Some((first, items)) = batch
            && let Some((_, e)) = check_batch(first, &items)
        {
            return Err(e);
        }
        if self
            .worker
            .as_ref()
            .is_some_and(|w| w.failed.load(Ordering::Acquire))
        {
            return self.finish_worker();
        }
        Ok(())
    }

    /// Checks what is left and waits for the second thread.
    ///
    /// # Errors
    /// [`Error::Signature`] naming the first signature (in the order
    /// pushed) found not to verify.
    pub fn finish(mut self) -> Result<()> {
        let items = std::mem::take(&mut self.pending);
        let mine = check_batch(self.next, &items);
        let theirs = match self.finish_worker() {
            Ok(()) => None,
            Err(e) => Some((0, e)),
        };
        // The worker's batches all came before the last one.
        match theirs.or(mine) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// Stops the second thread and returns its earliest failure.
    fn finish_worker(&mut self) -> Result<()> {
        let Some(w) = self.worker.take() else {
            return Ok(());
        };
        drop(w.tx);
        match w.handle.join() {
            Ok(None) => Ok(()),
            Ok(Some((_, e))) => Err(e),
            Err(_) => Err(Error::signature(
                "vendor signatures",
                "the signature-checking thread failed (refused)",
            )),
        }
    }

    /// The second thread, started on the first full batch (none on a
    /// one-core machine, or when it cannot start: then the caller checks
    /// every batch itself).
    fn worker(&mut self) -> Option<&Worker> {
        if self.worker.is_none() && !self.no_worker {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let (tx, rx) = sync_channel(QUEUED);
            let failed = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&failed);
            let spawned = (cores > 1)
                .then(|| {
                    std::thread::Builder::new()
                        .name("ferry-ed25519".into())
                        .spawn(move || work(&rx, &flag))
                        .ok()
                })
                .flatten();
            match spawned {
                Some(handle) => {
                    self.worker = Some(Worker { tx, handle, failed });
                }
                None => self.no_worker = true,
            }
        }
        self.worker.as_ref()
    }
}

/// The second thread: checks batches until the first failure or the end.
fn work(rx: &Receiver<(usize, Vec<Item>)>, failed: &AtomicBool) -> Found {
    for (first, items) in rx {
        if let Some(f) = check_batch(first, &items) {
            failed.store(true, Ordering::Release);
            return Some(f);
        }
    }
    None
}

/// Checks `items` (numbered from `first`) together; on failure, one at a
/// time, to name the first that fails.
fn check_batch(first: usize, items: &[Item]) -> Found {
    if items.is_empty() {
        return None;
    }
    let globals: Vec<Vec<u8>> = items.iter().map(|i| global_message(&i.sig)).collect();
    let mut messages: Vec<&[u8]> = Vec::with_capacity(2 * items.len());
    let mut signatures = Vec::with_capacity(2 * items.len());
    let mut keys = Vec::with_capacity(2 * items.len());
    for (i, global) in items.iter().zip(&globals) {
        messages.push(&i.prehash);
        signatures.push(Signature::from_bytes(&i.sig.signature));
        keys.push(i.vk);
        messages.push(global);
        signatures.push(Signature::from_bytes(&i.sig.global));
        keys.push(i.vk);
    }
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return None;
    }
    items.iter().enumerate().find_map(|(k, i)| {
        verify_strict(&i.vk, &i.sig, &i.prehash, &i.what)
            .err()
            .map(|e| (first + k, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minisig::SecretKey;
    use crate::prehash::Prehasher;

    struct Signer {
        sk: SecretKey,
        pk: PublicKey,
        _dir: tempfile::TempDir,
    }

    fn signer() -> Signer {
        let (sk, pk, _dir) = crate::minisig::tests::pair();
        Signer { sk, pk, _dir }
    }

    fn prehash(data: &[u8]) -> [u8; 64] {
        let mut h = Prehasher::new();
        h.update(data);
        h.finish()
    }

    /// `n` signed files; `bad` says which get a wrong prehash.
    fn run(s: &Signer, n: usize, bad: &[usize], forged_comment: &[usize]) -> Result<()> {
        let mut b = BatchVerifier::new();
        for i in 0..n {
            let data = format!("file {i}").into_bytes();
            let mut text = s.sk.sign(&data[..], &format!("file:{i}")).unwrap();
            if forged_comment.contains(&i) {
                text = text.replace(&format!("file:{i}"), &format!("file:{}", i + 1));
            }
            let sig = SignatureFile::parse(text.as_bytes(), "x.minisig").unwrap();
            let mut ph = prehash(&data);
            if bad.contains(&i) {
                ph[0] ^= 1;
            }
            b.push(&s.pk, sig, ph, format!("f{i}.minisig"))?;
        }
        b.finish()
    }

    fn named(r: Result<()>) -> String {
        match r {
            Err(Error::Signature { what, .. }) => what,
            other => panic!("expected a signature error, got {other:?}"),
        }
    }

    #[test]
    fn good_signatures_pass_in_any_number_of_batches() {
        let s = signer();
        for n in [0, 1, BATCH - 1, BATCH, BATCH + 1, BATCH * (QUEUED + 3) + 5] {
            run(&s, n, &[], &[]).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }

    #[test]
    fn a_bad_signature_anywhere_is_refused_and_named() {
        let s = signer();
        let n = BATCH * (QUEUED + 3) + 5;
        // First, last, at a batch edge, in the tail that never fills a batch.
        for bad in [0, BATCH - 1, BATCH, n - 1, n - 3, BATCH * 5 + 7] {
            assert_eq!(named(run(&s, n, &[bad], &[])), format!("f{bad}.minisig"));
            assert_eq!(named(run(&s, n, &[], &[bad])), format!("f{bad}.minisig"));
        }
        // Two bad ones in one batch: the first is named.
        assert_eq!(named(run(&s, n, &[70, 72], &[])), "f70.minisig");
    }

    #[test]
    fn another_key_or_a_legacy_signature_is_refused_before_any_crypto() {
        let s = signer();
        let other = signer();
        let data = b"data";
        let text = other.sk.sign(&data[..], "c").unwrap();
        let sig = SignatureFile::parse(text.as_bytes(), "o.minisig").unwrap();
        let mut b = BatchVerifier::new();
        let e = b
            .push(&s.pk, sig, prehash(data), "o.minisig".into())
            .unwrap_err();
        assert!(e.to_string().contains("made by key"), "{e}");
    }
}
