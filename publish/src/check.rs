//! Checking a published mirror where it is served (SPEC §3.14): what
//! `ferry-mirror publish --verify` runs over the S3 API and `ferry-mirror
//! fsck --remote URL` runs over HTTP. The signed index is verified first;
//! then `published.json` must hold it, the feed must be the one it
//! implies, the audit log must be the chain it records, and every listed
//! object is re-read and re-hashed. A listing of the store is never
//! needed (nor trusted): what the index does not name, no reader fetches.

use serde::Serialize;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::minisig::{KeySet, MAX_SIGNATURE_BYTES};
use ferry_mirror_layout::audit;
use ferry_mirror_layout::mirror::index::{MirrorIndex, hints_comment};
use ferry_mirror_layout::mirror::published::{
    MAX_PUBLISHED_BYTES, PUBLISHED_FILE, verify_published,
};
use ferry_mirror_layout::mirror::{
    AUDIT_FILE, HINTS_FILE, INDEX_FILE, verify_index_bytes, verify_signed,
};

use crate::error::{Error, Result};

/// Reads objects of a published mirror by their path below its root.
pub trait TreeReader {
    /// Where `rel` is, for messages (a URL, `s3://…/rel`).
    fn location(&self, rel: &str) -> String;
    /// The object's bytes, `None` if absent; more than `limit` is an error.
    ///
    /// # Errors
    /// Any failure to read other than absence.
    fn read_small(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>>;
    /// SHA-256 and size of the object, streamed, `None` if absent; reading
    /// may stop once more than `limit` bytes came.
    ///
    /// # Errors
    /// Any failure to read other than absence.
    fn hash(&self, rel: &str, limit: u64) -> Result<Option<(Sha256Digest, u64)>>;
}

/// What a check found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CheckReport {
    /// The published index's sequence.
    pub index_sequence: u64,
    /// Objects re-hashed.
    pub files: usize,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Every problem, each naming its object (empty: all good).
    pub problems: Vec<String>,
    /// Listed objects missing or whose bytes differ from the index.
    pub damaged: Vec<String>,
}

/// Checks the mirror `r` serves against `keys`. With `expect_index`, the
/// served index must be exactly those bytes (the one just published).
///
/// # Errors
/// [`Error::Manifest`] or [`Error::Mirror`] when the index itself does not
/// verify; a read failure. Every other finding is in the report.
pub fn check_tree(
    r: &dyn TreeReader,
    keys: &KeySet,
    expect_index: Option<&[u8]>,
) -> Result<CheckReport> {
    let need = |rel: &str, limit: u64| -> Result<Vec<u8>> {
        r.read_small(rel, limit)?
            .ok_or_else(|| Error::refused(r.location(rel), "is missing"))
    };
    let bytes = need(INDEX_FILE, MAX_DOCUMENT_BYTES)?;
    let sig = need("index.json.minisig", MAX_SIGNATURE_BYTES as u64)?;
    let index = verify_index_bytes(&bytes, &sig, keys, &r.location(INDEX_FILE))?;
    let mut report = CheckReport {
        index_sequence: index.sequence,
        ..CheckReport::default()
    };
    if let Some(want) = expect_index
        && want != bytes.as_slice()
    {
        report.problems.push(format!(
            "{INDEX_FILE}: the store serves index sequence {}, not the index this publish signed",
            index.sequence
        ));
    }
    report.problems.extend(published_problem(r, keys, &bytes)?);
    report.problems.extend(feed_problem(r, keys, &index)?);
    report.problems.extend(audit_problem(r, &index)?);
    rehash(r, &index, &mut report)?;
    Ok(report)
}

fn published_problem(r: &dyn TreeReader, keys: &KeySet, index: &[u8]) -> Result<Option<String>> {
    let Some(env) = r.read_small(PUBLISHED_FILE, MAX_PUBLISHED_BYTES)? else {
        return Ok(Some(format!("{PUBLISHED_FILE}: missing")));
    };
    Ok(match verify_published(&env, keys, PUBLISHED_FILE) {
        Ok(p) if p.index_bytes == index => None,
        Ok(_) => Some(format!(
            "{PUBLISHED_FILE}: does not hold the signed index.json beside it"
        )),
        Err(e) => Some(e.to_string()),
    })
}

fn feed_problem(r: &dyn TreeReader, keys: &KeySet, index: &MirrorIndex) -> Result<Option<String>> {
    let sig_rel = format!("{HINTS_FILE}.minisig");
    let (Some(bytes), Some(sig)) = (
        r.read_small(HINTS_FILE, MAX_DOCUMENT_BYTES)?,
        r.read_small(&sig_rel, MAX_SIGNATURE_BYTES as u64)?,
    ) else {
        return Ok(Some(format!("{HINTS_FILE}: missing (or its signature)")));
    };
    Ok(match verify_signed(&bytes, &sig, keys, &sig_rel) {
        Err(e) => Some(e.to_string()),
        Ok(_) if bytes != index.hints().to_bytes() => {
            Some(format!("{HINTS_FILE}: does not match the signed index"))
        }
        Ok(c) if c != hints_comment(&index.product, index.sequence, &Sha256Digest::of(&bytes)) => {
            Some(format!("{sig_rel}: trusted comment does not match"))
        }
        Ok(_) => None,
    })
}

fn audit_problem(r: &dyn TreeReader, index: &MirrorIndex) -> Result<Option<String>> {
    let Some(log) = r.read_small(AUDIT_FILE, audit::MAX_LOG_BYTES)? else {
        return Ok(Some(format!("{AUDIT_FILE}: missing")));
    };
    Ok(match audit::verify_chain(&log, AUDIT_FILE) {
        Ok((_, Some(head))) if head == index.audit_head => None,
        Ok((_, head)) => Some(format!(
            "{AUDIT_FILE}: head {head:?} is not the one the signed index records ({:?})",
            index.audit_head
        )),
        Err(e) => Some(e.to_string()),
    })
}

fn rehash(r: &dyn TreeReader, index: &MirrorIndex, report: &mut CheckReport) -> Result<()> {
    for f in index.files.iter().chain(&index.trust) {
        let rel = f.path.as_str();
        report.files += 1;
        match r.hash(rel, f.size)? {
            None => {
                report.problems.push(format!("{rel}: missing on the store"));
                report.damaged.push(rel.to_string());
            }
            Some((d, n)) => {
                report.bytes += n;
                let found = if n != f.size {
                    Some(format!("{n} bytes, the signed index lists {}", f.size))
                } else if d != f.sha256 {
                    Some(format!("sha256 {d}, the signed index lists {}", f.sha256))
                } else {
                    None
                };
                if let Some(found) = found {
                    report.problems.push(format!(
                        "{rel}: {found}: the object on the store is damaged or was altered; publish again with --all to replace it"
                    ));
                    report.damaged.push(rel.to_string());
                }
            }
        }
    }
    Ok(())
}
