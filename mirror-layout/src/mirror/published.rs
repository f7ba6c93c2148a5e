//! `published.json` (`ferry.published/v1`): what ferry's readers fetch,
//! in one file, so that no reader is ever refused for a publish in
//! progress (issue 10, SPEC §3.7).
//!
//! The index, the feed and their two signatures are four files, each
//! replaced atomically but not together: a reader fetching them one by one
//! during a commit (or after a commit killed between two renames, until
//! the next ferry command rolls it forward) can see a new index with an
//! old signature, or an index and a feed of two different publishes. So
//! every commit also writes this envelope, by one atomic rename, after the
//! four files:
//!
//! ```json
//! {"schema": "ferry.published/v1", "index": "<index.json>", "index_sig": "<index.json.minisig>",
//!  "hints": "<feed/hints.json>", "hints_sig": "<feed/hints.json.minisig>"}
//! ```
//!
//! Each string holds the exact bytes of the file it names, so the envelope
//! adds no trust of its own: a reader parses the envelope (strict JSON),
//! verifies each signature over the bytes it carries, and only then parses
//! those bytes. A static web server serves it like any other file; a
//! reader sees the old envelope or the new one, never a mix. Readers that
//! find no envelope (a mirror written by an older ferry) read the four
//! files and retry a few times when they do not agree.

use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::hints::Hints;
use ferry_manifests::minisig::{KeySet, SecretKey, read_small_bytes};

use super::index::{MirrorIndex, hints_comment, index_comment};
use super::{verify_hints_bytes, verify_index_bytes};
use crate::error::{Error, Result};
use crate::fsutil::is_regular_file;

/// The file, at the mirror root.
pub const PUBLISHED_FILE: &str = "published.json";
/// Its schema.
pub const PUBLISHED_SCHEMA: &str = "ferry.published/v1";
/// The most a reader accepts (the limit of every ferry document); a
/// commit whose envelope would be larger is refused before anything is
/// changed (see [`write_publishable`]).
pub const MAX_PUBLISHED_BYTES: u64 = ferry_manifests::json::MAX_DOCUMENT_BYTES;

/// The envelope, as written and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// Always [`PUBLISHED_SCHEMA`].
    pub schema: String,
    /// The exact bytes of `index.json`.
    pub index: String,
    /// The exact bytes of `index.json.minisig`.
    pub index_sig: String,
    /// The exact bytes of `feed/hints.json`.
    pub hints: String,
    /// The exact bytes of `feed/hints.json.minisig`.
    pub hints_sig: String,
}

/// The envelope as a commit writes it: borrowed, so the index (the
/// largest document of a mirror) is not copied to build it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PublishedRef<'a> {
    /// Always [`PUBLISHED_SCHEMA`].
    pub schema: &'a str,
    /// The exact bytes of `index.json`.
    pub index: &'a str,
    /// The exact bytes of `index.json.minisig`.
    pub index_sig: &'a str,
    /// The exact bytes of `feed/hints.json`.
    pub hints: &'a str,
    /// The exact bytes of `feed/hints.json.minisig`.
    pub hints_sig: &'a str,
}

impl<'a> PublishedRef<'a> {
    /// The envelope of one publish.
    #[must_use]
    pub fn new(index: &'a str, index_sig: &'a str, hints: &'a str, hints_sig: &'a str) -> Self {
        PublishedRef {
            schema: PUBLISHED_SCHEMA,
            index,
            index_sig,
            hints,
            hints_sig,
        }
    }
}

/// An index and a feed of one publish, both verified.
#[derive(Debug, Clone)]
pub struct VerifiedPublish {
    /// The verified index.
    pub index: MirrorIndex,
    /// The exact index bytes that verified.
    pub index_bytes: Vec<u8>,
    /// The verified feed.
    pub hints: Hints,
}

/// Parses an envelope (strict: unknown fields and duplicate keys refused),
/// verifies index and feed signatures with `keys` and their trusted
/// comments, then parses the verified bytes; index and feed must be of the
/// same product and publish. `what` names the envelope in messages.
///
/// # Errors
/// [`Error::Manifest`] for a bad envelope, signature or document;
/// [`Error::Refused`] when index and feed are of different publishes.
pub fn verify_published(bytes: &[u8], keys: &KeySet, what: &str) -> Result<VerifiedPublish> {
    let env: Published = ferry_manifests::json::parse_document(bytes, what, PUBLISHED_SCHEMA)?;
    let index_what = format!("{what} (index)");
    let index = verify_index_bytes(
        env.index.as_bytes(),
        env.index_sig.as_bytes(),
        keys,
        &index_what,
    )?;
    let hints_what = format!("{what} (feed)");
    let hints = verify_hints_bytes(
        env.hints.as_bytes(),
        env.hints_sig.as_bytes(),
        keys,
        &hints_what,
    )?;
    check_same_publish(&index, &hints, what)?;
    Ok(VerifiedPublish {
        index,
        index_bytes: env.index.into_bytes(),
        hints,
    })
}

