//! # ferry-publish
//!
//! `ferry-mirror publish` (SPEC §3.14, issue 14): the signed mirror put on
//! S3-compatible object storage, so that any number of web frontends, or
//! the store's own website endpoint, serve it to hosts that read it over
//! HTTP like any other mirror.
//!
//! A publish, in order:
//!
//! 1. **Probe** ([`probe`]): one object written twice with
//!    `If-None-Match: *`; a second answer of 412 means the store honours
//!    conditional writes. Measured, never assumed (Garage 2.x ignores the
//!    header).
//! 2. **Guard**: with conditional writes, nothing yet (the index write
//!    below is a compare-and-swap); without, a lock object with an expiry
//!    ([`lock`]) and a warning that one publisher at a time is the
//!    operator's duty.
//! 3. **What the store holds**: its `index.json`, verified with the mirror
//!    keys readers trust (else its `published.json`; else nothing, and
//!    everything is uploaded). A store holding a newer index, or one
//!    whose audit log is not this mirror's history, is refused.
//! 4. **Record**: an audit entry (target, objects, bytes) is committed to
//!    the local mirror, journaled like a prune, re-signing the index.
//! 5. **Content** the store's index does not list ([`plan`]), in parallel
//!    (bounded), multipart above [`upload::PART_SIZE`], each checked after
//!    the upload (size; the MD5 ETag where the store returns one); an
//!    object an interrupted publish already uploaded is not sent again.
//! 6. **Documents** last: the audit log, the feed, `published.json`, the
//!    index and its signature ([`plan::DOCUMENTS`]). With conditional
//!    writes the index goes first of them, `If-Match` the ETag read in
//!    step 3: a publisher that lost the race gets [`Error::Conflict`]
//!    (exit 3) having changed nothing a reader follows.
//! 7. `--verify`: everything re-read and re-hashed ([`check`]).
//!
//! ```
//! use ferry_publish::target::Target;
//! let t = Target::parse("s3://mirror/novantra").unwrap();
//! assert_eq!(t.key("index.json"), "novantra/index.json");
//! ```
//!
//! The client is `object_store` (see [`store`] for why). Credentials are
//! passed in by the binary; nothing here reads the environment or prints.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod error;
pub mod lock;
pub mod plan;
pub mod probe;
mod run;
pub mod store;
pub mod target;
pub mod upload;

pub use error::{Error, Result};
pub use run::{Guard, PublishOptions, PublishOutcome, publish};

/// Where a publish reports progress; the binary renders it. Every method
/// has an empty default.
pub trait Progress: Send + Sync {
    /// The plan: objects and content bytes to upload.
    fn begin(&self, _objects: usize, _bytes: u64) {}
    /// An object is on the store (`uploaded`: sent now; else it was there).
    fn object_done(&self, _path: &str, _bytes: u64, _uploaded: bool) {}
    /// A warning for the operator.
    fn note(&self, _message: &str) {}
    /// The uploads ended.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

impl check::TreeReader for store::Store {
    fn location(&self, rel: &str) -> String {
        format!("{}/{rel}", self.target())
    }

    fn read_small(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .block_on(self.get(rel, limit))?
            .map(|(b, _)| b.to_vec()))
    }

    fn hash(
        &self,
        rel: &str,
        limit: u64,
    ) -> Result<Option<(ferry_manifests::digest::Sha256Digest, u64)>> {
        self.block_on(store::Store::hash(self, rel, limit))
    }
}
