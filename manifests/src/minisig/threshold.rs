//! Threshold counting: distinct trusted keys, never key ids, file names or
//! signature bytes (ATTACKS A3); and the small-document readers signatures use.

use super::*;

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
