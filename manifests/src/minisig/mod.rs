//! minisign keys and signatures (SPEC §3.4).
//!
//! Signing uses the `minisign` crate (prehashed signatures, byte-compatible
//! with the `minisign` CLI); verification uses `minisign-verify`. Around
//! them this module adds what a verifier of untrusted input needs:
//!
//! * signature files are parsed strictly and with bounded sizes before
//!   anything else (ATTACKS C6): four lines, LF or CRLF endings, printable
//!   comments, no stray `\r`, no BOM;
//! * key ids are compared before any crypto (C3) and legacy signatures pass
//!   only with an explicit [`Legacy::Allow`] (C1);
//! * public keys are checked for weak (small-order) and malformed points when
//!   loaded (C5);
//! * thresholds count **distinct public keys**, never key ids, file names or
//!   signature bytes (A3).

use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result, escape_untrusted};

/// Largest signature file read (the CLI's own limits are 1024 bytes of
/// untrusted and 8192 of trusted comment).
pub const MAX_SIGNATURE_BYTES: usize = 16 * 1024;
/// Largest public or secret key file read.
pub const MAX_KEY_BYTES: usize = 4 * 1024;
const MAX_UNTRUSTED_COMMENT: usize = 1024;
const MAX_TRUSTED_COMMENT: usize = 8192;

/// A minisign key id: 8 bytes, shown as 16 upper-case hex digits exactly as
/// `minisign` prints it (the little-endian u64 of the bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Parses 16 upper-case hex digits.
    ///
    /// # Errors
    /// A message if the text is not 16 upper-case hex digits.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        if s.len() != 16 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')) {
            return Err(format!(
                "\"{}\" is not a key id (16 upper-case hex digits)",
                escape_untrusted(s)
            ));
        }
        let n = u64::from_str_radix(s, 16).map_err(|e| e.to_string())?;
        Ok(KeyId(n.to_le_bytes()))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Whether legacy (non-prehashed) minisign signatures are accepted.
/// Manifest signatures never are; vendor artifact signatures only where the
/// trust policy says so (ATTACKS C1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// Only prehashed (`ED`) signatures verify. The default.
    Refuse,
    /// Legacy (`Ed`) signatures also verify. Dangerous: the algorithm bytes
    /// are not covered by the signature, so a legacy signature over the
    /// BLAKE2b hash of one file verifies another file's hash.
    Allow,
}

