//! Signed mirror documents (index, feed): the signature by a mirror key
//! over the exact bytes first, then parsing, then the trusted comment that
//! binds product, sequence and digest.

use std::path::{Path, PathBuf};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::hints::Hints;
use ferry_manifests::minisig::{KeySet, Legacy, SignatureFile, read_small_bytes};

use super::index::{MirrorIndex, hints_comment, index_comment};
use crate::error::Result;

/// Reads a document and its `.minisig`, verifies the signature with `keys`
/// (prehashed only) and returns the bytes and the authenticated trusted
/// comment. The caller parses the bytes and checks the comment binds them.
///
/// # Errors
/// [`Error::Manifest`].
pub fn read_signed(path: &Path, keys: &KeySet) -> Result<(Vec<u8>, String)> {
    let bytes = read_small_bytes(path, ferry_manifests::json::MAX_DOCUMENT_BYTES)?;
    let sig_path = PathBuf::from(format!("{}.minisig", path.display()));
    let sig_bytes = read_small_bytes(
        &sig_path,
        ferry_manifests::minisig::MAX_SIGNATURE_BYTES as u64,
    )?;
    let comment = verify_signed(&bytes, &sig_bytes, keys, &sig_path.display().to_string())?;
    Ok((bytes, comment))
}

/// Verifies detached-signature bytes over document bytes with `keys`
/// (prehashed only); returns the authenticated trusted comment. For
/// documents fetched over HTTP as well as read from disk.
///
/// # Errors
/// [`Error::Manifest`] naming `what` (the signature file or URL).
pub fn verify_signed(bytes: &[u8], sig_bytes: &[u8], keys: &KeySet, what: &str) -> Result<String> {
    let sig = SignatureFile::parse(sig_bytes, what)?;
    let key = keys.get(sig.key_id()).ok_or_else(|| {
        ferry_manifests::Error::signature(
            what,
            format!(
                "made by key {}, which the trust policy does not list as a mirror key",
                sig.key_id()
            ),
        )
    })?;
    key.verify(bytes, &sig, Legacy::Refuse, what)?;
    Ok(sig.trusted_comment().to_string())
}

/// Verifies and parses a mirror index given as bytes (fetched from a
/// mirror URL or read from disk): signature by a trusted mirror key, then
/// parse, then the exact trusted comment.
///
/// # Errors
/// [`Error::Manifest`].
pub fn verify_index_bytes(
    bytes: &[u8],
    sig_bytes: &[u8],
    keys: &KeySet,
    what: &str,
) -> Result<MirrorIndex> {
    verify_then_parse(bytes, sig_bytes, keys, what, "index", |b| {
        let index = MirrorIndex::parse(b, what)?;
        let comment = index_comment(&index.product, index.sequence, &Sha256Digest::of(b));
        Ok((index, comment))
    })
}

/// Verifies and parses a hint feed given as bytes.
///
/// # Errors
/// [`Error::Manifest`].
pub fn verify_hints_bytes(
    bytes: &[u8],
    sig_bytes: &[u8],
    keys: &KeySet,
    what: &str,
) -> Result<Hints> {
    verify_then_parse(bytes, sig_bytes, keys, what, "feed", |b| {
        let hints = Hints::parse(b, what).map_err(crate::Error::from)?;
        let comment = hints_comment(&hints.product, hints.sequence, &Sha256Digest::of(b));
        Ok((hints, comment))
    })
}

/// The one order for a signed mirror document: verify the signature over
/// the bytes, parse those bytes, then require the trusted comment that
/// `parse` says the document must carry.
fn verify_then_parse<T>(
    bytes: &[u8],
    sig_bytes: &[u8],
    keys: &KeySet,
    what: &str,
    kind: &str,
    parse: impl FnOnce(&[u8]) -> Result<(T, String)>,
) -> Result<T> {
    let sig_what = format!("{what}.minisig");
    let comment = verify_signed(bytes, sig_bytes, keys, &sig_what)?;
    let (doc, expected) = parse(bytes)?;
    if comment != expected {
        return Err(ferry_manifests::Error::signature(
            sig_what,
            format!("trusted comment does not match the {kind} (expected \"{expected}\")"),
        )
        .into());
    }
    Ok(doc)
}
