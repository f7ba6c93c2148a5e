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
        check_point(&raw).map_err(bad)?;
        Ok(PublicKey {
            id: KeyId(id),
            raw,
            base64: b64.to_string(),
            inner,
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

    /// Starts a streaming verification (prehashed signatures only).
    ///
    /// # Errors
    /// [`Error::Signature`] for another key or a legacy signature.
    pub fn verify_stream<'a>(
        &'a self,
        sig: &'a SignatureFile,
        what: &str,
    ) -> Result<StreamVerifier<'a>> {
        self.check_id(sig, what)?;
        let inner = self
            .inner
            .verify_stream(&sig.inner)
            .map_err(|e| Error::signature(what, describe(&e)))?;
        Ok(StreamVerifier {
            inner,
            what: what.to_string(),
        })
    }

    fn check_id(&self, sig: &SignatureFile, what: &str) -> Result<()> {
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

/// A streaming minisign verification (BLAKE2b-512 prehash, then Ed25519).
pub struct StreamVerifier<'a> {
    inner: minisign_verify::StreamVerifier<'a>,
    what: String,
}

impl StreamVerifier<'_> {
    /// Feeds bytes.
    pub fn update(&mut self, buf: &[u8]) {
        self.inner.update(buf);
    }

    /// Checks the signature over everything fed.
    ///
    /// # Errors
    /// [`Error::Signature`].
    pub fn finalize(mut self) -> Result<()> {
        self.inner
            .finalize()
            .map_err(|e| Error::signature(&self.what, describe(&e)))
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
fn check_point(raw: &[u8; 32]) -> std::result::Result<(), String> {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(raw)
        .map_err(|_| "the Ed25519 public key is not a valid curve point".to_string())?;
    if vk.is_weak() {
        return Err("the Ed25519 public key is a weak (small-order) point".into());
    }
    Ok(())
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
        // Read the key id and algorithm ourselves from line 2 (already
        // validated as 74 bytes by the decoder above).
        let decoded =
            minisign::SignatureBox::from_string(&canonical).map_err(|e| bad(&e.to_string()))?;
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(decoded.keynum());
        let (signature, global) = crate::prehash::raw_signatures(lines[1], lines[3])
            .ok_or_else(|| bad("signature lines do not decode"))?;
        Ok(SignatureFile {
            key_id: KeyId(key_id),
            prehashed: decoded.is_prehashed(),
            trusted_comment: trusted.to_string(),
            inner,
            signature,
            global,
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

/// A secret key, decrypted and ready to sign. Never printed.
pub struct SecretKey {
    sk: minisign::SecretKey,
    pk: minisign::PublicKey,
    id: KeyId,
}

impl SecretKey {
    /// Loads a minisign secret key file. `password` is used only if the key
    /// is encrypted; if it is needed and absent, an error says so.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Key`] (never containing key material).
    pub fn from_file(path: &Path, password: Option<String>) -> Result<Self> {
        let what = path.display().to_string();
        let text = read_small(path, MAX_KEY_BYTES)?;
        let bad = |reason: String| Error::Key {
            what: what.clone(),
            reason,
        };
        let raw = decode_secret_box(&text).map_err(bad)?;
        let sk = if raw[2..4] == *b"\0\0" {
            // Unencrypted (`minisign -G -W`, `ferry keygen --unencrypted`).
            // minisign 0.11 leaves the checksum of such keys zeroed, so it
            // is not checked here; a damaged key still cannot sign, because
            // every signature is verified with the public key before use.
            minisign::SecretKey::from_bytes(&raw)
                .map_err(|_| bad("not a minisign secret key file".into()))?
        } else {
            let password = password.ok_or_else(|| {
                bad("the key is encrypted: give its password (prompt or FERRY_PASSWORD)".into())
            })?;
            minisign::SecretKeyBox::from_string(&text)
                .and_then(|b| b.into_secret_key(Some(password)))
                .map_err(|_| bad("wrong password, or the key file is damaged".into()))?
        };
        let pk = minisign::PublicKey::from_secret_key(&sk)
            .map_err(|_| bad("cannot derive the public key".into()))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(sk.keynum());
        Ok(SecretKey {
            sk,
            pk,
            id: KeyId(id),
        })
    }

    /// Whether the key file is encrypted (so a password is needed).
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Key`].
    pub fn file_is_encrypted(path: &Path) -> Result<bool> {
        let text = read_small(path, MAX_KEY_BYTES)?;
        let raw = decode_secret_box(&text).map_err(|reason| Error::Key {
            what: path.display().to_string(),
            reason,
        })?;
        Ok(raw[2..4] != *b"\0\0")
    }

    /// The key id.
    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The matching public key.
    ///
    /// # Panics
    /// Never: the public key was derived from this secret key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_base64(&self.pk.to_base64(), "derived public key")
            .expect("a derived public key is valid")
    }

    /// Signs `data` (prehashed) with `trusted_comment`; returns the text of
    /// the `.minisig` file.
    ///
    /// # Errors
    /// [`Error::Key`] if signing fails, [`Error::Read`] if `data` fails.
    pub fn sign<R: Read>(&self, data: R, trusted_comment: &str) -> Result<String> {
        if trusted_comment.chars().any(|c| c.is_control() && c != '\t')
            || trusted_comment.len() > MAX_TRUSTED_COMMENT
        {
            return Err(Error::Key {
                what: format!("key {}", self.id),
                reason: "a trusted comment is one printable line".into(),
            });
        }
        let untrusted = format!("signature from ferry key {}", self.id);
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            data,
            Some(trusted_comment),
            Some(&untrusted),
        )
        .map_err(|e| Error::Key {
            what: format!("key {}", self.id),
            reason: format!("signing failed: {e}"),
        })?;
        Ok(sig.into_string())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, redacted)", self.id)
    }
}

/// Decodes the base64 line of a secret key file: `Ed`, KDF algorithm,
/// checksum algorithm, salt, limits, key id, key, checksum (158 bytes).
fn decode_secret_box(text: &str) -> std::result::Result<Vec<u8>, String> {
    use base64::Engine as _;
    let not_a_key = || "not a minisign secret key file".to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().ok_or_else(not_a_key)?;
    if !first.starts_with("untrusted comment:") {
        return Err(not_a_key());
    }
    let b64 = lines.next().ok_or_else(not_a_key)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| not_a_key())?;
    if raw.len() != 158 || &raw[..2] != b"Ed" {
        return Err(not_a_key());
    }
    Ok(raw)
}

/// A freshly generated key pair, as file texts.
pub struct GeneratedKey {
    /// The key id.
    pub id: KeyId,
    /// The `.pub` file text.
    pub public: String,
    /// The `.key` file text (encrypted unless generated without a password).
    pub secret: String,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GeneratedKey({}, secret redacted)", self.id)
    }
}

/// Generates a key pair; `password: None` makes an unencrypted secret key
/// (as `minisign -G -W`).
///
/// # Errors
/// [`Error::Key`] if the system RNG fails.
pub fn generate(password: Option<String>) -> Result<GeneratedKey> {
    let bad = |e: minisign::PError| Error::Key {
        what: "new key".into(),
        reason: format!("key generation failed: {e}"),
    };
    let encrypted = password.is_some();
    let minisign::KeyPair { pk, sk } = match password {
        Some(p) => minisign::KeyPair::generate_encrypted_keypair(Some(p)).map_err(bad)?,
        None => minisign::KeyPair::generate_unencrypted_keypair().map_err(bad)?,
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(pk.keynum());
    let id = KeyId(id);
    let comment = if encrypted {
        "minisign encrypted secret key"
    } else {
        "minisign secret key"
    };
    Ok(GeneratedKey {
        id,
        public: pk.to_box().map_err(bad)?.into_string(),
        secret: sk.to_box(Some(comment)).map_err(bad)?.into_string(),
    })
}

/// A set of trusted public keys, deduplicated and checked (ATTACKS A3, C3).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<PublicKey>,
}

impl KeySet {
    /// Builds a set. The same key listed twice counts once; the same
    /// Ed25519 key under two key ids, or one key id for two keys, is refused.
    ///
    /// # Errors
    /// A message naming the clash.
    pub fn new(keys: Vec<PublicKey>) -> std::result::Result<Self, String> {
        let mut out: Vec<PublicKey> = Vec::new();
        for k in keys {
            if let Some(prev) = out.iter().find(|p| p.raw == k.raw || p.id == k.id) {
                if prev.raw == k.raw && prev.id == k.id {
                    continue;
                }
                if prev.raw == k.raw {
                    return Err(format!(
                        "the same public key is listed under two key ids ({} and {})",
                        prev.id, k.id
                    ));
                }
                return Err(format!(
                    "key id {} is used by two different public keys",
                    k.id
                ));
            }
            out.push(k);
        }
        Ok(KeySet { keys: out })
    }

    /// The keys.
    #[must_use]
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Number of distinct keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this id.
    #[must_use]
    pub fn get(&self, id: KeyId) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// One signature offered for a threshold check.
#[derive(Debug, Clone)]
pub struct OfferedSignature {
    /// Where it came from (for messages), e.g. `ferry/signatures/ABCD….minisig`.
    pub name: String,
    /// The file bytes.
    pub bytes: Vec<u8>,
}

/// What a threshold check found.
#[derive(Debug, Clone, Default)]
pub struct ThresholdReport {
    /// Distinct trusted keys with a valid signature, in the order found.
    pub valid: Vec<KeyId>,
    /// Signatures not counted, with the reason (unknown key, bad signature,
    /// duplicate key, wrong trusted comment).
    pub ignored: Vec<(String, String)>,
}

/// Verifies signatures over `data` and counts **distinct trusted public
/// keys** whose signature is valid and whose trusted comment is exactly
/// `expected_comment` (SPEC §3.4; ATTACKS A2, A3, A5, A15). Junk and
/// unknown signatures are reported, never counted, never fatal by
/// themselves. Legacy signatures are never accepted here.
///
/// # Errors
/// [`Error::Threshold`] when fewer than `threshold` distinct keys signed.
pub fn verify_threshold(
    keys: &KeySet,
    threshold: usize,
    data: &[u8],
    expected_comment: &str,
    offered: &[OfferedSignature],
    what: &str,
) -> Result<ThresholdReport> {
    let mut report = ThresholdReport::default();
    let mut counted_raw: Vec<[u8; 32]> = Vec::new();
    for o in offered {
        let sig = match SignatureFile::parse(&o.bytes, &o.name) {
            Ok(s) => s,
            Err(e) => {
                report.ignored.push((o.name.clone(), e.to_string()));
                continue;
            }
        };
        let Some(key) = keys.get(sig.key_id()) else {
            report.ignored.push((
                o.name.clone(),
                format!("key {} is not trusted by this policy", sig.key_id()),
            ));
            continue;
        };
        if let Err(e) = key.verify(data, &sig, Legacy::Refuse, &o.name) {
            report.ignored.push((o.name.clone(), e.to_string()));
            continue;
        }
        if sig.trusted_comment() != expected_comment {
            report.ignored.push((
                o.name.clone(),
                format!(
                    "trusted comment \"{}\" does not match this document (expected \"{expected_comment}\")",
                    escape_untrusted(sig.trusted_comment())
                ),
            ));
            continue;
        }
        if counted_raw.contains(key.raw()) {
            report
                .ignored
                .push((o.name.clone(), format!("key {} already counted", key.id())));
            continue;
        }
        counted_raw.push(*key.raw());
        report.valid.push(key.id());
    }
    if report.valid.len() < threshold {
        return Err(Error::Threshold {
            what: what.to_string(),
            valid: report.valid.len(),
            threshold,
        });
    }
    Ok(report)
}

/// Checks a detached signature file over a document already in memory:
/// the parse, the key, the signature and the exact trusted comment.
///
/// # Errors
/// [`Error::Signature`].
pub fn verify_document(
    keys: &KeySet,
    data: &[u8],
    sig_bytes: &[u8],
    expected_comment: Option<&str>,
    what: &str,
) -> Result<KeyId> {
    let sig = SignatureFile::parse(sig_bytes, what)?;
    let key = keys.get(sig.key_id()).ok_or_else(|| {
        Error::signature(
            what,
            format!(
                "made by key {}, which the trust policy does not list",
                sig.key_id()
            ),
        )
    })?;
    key.verify(data, &sig, Legacy::Refuse, what)?;
    if let Some(expected) = expected_comment
        && sig.trusted_comment() != expected
    {
        return Err(Error::signature(
            what,
            format!(
                "trusted comment \"{}\" does not match (expected \"{expected}\")",
                escape_untrusted(sig.trusted_comment())
            ),
        ));
    }
    Ok(key.id())
}

/// Reads a small file whole, refusing anything larger than `limit` and
/// anything that is not a regular file.
///
/// # Errors
/// [`Error::Io`] or [`Error::DocumentTooLarge`].
pub fn read_small(path: &Path, limit: usize) -> Result<String> {
    let bytes = read_small_bytes(path, limit as u64)?;
    String::from_utf8(bytes).map_err(|_| Error::Key {
        what: path.display().to_string(),
        reason: "not UTF-8 text".into(),
    })
}

/// Reads a small regular file whole, at most `limit` bytes.
///
/// # Errors
/// [`Error::Io`] or [`Error::DocumentTooLarge`].
pub fn read_small_bytes(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = crate::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let mut out = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, "read", e))?;
    if out.len() as u64 > limit {
        return Err(Error::DocumentTooLarge {
            doc: path.display().to_string(),
            limit,
        });
    }
    Ok(out)
}

/// The SHA-256 of a document, for trusted comments.
#[must_use]
pub fn document_digest(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::of(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (SecretKey, PublicKey, tempfile::TempDir) {
        let g = generate(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.key");
        std::fs::write(&p, &g.secret).unwrap();
        let sk = SecretKey::from_file(&p, None).unwrap();
        let pk = PublicKey::from_text(&g.public, "k.pub").unwrap();
        assert_eq!(sk.id(), pk.id());
        (sk, pk, dir)
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let (sk, pk, _d) = pair();
        let text = sk
            .sign(
                &b"hello"[..],
                "ferry-manifest product=x sequence=1 sha256=00",
            )
            .unwrap();
        let sig = SignatureFile::parse(text.as_bytes(), "s").unwrap();
        assert!(sig.is_prehashed());
        pk.verify(b"hello", &sig, Legacy::Refuse, "s").unwrap();
        assert!(pk.verify(b"hellO", &sig, Legacy::Refuse, "s").is_err());
        // CRLF copies still verify (ATTACKS C6).
        let crlf = text.replace('\n', "\r\n");
        let sig = SignatureFile::parse(crlf.as_bytes(), "s").unwrap();
        pk.verify(b"hello", &sig, Legacy::Refuse, "s").unwrap();
    }

    #[test]
    fn malformed_signature_files() {
        let (sk, _pk, _d) = pair();
        let text = sk.sign(&b"x"[..], "c").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cases = [
            format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]),
            format!("{text}extra\n"),
            format!("\u{feff}{text}"),
            text.replace("trusted comment: c", "trusted comment: c\rx"),
            text.replace("trusted comment: c", "trusted comment: \u{1b}[2J"),
            text.replace(
                "trusted comment: c",
                &format!("trusted comment: {}", "a".repeat(9000)),
            ),
            text.replace("trusted comment: ", "trusted: "),
        ];
        for c in cases {
            assert!(SignatureFile::parse(c.as_bytes(), "s").is_err(), "{c:?}");
        }
    }

    #[test]
    fn key_id_round_trip() {
        let id = KeyId::parse("C373193807678450").unwrap();
        assert_eq!(id.to_string(), "C373193807678450");
        assert!(KeyId::parse("c373193807678450").is_err());
        assert!(KeyId::parse("C37319380767845").is_err());
    }

    #[test]
    fn weak_keys_are_refused() {
        // "Ed" || keynum || identity point (01 00..00).
        let mut bytes = b"Ed".to_vec();
        bytes.extend_from_slice(&[1u8; 8]);
        let mut point = [0u8; 32];
        point[0] = 1;
        bytes.extend_from_slice(&point);
        let b64 = base64_encode(&bytes);
        let e = PublicKey::from_base64(&b64, "k").unwrap_err().to_string();
        assert!(e.contains("weak") || e.contains("not a minisign"), "{e}");
    }

    fn base64_encode(bytes: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn threshold_counts_distinct_keys() {
        let (sk1, pk1, _d1) = pair();
        let (sk2, pk2, _d2) = pair();
        let keys = KeySet::new(vec![pk1.clone(), pk2.clone(), pk1.clone()]).unwrap();
        assert_eq!(keys.len(), 2);
        let data = b"manifest";
        let c = "ferry-manifest product=p sequence=1 sha256=x";
        let s1 = OfferedSignature {
            name: "a".into(),
            bytes: sk1.sign(&data[..], c).unwrap().into_bytes(),
        };
        let s1b = OfferedSignature {
            name: "b".into(),
            bytes: sk1.sign(&data[..], c).unwrap().into_bytes(),
        };
        let s2 = OfferedSignature {
            name: "c".into(),
            bytes: sk2.sign(&data[..], c).unwrap().into_bytes(),
        };
        let other = OfferedSignature {
            name: "d".into(),
            bytes: sk2.sign(&data[..], "other").unwrap().into_bytes(),
        };
        // One key twice: below threshold 2 (ATTACKS A3).
        assert!(
            verify_threshold(
                &keys,
                2,
                data,
                c,
                &[s1.clone(), s1b.clone(), s1.clone()],
                "m"
            )
            .is_err()
        );
        // Wrong trusted comment does not count (A15).
        assert!(verify_threshold(&keys, 2, data, c, &[s1.clone(), other], "m").is_err());
        let r = verify_threshold(&keys, 2, data, c, &[s1, s1b, s2], "m").unwrap();
        assert_eq!(r.valid.len(), 2);
        assert_eq!(r.ignored.len(), 1);
    }

    #[test]
    fn keyset_refuses_clashes() {
        let (_sk, pk, _d) = pair();
        // The same raw key under another key id.
        let mut bytes = b"Ed".to_vec();
        bytes.extend_from_slice(&[9u8; 8]);
        bytes.extend_from_slice(pk.raw());
        let other = PublicKey::from_base64(&base64_encode(&bytes), "k").unwrap();
        assert!(
            KeySet::new(vec![pk, other])
                .unwrap_err()
                .contains("two key ids")
        );
    }
}
