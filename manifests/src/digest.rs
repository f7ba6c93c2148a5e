//! SHA-256 digests and streaming, size-capped hashing.
//!
//! Hashing uses the `sha2` crate, which picks the SHA-NI instructions at run
//! time where the CPU has them. Readers here never hold more than one buffer
//! of data, so memory stays flat whatever the size of the input.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Buffer size for streaming reads: large enough to amortize syscalls,
/// small enough to keep memory flat.
pub const BUF_SIZE: usize = 256 * 1024;

/// A SHA-256 digest, written as exactly 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Lowercase hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short form for messages (first 12 hex digits).
    #[must_use]
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl FromStr for Sha256Digest {
    type Err = String;
    /// Parses exactly 64 lowercase hex digits (ATTACKS C12: no upper case,
    /// no 63 or 65 digits).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.len() != 64 {
            return Err(format!(
                "a sha256 digest is 64 hex digits, got {} characters",
                s.len()
            ));
        }
        if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err("a sha256 digest is lowercase hex (0-9, a-f)".to_string());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| e.to_string())?;
        Ok(Sha256Digest(out))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An OCI content digest (SPEC §3.12), `sha256:` and exactly 64 lowercase
/// hex digits. Other algorithms (`sha512:`), upper case and any other form
/// the OCI grammar allows are refused: ferry pins and checks SHA-256 only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OciDigest(pub Sha256Digest);

impl OciDigest {
    /// The digest of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        OciDigest(Sha256Digest::of(bytes))
    }

    /// The bare 64 hex digits (the file name under `blobs/sha256/`).
    #[must_use]
    pub fn hex(&self) -> String {
        self.0.to_hex()
    }
}

impl FromStr for OciDigest {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let Some(hex) = s.strip_prefix("sha256:") else {
            return Err(format!(
                "an image digest is \"sha256:\" and 64 lowercase hex digits, got \"{}\"",
                crate::error::escape_untrusted(&s.chars().take(80).collect::<String>())
            ));
        };
        Ok(OciDigest(hex.parse()?))
    }
}

impl fmt::Display for OciDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0.to_hex())
    }
}

impl fmt::Debug for OciDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for OciDigest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for OciDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental SHA-256 with a byte count.
#[derive(Clone, Default)]
pub struct Sha256Hasher {
    hasher: Sha256,
    len: u64,
}

impl Sha256Hasher {
    /// A new hasher.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest and the byte count.
    #[must_use]
    pub fn finish(self) -> (Sha256Digest, u64) {
        (Sha256Digest(self.hasher.finalize().into()), self.len)
    }
}

/// A reader that refuses to yield more than `limit` bytes: reading byte
/// `limit + 1` is an error (ATTACKS A12 endless data, B12 bombs). It reads
/// at most one byte past the limit from the inner reader to find out.
pub struct CappedReader<R> {
    inner: R,
    limit: u64,
    read: u64,
    what: String,
}

impl<R: Read> CappedReader<R> {
    /// Caps `inner` at `limit` bytes; `what` names the stream in errors.
    pub fn new(inner: R, limit: u64, what: impl Into<String>) -> Self {
        Self {
            inner,
            limit,
            read: 0,
            what: what.into(),
        }
    }

    /// Bytes read so far.
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let remaining = self.limit - self.read;
        // Allow one byte past the limit so that an overlong stream is seen.
        let want = usize::try_from(remaining.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Error::TooMuchData {
                    what: self.what.clone(),
                    limit: self.limit,
                },
            ));
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// Hashes everything `reader` yields, refusing more than `limit` bytes.
///
/// # Errors
/// [`Error::TooMuchData`] past the limit, [`Error::Read`] on I/O errors.
pub fn hash_reader<R: Read>(reader: R, limit: u64, what: &str) -> Result<(Sha256Digest, u64)> {
    let mut capped = CappedReader::new(reader, limit, what);
    let mut hasher = Sha256Hasher::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match capped.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unwrap_io(e, what)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// Turns an I/O error that carries one of our errors (as [`CappedReader`]
/// does) back into it; any other becomes [`Error::Read`].
#[must_use]
pub fn unwrap_io(e: io::Error, what: &str) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Ok(inner) = e.into_inner().expect("checked").downcast::<Error>() {
            return *inner;
        }
        unreachable!("checked with is::<Error>()");
    }
    Error::Read {
        what: what.to_string(),
        source: e,
    }
}

/// Checks that `actual` (digest, size) equals the declared pair, size first
/// (a size mismatch is the clearer message for a truncated copy).
///
/// # Errors
/// [`Error::SizeMismatch`] or [`Error::DigestMismatch`].
pub fn check(
    what: &str,
    expected: (&Sha256Digest, u64),
    actual: (&Sha256Digest, u64),
) -> Result<()> {
    if expected.1 != actual.1 {
        return Err(Error::SizeMismatch {
            what: what.to_string(),
            expected: expected.1,
            actual: actual.1,
        });
    }
    if expected.0 != actual.0 {
        return Err(Error::DigestMismatch {
            what: what.to_string(),
            expected: *expected.0,
            actual: *actual.0,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // FIPS 180-2 "abc".
        assert_eq!(
            Sha256Digest::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parse_is_strict() {
        let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(good.parse::<Sha256Digest>().is_ok());
        assert!(good.to_uppercase().parse::<Sha256Digest>().is_err());
        assert!(good[..63].parse::<Sha256Digest>().is_err());
        assert!(format!("{good}0").parse::<Sha256Digest>().is_err());
        assert!(good.replace('a', "g").parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn oci_digest_is_strict() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let d: OciDigest = format!("sha256:{hex}").parse().unwrap();
        assert_eq!(d, OciDigest::of(b"abc"));
        assert_eq!(d.to_string(), format!("sha256:{hex}"));
        for bad in [
            hex.to_string(),
            format!("sha512:{hex}"),
            format!("SHA256:{hex}"),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha256:{}", &hex[..63]),
            format!(" sha256:{hex}"),
            format!("sha256:{hex}\n"),
        ] {
            assert!(bad.parse::<OciDigest>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn capped_reader_stops_one_byte_past() {
        let data = [7u8; 100];
        let (_, n) = hash_reader(&data[..], 100, "x").unwrap();
        assert_eq!(n, 100);
        let err = hash_reader(&data[..], 99, "x").unwrap_err();
        assert!(matches!(err, Error::TooMuchData { limit: 99, .. }), "{err}");
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (d, n) = hash_reader(&data[..], u64::MAX, "x").unwrap();
        assert_eq!(n, 1_000_000);
        assert_eq!(d, Sha256Digest::of(&data));
    }
}
