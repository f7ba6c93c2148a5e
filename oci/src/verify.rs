//! Checking a blob while it streams: its size against the descriptor (a
//! longer blob refused as soon as it passes the size, so an endless one
//! costs nothing) and its SHA-256 at the end. The one check every reader of
//! image bytes uses: the walk, the registry client, the archive writer.

use std::io::{self, Read};

use ferry_manifests::digest::{OciDigest, Sha256Digest};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// An incremental check of one blob against its descriptor.
#[derive(Clone)]
pub struct BlobCheck {
    blob: OciDigest,
    size: u64,
    seen: u64,
    hasher: Sha256,
}

impl BlobCheck {
    /// A check of `blob`, which must be exactly `size` bytes.
    #[must_use]
    pub fn new(blob: OciDigest, size: u64) -> Self {
        BlobCheck {
            blob,
            size,
            seen: 0,
            hasher: Sha256::new(),
        }
    }

    /// Continues a check over the first `prefix` bytes (a resumed download):
    /// feeds them and counts them.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] if the prefix is already longer than the blob.
    pub fn resume(&mut self, prefix: &[u8]) -> Result<()> {
        self.update(prefix)
    }

    /// The blob checked.
    #[must_use]
    pub fn blob(&self) -> &OciDigest {
        &self.blob
    }

    /// The size the blob must have.
    #[must_use]
    pub fn expected_size(&self) -> u64 {
        self.size
    }

    /// Bytes fed so far.
    #[must_use]
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Feeds bytes.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] as soon as more bytes than the size arrive.
    pub fn update(&mut self, bytes: &[u8]) -> Result<()> {
        let seen = self.seen.saturating_add(bytes.len() as u64);
        if seen > self.size {
            return Err(Error::SizeMismatch {
                blob: self.blob,
                expected: self.size,
                actual: seen,
            });
        }
        self.hasher.update(bytes);
        self.seen = seen;
        Ok(())
    }

    /// Ends the check: exactly the size, and the digest.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] for a short blob, [`Error::DigestMismatch`].
    pub fn finish(self) -> Result<()> {
        if self.seen != self.size {
            return Err(Error::SizeMismatch {
                blob: self.blob,
                expected: self.size,
                actual: self.seen,
            });
        }
        let actual = OciDigest(Sha256Digest(self.hasher.finalize().into()));
        if actual != self.blob {
            return Err(Error::DigestMismatch {
                blob: self.blob,
                actual,
            });
        }
        Ok(())
    }
}

/// A reader that checks what it yields with a [`BlobCheck`]. On a wrong
/// size or digest it returns an I/O error of kind `InvalidData` and keeps
/// the typed error for [`VerifyingReader::failure`]; end of stream is
/// reported only after the blob proved intact.
pub struct VerifyingReader<R> {
    inner: R,
    blob: OciDigest,
    check: Option<BlobCheck>,
    failure: Option<Error>,
    done: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// Checks `inner` as the blob `blob` of `size` bytes.
    pub fn new(inner: R, blob: OciDigest, size: u64) -> Self {
        VerifyingReader {
            inner,
            blob,
            check: Some(BlobCheck::new(blob, size)),
            failure: None,
            done: false,
        }
    }

    /// Reads what is left (without keeping it) and returns the outcome:
    /// the typed failure if the blob was not intact.
    ///
    /// # Errors
    /// The blob's [`Error`], or [`Error::Read`] if the stream failed.
    pub fn finish(mut self) -> Result<()> {
        if !self.done
            && self.failure.is_none()
            && let Err(e) = io::copy(&mut self, &mut io::sink())
            && self.failure.is_none()
        {
            return Err(Error::Read {
                blob: self.blob,
                source: e,
            });
        }
        self.failure.take().map_or(Ok(()), Err)
    }

    /// The typed failure, if the check failed.
    pub fn failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    fn fail(&mut self, e: Error) -> io::Error {
        let msg = e.to_string();
        self.failure = Some(e);
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "blob check failed",
            ));
        }
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let check = self.check.as_mut().expect("present until done");
        // Read at most one byte past the size, to see a longer blob.
        let room = check
            .expected_size()
            .saturating_sub(check.seen())
            .saturating_add(1);
        let want = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            let check = self.check.take().expect("present until done");
            self.done = true;
            return match check.finish() {
                Ok(()) => Ok(0),
                Err(e) => Err(self.fail(e)),
            };
        }
        if let Err(e) = check.update(&buf[..n]) {
            return Err(self.fail(e));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], blob: OciDigest, size: u64) -> Result<Vec<u8>> {
        let mut r = VerifyingReader::new(data, blob, size);
        let mut out = Vec::new();
        let _ = r.read_to_end(&mut out);
        r.finish().map(|()| out)
    }

    #[test]
    fn intact_blob_passes() {
        let data = b"layer bytes".to_vec();
        let out = read_all(&data, OciDigest::of(&data), data.len() as u64).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn wrong_byte_names_the_blob() {
        let data = b"layer bytes".to_vec();
        let d = OciDigest::of(&data);
        let err = read_all(b"layer bytez", d, data.len() as u64).unwrap_err();
        assert!(
            matches!(err, Error::DigestMismatch { blob, .. } if blob == d),
            "{err}"
        );
        assert!(err.to_string().contains(&d.to_string()));
    }

    #[test]
    fn longer_blob_refused_at_the_first_extra_byte() {
        let d = OciDigest::of(b"abc");
        // An endless stream: `repeat` never ends; the check must stop it.
        let mut r = VerifyingReader::new(io::repeat(7), d, 3);
        let mut sink = Vec::new();
        assert!(r.read_to_end(&mut sink).is_err());
        assert!(sink.len() <= 3);
        let err = r.failure().unwrap();
        assert!(
            matches!(
                err,
                Error::SizeMismatch {
                    expected: 3,
                    actual: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn short_blob_refused() {
        let d = OciDigest::of(b"abcd");
        let err = read_all(b"abc", d, 4).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SizeMismatch {
                    expected: 4,
                    actual: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn finish_drains_unread_rest() {
        let data = b"0123456789";
        let mut r = VerifyingReader::new(&data[..], OciDigest::of(data), 10);
        let mut first = [0u8; 4];
        r.read_exact(&mut first).unwrap();
        r.finish().unwrap();
    }
}
