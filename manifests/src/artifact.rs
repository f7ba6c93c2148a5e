//! Checking one vendor artifact while its bytes stream by: size, SHA-256
//! and minisign signatures in a single pass (no second read, ATTACKS C11).
//!
//! The same code serves `ferry sync` (while downloading), `ferry-verify
//! file`, bundle verification (while a tar streams by) and the hand-off, so
//! an artifact is checked the same way everywhere.

use crate::digest::{Sha256Digest, Sha256Hasher};
use crate::error::{Error, Result};
use crate::minisig::{Legacy, PublicKey, SignatureFile};
use crate::prehash::{Prehasher, SidePrehasher};

/// Largest artifact a legacy (non-prehashed) signature can be checked on:
/// legacy signatures need the whole message in memory.
pub const MAX_LEGACY_BYTES: u64 = 64 * 1024 * 1024;

/// Streams at least this large hash their minisign prehash on a second
/// thread ([`SidePrehasher`]).
const SIDE_PREHASH_MIN: u64 = 4 * 1024 * 1024;

/// A minisign signature to check over an artifact.
pub struct MinisignCheck<'a> {
    /// The vendor key (already matched to the signature's key id).
    pub key: &'a PublicKey,
    /// The parsed signature.
    pub sig: &'a SignatureFile,
    /// Whether a legacy signature is acceptable.
    pub legacy: Legacy,
    /// The signature file, for messages.
    pub what: String,
}

/// Prehashed signatures are checked against one BLAKE2b-512 of the
/// stream ([`PublicKey::verify_prehash`]); legacy ones need the bytes.
enum Mini<'a> {
    Prehashed(MinisignCheck<'a>),
    Legacy(MinisignCheck<'a>),
}

/// A single-pass check of one artifact.
pub struct StreamCheck<'a> {
    what: String,
    expected: Option<(Sha256Digest, u64)>,
    limit: u64,
    sha: Sha256Hasher,
    minisign: Vec<Mini<'a>>,
    prehash: Option<SidePrehasher>,
    legacy_buf: Option<Vec<u8>>,
}

impl<'a> StreamCheck<'a> {
    /// Starts a check of `what`. `expected` (digest, size) is checked at
    /// the end and the size also while streaming; without it, `limit`
    /// caps the stream.
    ///
    /// # Errors
    /// [`Error::Signature`] if a signature is by another key, or legacy
    /// where not allowed.
    pub fn new(
        what: &str,
        expected: Option<(Sha256Digest, u64)>,
        limit: u64,
        checks: Vec<MinisignCheck<'a>>,
    ) -> Result<Self> {
        let mut minisign = Vec::new();
        let mut needs_buf = false;
        for c in checks {
            if c.sig.is_prehashed() {
                c.key.check_prehashed(c.sig, &c.what)?;
                minisign.push(Mini::Prehashed(c));
            } else {
                if c.legacy == Legacy::Refuse {
                    return Err(Error::signature(
                        &c.what,
                        "legacy (non-prehashed) minisign signature refused: re-sign with a current minisign, or set vendor.allow_legacy_minisign in the trust policy",
                    ));
                }
                needs_buf = true;
                minisign.push(Mini::Legacy(c));
            }
        }
        let limit = expected.map_or(limit, |(_, size)| size);
        if needs_buf && limit > MAX_LEGACY_BYTES {
            return Err(Error::signature(
                what,
                format!(
                    "a legacy minisign signature can only be checked on files up to {MAX_LEGACY_BYTES} bytes"
                ),
            ));
        }
        Ok(StreamCheck {
            what: what.to_string(),
            expected,
            limit,
            sha: Sha256Hasher::new(),
            // A large file's BLAKE2b beside its SHA-256 on another core.
            prehash: minisign
                .iter()
                .any(|m| matches!(m, Mini::Prehashed(_)))
                .then(|| {
                    if limit >= SIDE_PREHASH_MIN {
                        SidePrehasher::new()
                    } else {
                        SidePrehasher::Inline(Prehasher::new())
                    }
                }),
            minisign,
            legacy_buf: needs_buf.then(Vec::new),
        })
    }

    /// Feeds the next bytes.
    ///
    /// # Errors
    /// [`Error::TooMuchData`] once more bytes than declared arrive.
    pub fn update(&mut self, buf: &[u8]) -> Result<()> {
        if self.sha.len() + buf.len() as u64 > self.limit {
            return Err(Error::TooMuchData {
                what: self.what.clone(),
                limit: self.limit,
            });
        }
        self.sha.update(buf);
        if let Some(h) = &mut self.prehash {
            h.update(buf);
        }
        if let Some(b) = &mut self.legacy_buf {
            b.extend_from_slice(buf);
        }
        Ok(())
    }

    /// Bytes seen so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.sha.len()
    }

    /// Whether nothing was fed yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sha.is_empty()
    }

    /// Finishes: size and digest first, then every signature.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`], [`Error::DigestMismatch`] or [`Error::Signature`].
    pub fn finish(self) -> Result<(Sha256Digest, u64)> {
        let (pair, outcome) = self.finish_report();
        outcome.map(|()| pair)
    }

    /// Finishes like [`StreamCheck::finish`], but hands back the digest and
    /// size of what was read even when a check fails, for reports that list
    /// every check (`ferry-verify file`).
    ///
    /// # Errors
    /// The second element: as [`StreamCheck::finish`].
    pub fn finish_report(self) -> ((Sha256Digest, u64), Result<()>) {
        let (digest, size) = self.sha.finish();
        let outcome = (|| {
            if let Some((d, s)) = &self.expected {
                crate::digest::check(&self.what, (d, *s), (&digest, size))?;
            }
            let prehash = match self.prehash.map(SidePrehasher::finish) {
                Some(None) => {
                    return Err(Error::signature(
                        &self.what,
                        "the signature-checking thread failed (refused)",
                    ));
                }
                other => other.flatten(),
            };
            for m in self.minisign {
                match m {
                    Mini::Prehashed(c) => {
                        c.key.verify_prehash(
                            c.sig,
                            prehash.as_ref().unwrap_or(&[0; 64]),
                            &c.what,
                        )?;
                    }
                    Mini::Legacy(c) => {
                        let data = self.legacy_buf.as_deref().unwrap_or_default();
                        c.key.verify(data, c.sig, c.legacy, &c.what)?;
                    }
                }
            }
            Ok(())
        })();
        ((digest, size), outcome)
    }
}