/// A loaded, checked minisign public key.
#[derive(Clone)]
pub struct PublicKey {
    id: KeyId,
    raw: [u8; 32],
    base64: String,
    inner: minisign_verify::PublicKey,
    /// The decoded curve point, decompressed once (checked: not weak).
    pub(crate) vk: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// From the base64 line (`RW…`).
    ///
    /// # Errors
    /// [`Error::Key`] if malformed, not Ed25519, or a weak key.
    pub fn from_base64(b64: &str, what: &str) -> Result<Self> {
        let b64 = b64.trim();
        let bad = |reason: String| Error::Key {
            what: what.to_string(),
            reason,
        };
        let inner = minisign_verify::PublicKey::from_base64(b64)
            .map_err(|e| bad(format!("not a minisign public key ({e})")))?;
        let bytes = minisign::PublicKey::from_base64(b64)
            .map_err(|e| bad(format!("not a minisign public key ({e})")))?
            .to_bytes();
        // bytes = alg(2) || keynum(8) || pk(32)
        if bytes.len() != 42 || &bytes[..2] != b"Ed" {
            return Err(bad("not an Ed25519 minisign public key".into()));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[2..10]);
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&bytes[10..42]);
        let vk = check_point(&raw).map_err(bad)?;
        Ok(PublicKey {
            id: KeyId(id),
            raw,
            base64: b64.to_string(),
            inner,
            vk,
        })
    }

    /// From the text of a `.pub` file (untrusted comment + base64 line), or
    /// a bare base64 line.
    ///
    /// # Errors
    /// [`Error::Key`] if malformed.
    pub fn from_text(text: &str, what: &str) -> Result<Self> {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        match lines.as_slice() {
            [b64] => Self::from_base64(b64, what),
            [comment, b64] if comment.starts_with("untrusted comment:") => Self::from_base64(b64, what),
            _ => Err(Error::Key {
                what: what.to_string(),
                reason: "not a minisign public key file (expected an untrusted comment line and a base64 line)".into(),
            }),
        }
    }

    /// From a `.pub` file or a file holding the bare base64 line.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Key`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_small(path, MAX_KEY_BYTES)?;
        Self::from_text(&text, &path.display().to_string())
    }

    /// Whether `entry` is an inline key rather than a path (SPEC §3.5):
    /// decided by content, never by the characters it holds (base64 uses
    /// `/` and `+`, so most real keys contain one). An entry that decodes
    /// as base64 to a 42-byte minisign public key of algorithm `Ed` is a
    /// key; anything else is a path.
    #[must_use]
    pub fn is_inline(entry: &str) -> bool {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(entry.trim())
            .is_ok_and(|b| b.len() == 42 && b.starts_with(b"Ed"))
    }

    /// A key given inline (base64) or as a path relative to `base` (a
    /// `.pub` file or a file holding the bare base64 line), decided by
    /// [`PublicKey::is_inline`]: the one rule for every place that takes
    /// "a key or a path" (trust policies, `--pubkey`, license keys).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file, or [`Error::Key`].
    pub fn inline_or_path(entry: &str, base: &Path, what: &str) -> Result<Self> {
        if Self::is_inline(entry) {
            Self::from_base64(entry, what)
        } else {
            Self::from_file(&base.join(entry))
        }
    }

    /// Accepts any of the forms a user may give on the command line: a
    /// base64 key, a `.pub` file, or a file holding the bare base64 line.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Key`].
    pub fn from_arg(arg: &str) -> Result<Self> {
        Self::inline_or_path(arg, Path::new(""), "public key")
    }

    /// The key id.
    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The 32 raw Ed25519 bytes.
    #[must_use]
    pub fn raw(&self) -> &[u8; 32] {
        &self.raw
    }

    /// The base64 line.
    #[must_use]
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// The `.pub` file text, as `minisign -G` writes it.
    #[must_use]
    pub fn to_pub_file(&self) -> String {
        format!(
            "untrusted comment: minisign public key {}\n{}\n",
            self.id, self.base64
        )
    }

    /// Verifies `sig` over `data`.
    ///
    /// # Errors
    /// [`Error::Signature`] naming `what` and the reason.
    pub fn verify(
        &self,
        data: &[u8],
        sig: &SignatureFile,
        legacy: Legacy,
        what: &str,
    ) -> Result<()> {
        self.check_id(sig, what)?;
        self.inner
            .verify(data, &sig.inner, legacy == Legacy::Allow)
            .map_err(|e| Error::signature(what, describe(&e)))
    }

    /// The signature's key id must be this key's: compared before any
    /// crypto (ATTACKS C3).
    pub(crate) fn check_id(&self, sig: &SignatureFile, what: &str) -> Result<()> {
        if sig.key_id != self.id {
            return Err(Error::signature(
                what,
                format!("made by key {}, not by key {}", sig.key_id, self.id),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

fn describe(e: &minisign_verify::Error) -> String {
    match e {
        minisign_verify::Error::InvalidSignature => "signature verification failed: the data or the trusted comment was altered, or another key made it".into(),
        minisign_verify::Error::UnexpectedAlgorithm => "legacy (non-prehashed) minisign signature refused: re-sign with a current minisign, or allow legacy signatures explicitly".into(),
        minisign_verify::Error::UnsupportedLegacyMode => "legacy (non-prehashed) minisign signatures cannot be checked while streaming".into(),
        minisign_verify::Error::UnexpectedKeyId => "made by another key".into(),
        other => format!("{other}"),
    }
}

/// Refuses points that are not valid Ed25519 public keys, and weak
/// (small-order) ones: a weak key makes signatures valid for almost any
/// message (ATTACKS C5).
fn check_point(raw: &[u8; 32]) -> std::result::Result<ed25519_dalek::VerifyingKey, String> {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(raw)
        .map_err(|_| "the Ed25519 public key is not a valid curve point".to_string())?;
    if vk.is_weak() {
        return Err("the Ed25519 public key is a weak (small-order) point".into());
    }
    Ok(vk)
}

/// A parsed minisign signature file.
#[derive(Clone)]
pub struct SignatureFile {
    key_id: KeyId,
    prehashed: bool,
    trusted_comment: String,
    inner: minisign_verify::Signature,
    /// The Ed25519 signature of line 2 (over the message, or its BLAKE2b-512).
    pub(crate) signature: [u8; 64],
    /// The Ed25519 global signature of line 4 (over signature || trusted comment).
    pub(crate) global: [u8; 64],
}

impl SignatureFile {
    /// Parses signature-file bytes strictly (ATTACKS C6).
    ///
    /// # Errors
    /// [`Error::Signature`] naming `what`.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self> {
        let bad = |reason: &str| {
            Error::signature(what, format!("malformed minisign signature: {reason}"))
        };
        if bytes.len() > MAX_SIGNATURE_BYTES {
            return Err(bad("file too large"));
        }
        if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
            return Err(bad("starts with a byte-order mark"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        // LF or CRLF line endings (a CRLF copy is benign), optional final newline.
        let body = text.strip_suffix('\n').unwrap_or(text);
        let body = body.strip_suffix('\r').unwrap_or(body);
        let lines: Vec<&str> = body
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        if lines.len() != 4 {
            return Err(bad(&format!("expected 4 lines, found {}", lines.len())));
        }
        for l in &lines {
            // Tabs separate minisign's trusted-comment fields; every other
            // control character (\r, ESC, NUL...) is refused.
            if l.chars().any(|c| c.is_control() && c != '\t') {
                return Err(bad("control character in a line"));
            }
        }
        let untrusted = lines[0]
            .strip_prefix("untrusted comment: ")
            .ok_or_else(|| bad("line 1 is not an untrusted comment"))?;
        if untrusted.len() > MAX_UNTRUSTED_COMMENT {
            return Err(bad("untrusted comment too long"));
        }
        let trusted = lines[2]
            .strip_prefix("trusted comment: ")
            .ok_or_else(|| bad("line 3 is not a trusted comment"))?;
        if trusted.len() > MAX_TRUSTED_COMMENT {
            return Err(bad("trusted comment too long"));
        }
        let canonical = lines.join("\n");
        let inner =
            minisign_verify::Signature::decode(&canonical).map_err(|e| bad(&describe(&e)))?;
        // The key id and algorithm from line 2 (validated as 74 bytes by
        // the decoder above), decoded once more here rather than by a
        // second parser (issue 17: three decodes a signature added up).
        let raw = crate::prehash::raw_signatures(lines[1], lines[3])
            .ok_or_else(|| bad("signature lines do not decode"))?;
        Ok(SignatureFile {
            key_id: KeyId(raw.key_id),
            prehashed: &raw.algorithm == b"ED",
            trusted_comment: trusted.to_string(),
            inner,
            signature: raw.signature,
            global: raw.global,
        })
    }

    /// The key id the signature claims.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether this is a prehashed (`ED`) signature.
    #[must_use]
    pub fn is_prehashed(&self) -> bool {
        self.prehashed
    }

    /// The trusted comment (authenticated only once [`PublicKey::verify`] passed).
    #[must_use]
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }
}

impl fmt::Debug for SignatureFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureFile(key {})", self.key_id)
    }
}
mod batch;
mod secret;
mod threshold;

pub use batch::BatchVerifier;

pub use secret::{GeneratedKey, SecretKey, generate};
pub use threshold::{
    KeySet, OfferedSignature, ThresholdReport, document_digest, read_small, read_small_bytes,
    verify_document, verify_threshold,
};

#[cfg(test)]
pub(crate) mod tests;