/// Refuses a feed that is not of the index's publish.
///
/// # Errors
/// [`Error::Refused`].
pub fn check_same_publish(index: &MirrorIndex, hints: &Hints, what: &str) -> Result<()> {
    if hints.product != index.product || hints.sequence != index.sequence {
        return Err(Error::refused(
            what,
            format!(
                "the feed is publish {} of {}, but the index is publish {} of {}",
                hints.sequence, hints.product, index.sequence, index.product
            ),
        ));
    }
    Ok(())
}

/// A publish, signed, ready to write: the feed, the index and their
/// signatures; the envelope holding all four is streamed by
/// [`SignedPublish::write_envelope`] (at 100,000 files the index is tens
/// of megabytes: one copy in memory, not three, issue 17).
#[derive(Debug)]
pub(crate) struct SignedPublish {
    /// `feed/hints.json`.
    pub(crate) hints: Vec<u8>,
    /// `feed/hints.json.minisig`.
    pub(crate) hints_sig: String,
    /// `index.json`.
    pub(crate) index: Vec<u8>,
    /// `index.json.minisig`.
    pub(crate) index_sig: String,
}

impl SignedPublish {
    /// Writes `published.json` to `out`, refusing (before anything
    /// final is written: callers write to staging or to memory) what a
    /// reader would refuse ([`write_publishable`]).
    ///
    /// # Errors
    /// [`Error::Refused`]; [`Error::Io`] naming `published.json`.
    pub(crate) fn write_envelope(&self, out: &mut dyn std::io::Write) -> Result<()> {
        write_publishable(
            &PublishedRef::new(
                utf8(&self.index, super::INDEX_FILE)?,
                &self.index_sig,
                utf8(&self.hints, super::HINTS_FILE)?,
                &self.hints_sig,
            ),
            out,
            PUBLISHED_FILE,
        )
    }
}

/// Signs the feed and the index of `index` with `key`. The one place a
/// publish is signed (init, import, prune, publish-entry).
///
/// # Errors
/// Signing errors.
pub(crate) fn sign_publish(index: &MirrorIndex, key: &SecretKey) -> Result<SignedPublish> {
    let hints = index.hints().to_bytes();
    let hints_sig = key.sign(
        &hints[..],
        &hints_comment(&index.product, index.sequence, &Sha256Digest::of(&hints)),
    )?;
    let bytes = index.to_bytes();
    let index_sig = key.sign(
        &bytes[..],
        &index_comment(&index.product, index.sequence, &Sha256Digest::of(&bytes)),
    )?;
    Ok(SignedPublish {
        hints,
        hints_sig,
        index: bytes,
        index_sig,
    })
}

fn utf8<'a>(b: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(b)
        .map_err(|_| Error::refused(what, "is not UTF-8 (a bug: nothing was written)"))
}

/// Never publish what ferry refuses to read (issue 10): the index, the
/// feed and the envelope must each be within the readers' limit. Writes
/// the envelope to `out` (named `what` in errors), counting; callers write
/// to staging or memory, so a refusal changes nothing.
///
/// # Errors
/// [`Error::Refused`] naming the document, its size and the limit;
/// [`Error::Io`].
pub fn write_publishable(
    env: &PublishedRef<'_>,
    out: &mut dyn std::io::Write,
    what: &str,
) -> Result<()> {
    let limit = MAX_PUBLISHED_BYTES;
    let too_big = |what: &str, n: u64| {
        Error::refused(
            what,
            format!(
                "would be {n} bytes, more than the {limit} bytes ferry reads; nothing was changed (prune old versions with ferry-mirror prune, or split the product across mirrors)"
            ),
        )
    };
    for (doc, n) in [
        (super::INDEX_FILE, env.index.len() as u64),
        (super::HINTS_FILE, env.hints.len() as u64),
    ] {
        if n > limit {
            return Err(too_big(doc, n));
        }
    }
    let mut counted = ferry_bundle::Counting { inner: out, n: 0 };
    let io = |e: std::io::Error| Error::io(std::path::Path::new(what), "write", e);
    serde_json::to_writer_pretty(&mut counted, env).map_err(|e| io(e.into()))?;
    std::io::Write::write_all(&mut counted, b"\n").map_err(io)?;
    if counted.n > limit {
        return Err(too_big(PUBLISHED_FILE, counted.n));
    }
    Ok(())
}

impl super::Mirror {
    /// What `ferry-mirror serve` checks before it says it is healthy: an
    /// interrupted change is rolled forward first when no other ferry
    /// process holds the lock (refused while one does: a publish is in
    /// progress); then `published.json`, the index and the feed each
    /// verify with the mirror key recorded at init, the three agree, and
    /// the audit log is the chain the index records.
    ///
    /// # Errors
    /// [`Error::Locked`] while another process changes the mirror; any
    /// verification error naming the file.
    pub fn check_served(&self) -> Result<VerifiedPublish> {
        if is_regular_file(&self.root().join(super::commit::ARMED)) {
            let lock = self.lock()?;
            self.recover(&lock)?;
        }
        let keys = self.recorded_keys()?;
        let (index, bytes) = self.read_index(&keys)?;
        let hints_bytes = read_small_bytes(
            &self.root().join(super::HINTS_FILE),
            ferry_manifests::json::MAX_DOCUMENT_BYTES,
        )?;
        let hints = verify_hints_bytes(
            &hints_bytes,
            &read_small_bytes(
                &self.root().join(format!("{}.minisig", super::HINTS_FILE)),
                ferry_manifests::minisig::MAX_SIGNATURE_BYTES as u64,
            )?,
            &keys,
            super::HINTS_FILE,
        )?;
        check_same_publish(&index, &hints, super::HINTS_FILE)?;
        let env = read_small_bytes(&self.root().join(PUBLISHED_FILE), MAX_PUBLISHED_BYTES)?;
        let published = verify_published(&env, &keys, PUBLISHED_FILE)?;
        if published.index_bytes != bytes {
            return Err(Error::refused(
                PUBLISHED_FILE,
                "does not hold the index.json beside it (an interrupted publish: run any ferry-mirror command, e.g. fsck, to finish it)",
            ));
        }
        self.check_audit_head(index.audit_head)?;
        Ok(published)
    }
}

/// `fsck`'s check of `published.json`: it must verify and hold the
/// `index.json` beside it. A mirror written by an older ferry has none
/// (its next import or prune writes it): not a problem.
pub(crate) fn fsck_problem(
    root: &std::path::Path,
    keys: &KeySet,
    index_bytes: &[u8],
) -> Option<String> {
    let path = root.join(PUBLISHED_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return None;
    }
    let res = read_small_bytes(&path, MAX_PUBLISHED_BYTES)
        .map_err(Error::from)
        .and_then(|b| verify_published(&b, keys, PUBLISHED_FILE));
    match res {
        Ok(p) if p.index_bytes == index_bytes => None,
        Ok(_) => Some(format!(
            "{PUBLISHED_FILE}: does not hold the signed index.json beside it"
        )),
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Never publish what ferry refuses to read: an index, a feed or an
    /// envelope over the readers' limit is refused before anything is armed.
    #[test]
    fn what_readers_refuse_is_never_published() {
        let check = |env: &PublishedRef<'_>| {
            write_publishable(env, &mut Vec::new(), PUBLISHED_FILE).map_err(|e| e.to_string())
        };
        let small = PublishedRef::new("{}", "sig", "{}", "sig");
        assert!(check(&small).is_ok());
        let big = "x".repeat(usize::try_from(MAX_PUBLISHED_BYTES).unwrap() + 1);
        let err = check(&PublishedRef::new(&big, "s", "{}", "s")).unwrap_err();
        assert!(err.starts_with("index.json: would be"), "{err}");
        let err = check(&PublishedRef::new("{}", "s", &big, "s")).unwrap_err();
        assert!(err.starts_with("feed/hints.json: would be"), "{err}");
        // Each document under the limit, but the envelope of both over it.
        let half = "y".repeat(usize::try_from(MAX_PUBLISHED_BYTES / 2).unwrap() + 10);
        let err = check(&PublishedRef::new(&half, "s", &half, "s")).unwrap_err();
        assert!(err.starts_with("published.json: would be"), "{err}");
    }
}
