//! Running one file's checks over its bytes (split from the checker): the
//! single-threaded path and the pipelined one (SHA-256 and the minisign
//! verification or prehash on separate threads over the same buffers).

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use ferry_manifests::artifact::{MinisignCheck, StreamCheck};
use ferry_manifests::decide::VendorChecks;
use ferry_manifests::digest::{Sha256Digest, Sha256Hasher};
use ferry_manifests::manifest::{FileEntry, ManifestArtifact, Upstream};
use ferry_manifests::minisig::{KeyId, Legacy, PublicKey, SignatureFile};
use ferry_manifests::policy::VendorPolicy;
use ferry_manifests::prehash::Prehasher;
use ferry_manifests::release::SigKind;

use super::BUF;
use super::checker::{FileResult, Sink};
use super::deferred::Awaited;
use crate::error::{Error, Result};

/// A file about to be checked: everything its check needs, owned, so
/// several can run on different threads.
#[derive(Debug)]
pub struct Plan {
    pub(super) entry: FileEntry,
    pub(super) role: &'static str,
    pub(super) minisign: Vec<(SignatureFile, PublicKey, String)>,
    pub(super) legacy: Legacy,
    pub(super) keep: bool,
    pub(super) notes: Vec<String>,
    /// Sigstore bundles to check over the artifact's digest, with the
    /// vendor policy that says whom to accept.
    pub(super) sigstore: Vec<(String, Vec<u8>)>,
    pub(super) vendor: Option<ferry_manifests::policy::VendorPolicy>,
    /// Upstream signatures that come after this artifact.
    pub(super) awaited: Vec<Awaited>,
    /// Where the bytes read are reported (issue 16).
    pub(super) progress: ferry_durable::progress::ProgressHandle,
}

/// What a finished [`Plan`] hands back to the [`Checker`].
#[derive(Debug)]
pub struct Done {
    pub(super) result: FileResult,
    pub(super) kept: Option<Vec<u8>>,
    pub(super) awaited: Vec<Awaited>,
    pub(super) prehash: Option<[u8; 64]>,
    /// Prehashed vendor signatures over this file: their Ed25519 checks
    /// run in the checker's batch, against `prehash` (issue 17).
    pub(super) signed: Vec<(SignatureFile, PublicKey, String)>,
}

impl Plan {
    /// The manifest entry.
    #[must_use]
    pub fn entry(&self) -> &FileEntry {
        &self.entry
    }

    /// Reads exactly the file's bytes from `reader` (which must not yield
    /// more), checking size, digest and vendor signatures in one pass.
    ///
    /// Reading, SHA-256 and the minisign prehash (BLAKE2b-512) run on
    /// separate threads over the same buffers (SPEC §6: the two digests
    /// side by side on the two cores, over one read). Legacy signatures,
    /// which need the whole message, take the single-threaded path.
    ///
    /// # Errors
    /// Size or digest mismatch, truncation, a bad signature, or a read error.
    pub fn run(mut self, reader: &mut dyn Read, sink: &mut dyn Sink) -> Result<Done> {
        let progress = self.progress.clone();
        let reader = &mut progress.reader(reader);
        // Prehashed signatures need only the file's BLAKE2b-512 here; their
        // Ed25519 checks are batched by the checker. Legacy ones need the
        // whole message, on the single-threaded path.
        let (signed, legacy): (Vec<_>, Vec<_>) = std::mem::take(&mut self.minisign)
            .into_iter()
            .partition(|(sig, _, _)| sig.is_prehashed());
        self.minisign = legacy;
        let (sha256, size, kept, prehash) =
            if !self.minisign.is_empty() || self.entry.size < PIPELINE_MIN {
                self.run_simple(reader, sink, !signed.is_empty())?
            } else {
                self.run_pipelined(reader, sink, !signed.is_empty())?
            };
        let mut vendor = self.notes;
        for (sig, _, sig_path) in self.minisign.iter().chain(&signed) {
            vendor.push(format!(
                "minisign {sig_path}: valid, vendor key {}",
                sig.key_id()
            ));
        }
        // Sigstore bundles sign the artifact's digest: checked once the
        // bytes hashed to the manifest's SHA-256.
        if !self.sigstore.is_empty() {
            let Some(policy) = &self.vendor else {
                return Err(Error::bundle(
                    self.entry.path.as_str(),
                    "Sigstore bundles to check but no vendor policy (internal error; refused)",
                ));
            };
            for (path, bytes) in &self.sigstore {
                let o =
                    ferry_manifests::sigstore::check_vendor_sigstore(policy, bytes, path, &sha256)?;
                vendor.push(format!(
                    "sigstore {path}: valid, identity {}, issuer {}, log index {}",
                    o.identity.as_deref().unwrap_or("(managed key)"),
                    o.issuer.as_deref().unwrap_or("-"),
                    o.log_index
                        .map_or_else(|| "-".to_string(), |i| i.to_string())
                ));
            }
        }
        Ok(Done {
            result: FileResult {
                path: self.entry.path.as_str().to_string(),
                size,
                sha256,
                role: self.role,
                vendor,
            },
            kept,
            awaited: self.awaited,
            prehash,
            signed,
        })
    }

    /// Whether the minisign prehash of this file is needed: for a
    /// prehashed signature seen already (`signed`) or still to come.
    fn wants_prehash(&self, signed: bool) -> bool {
        signed
            || self
                .awaited
                .iter()
                .any(|a| matches!(a, Awaited::Minisign { .. }))
    }

    fn truncated(&self, left: u64) -> Error {
        Error::bundle(
            self.entry.path.as_str(),
            format!(
                "truncated: {} of {} bytes present; copy the bundle again from the source medium",
                self.entry.size - left,
                self.entry.size
            ),
        )
    }

    fn run_simple(
        &self,
        reader: &mut dyn Read,
        sink: &mut dyn Sink,
        signed: bool,
    ) -> Result<Streamed> {
        let what = self.entry.path.as_str().to_string();
        let checks: Vec<MinisignCheck<'_>> = self
            .minisign
            .iter()
            .map(|(sig, key, sig_path)| MinisignCheck {
                key,
                sig,
                legacy: self.legacy,
                what: format!("{what}: vendor signature {sig_path}"),
            })
            .collect();
        let mut check = StreamCheck::new(
            &what,
            Some((self.entry.sha256, self.entry.size)),
            self.entry.size,
            checks,
        )?;
        sink.start(&self.entry)?;
        let mut kept = self.keep.then(Vec::new);
        let mut prehash = self.wants_prehash(signed).then(Prehasher::new);
        // No larger than the file: most files of a big bundle are small,
        // and a zeroed 256 KiB buffer a file added up (issue 17).
        let mut buf =
            vec![0u8; usize::try_from(self.entry.size.clamp(1, BUF as u64)).unwrap_or(BUF)];
        let mut left = self.entry.size;
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            let n = match reader.read(&mut buf[..want]) {
                Ok(0) => return Err(self.truncated(left)),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e, &what)),
            };
            check.update(&buf[..n])?;
            if let Some(h) = &mut prehash {
                h.update(&buf[..n]);
            }
            sink.data(&buf[..n])?;
            if let Some(k) = &mut kept {
                k.extend_from_slice(&buf[..n]);
            }
            left -= n as u64;
        }
        let (sha256, size) = check.finish()?;
        sink.done(&self.entry)?;
        Ok((sha256, size, kept, prehash.map(Prehasher::finish)))
    }

    fn run_pipelined(
        &self,
        reader: &mut dyn Read,
        sink: &mut dyn Sink,
        signed: bool,
    ) -> Result<Streamed> {
        let what = self.entry.path.as_str().to_string();
        sink.start(&self.entry)?;
        let mut kept = self.keep.then(Vec::new);
        let prehasher = self.wants_prehash(signed).then(Prehasher::new);
        let workers = if prehasher.is_none() { 1 } else { 2 };
        let (ret_tx, ret_rx) = channel::<Chunk>();
        let (sha_tx, sha_rx) = sync_channel::<Chunk>(PIPELINE_DEPTH);
        let (mini_tx, mini_rx) = sync_channel::<Chunk>(PIPELINE_DEPTH);
        let result = std::thread::scope(|sc| -> Result<(Sha256Digest, u64, Option<[u8; 64]>)> {
            let ret = ret_tx.clone();
            let sha_worker = sc.spawn(move || sha_stage(&sha_rx, &ret));
            let ret = ret_tx.clone();
            let mini_worker = sc.spawn(move || prehash_stage(&mini_rx, &ret, prehasher));
            drop(ret_tx);
            let feed = Feed {
                pool: BufferPool::new(ret_rx),
                sha: sha_tx,
                minisign: mini_tx,
                to_minisign: workers == 2,
            };
            let fed = self.feed(reader, sink, &mut kept, feed, &what);
            let (sha256, size) = sha_worker
                .join()
                .map_err(|_| Error::bundle(&what, "hashing thread failed"))?;
            let ph = mini_worker
                .join()
                .map_err(|_| Error::bundle(&what, "signature thread failed"))?;
            fed?;
            ferry_manifests::digest::check(
                &what,
                (&self.entry.sha256, self.entry.size),
                (&sha256, size),
            )?;
            Ok((sha256, size, ph.map(Prehasher::finish)))
        })?;
        sink.done(&self.entry)?;
        Ok((result.0, result.1, kept, result.2))
    }

    /// The reading side of the pipeline: reads the file chunk by chunk,
    /// hands each chunk to the sink (and keeps it when asked), then to the
    /// hashing and signature threads. Dropping `feed` on return ends them.
    fn feed(
        &self,
        reader: &mut dyn Read,
        sink: &mut dyn Sink,
        kept: &mut Option<Vec<u8>>,
        mut feed: Feed,
        what: &str,
    ) -> Result<()> {
        let mut left = self.entry.size;
        while left > 0 {
            let mut buf = feed.pool.take();
            buf.resize(PIPELINE_CHUNK, 0);
            let want = usize::try_from(left.min(PIPELINE_CHUNK as u64)).unwrap_or(PIPELINE_CHUNK);
            let got = read_up_to(reader, &mut buf[..want], what)?;
            if got == 0 {
                return Err(self.truncated(left));
            }
            buf.truncate(got);
            sink.data(&buf)?;
            if let Some(k) = kept {
                k.extend_from_slice(&buf);
            }
            left -= got as u64;
            let b = Arc::new(buf);
            if feed.to_minisign {
                let _ = feed.minisign.send(Arc::clone(&b));
            }
            let _ = feed.sha.send(b);
        }
        Ok(())
    }
}

/// A chunk of a file, shared by the pipeline's threads.
type Chunk = Arc<Vec<u8>>;

/// Where the reading side of the pipeline sends its chunks.
struct Feed {
    pool: BufferPool,
    sha: SyncSender<Chunk>,
    minisign: SyncSender<Chunk>,
    /// Whether the signature thread has work (minisign checks or prehash).
    to_minisign: bool,
}

/// Chunk buffers handed back by the workers, reused; at most
/// [`PIPELINE_BUFFERS`] are allocated (bounded memory).
struct BufferPool {
    returned: Receiver<Chunk>,
    free: Vec<Vec<u8>>,
    allocated: usize,
}

impl BufferPool {
    fn new(returned: Receiver<Chunk>) -> Self {
        BufferPool {
            returned,
            free: Vec::new(),
            allocated: 0,
        }
    }

    /// A free buffer: recycled, new (up to the cap), or waited for.
    fn take(&mut self) -> Vec<u8> {
        loop {
            while let Ok(b) = self.returned.try_recv() {
                if let Ok(v) = Arc::try_unwrap(b) {
                    self.free.push(v);
                }
            }
            if let Some(v) = self.free.pop() {
                return v;
            }
            if self.allocated < PIPELINE_BUFFERS {
                self.allocated += 1;
                return vec![0u8; PIPELINE_CHUNK];
            }
            match self.returned.recv() {
                Ok(b) => {
                    if let Ok(v) = Arc::try_unwrap(b) {
                        self.free.push(v);
                    }
                }
                Err(_) => return vec![0u8; PIPELINE_CHUNK],
            }
        }
    }
}

/// Fills `buf` from `reader` until it is full or the reader ends; returns
/// how many bytes it got.
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8], what: &str) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e, what)),
        }
    }
    Ok(got)
}

/// The hashing thread: SHA-256 over every chunk, each handed back.
fn sha_stage(chunks: &Receiver<Chunk>, ret: &Sender<Chunk>) -> (Sha256Digest, u64) {
    let mut h = Sha256Hasher::new();
    for b in chunks {
        h.update(&b);
        let _ = ret.send(b);
    }
    h.finish()
}

/// The signature thread: the minisign prehash (BLAKE2b-512) over every
/// chunk, each handed back.
fn prehash_stage(
    chunks: &Receiver<Chunk>,
    ret: &Sender<Chunk>,
    mut prehasher: Option<Prehasher>,
) -> Option<Prehasher> {
    for b in chunks {
        if let Some(h) = &mut prehasher {
            h.update(&b);
        }
        let _ = ret.send(b);
    }
    prehasher
}

/// What streaming a file yields: SHA-256, size, the bytes when kept, and
/// the minisign prehash when a signature comes later.
type Streamed = (Sha256Digest, u64, Option<Vec<u8>>, Option<[u8; 64]>);

/// Files smaller than this are checked on one thread.
const PIPELINE_MIN: u64 = 4 * 1024 * 1024;
/// Chunk size of the hashing pipeline.
const PIPELINE_CHUNK: usize = 1024 * 1024;
/// Chunks queued per worker.
const PIPELINE_DEPTH: usize = 3;
/// Most chunk buffers alive at once (bounded memory).
const PIPELINE_BUFFERS: usize = 8;

/// Converts an I/O error from a carrier into ours, keeping our own errors
/// (e.g. a volume reader's) intact.
pub(crate) fn io_err(e: std::io::Error, what: &str) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        if let Some(inner) = e.into_inner()
            && let Ok(inner) = inner.downcast::<Error>()
        {
            return *inner;
        }
        return Error::bundle(what, "read failed");
    }
    if e.get_ref()
        .is_some_and(|i| i.is::<ferry_manifests::Error>())
    {
        return ferry_manifests::digest::unwrap_io(e, what).into();
    }
    Error::Manifest(ferry_manifests::Error::Read {
        what: what.to_string(),
        source: e,
    })
}

impl Plan {
    /// A plan that checks size and SHA-256 only (notes); the caller adds
    /// the role's checks.
    pub(crate) fn new(entry: FileEntry, legacy: Legacy) -> Self {
        Plan {
            entry,
            role: "notes",
            minisign: Vec::new(),
            legacy,
            keep: false,
            notes: Vec::new(),
            sigstore: Vec::new(),
            vendor: None,
            awaited: Vec::new(),
            progress: ferry_durable::progress::ProgressHandle::default(),
        }
    }
}

/// An artifact's upstream signatures: those already seen (`upstream`,
/// taken out) become checks of this plan, those still to come are awaited
/// (checked against the prehash when they arrive, SPEC §3.6). Returns the
/// vendor checks the artifact will have had, for [`ferry_manifests::decide::vendor_checks`].
pub(crate) fn plan_upstream(
    plan: &mut Plan,
    a: &ManifestArtifact,
    vendor: &VendorPolicy,
    upstream: &mut HashMap<String, Vec<u8>>,
) -> Result<VendorChecks> {
    let mut sigstore = false;
    for u in &a.upstream {
        match u {
            Upstream::Minisign { path, key_id } => {
                let declared = KeyId::parse(key_id).map_err(|m| Error::bundle(path.as_str(), m))?;
                let Some(bytes) = upstream.remove(path.as_str()) else {
                    plan.awaited.push(Awaited::Minisign {
                        path: path.as_str().to_string(),
                        key_id: declared,
                    });
                    continue;
                };
                let sig = SignatureFile::parse(&bytes, path.as_str())?;
                if sig.key_id() != declared {
                    return Err(Error::bundle(
                        path.as_str(),
                        format!(
                            "made by key {}, but the manifest says key {declared}",
                            sig.key_id()
                        ),
                    ));
                }
                match vendor.minisign_keys.get(declared) {
                    Some(key) => plan
                        .minisign
                        .push((sig, key.clone(), path.as_str().to_string())),
                    None => plan.notes.push(format!(
                        "minisign {path}: not checked, key {declared} is not a vendor key of this policy"
                    )),
                }
            }
            Upstream::Sigstore { path, .. } => {
                sigstore = true;
                let Some(bytes) = upstream.remove(path.as_str()) else {
                    plan.awaited.push(Awaited::Sigstore {
                        path: path.as_str().to_string(),
                    });
                    continue;
                };
                if vendor.sigstore_ready() {
                    plan.sigstore.push((path.as_str().to_string(), bytes));
                    plan.vendor = Some(vendor.clone());
                } else {
                    plan.notes.push(format!(
                        "sigstore {path}: not checked, the policy has no vendor.sigstore_trusted_root and identities"
                    ));
                }
            }
        }
    }
    let later = |k: SigKind| {
        plan.awaited.iter().any(|a| match a {
            Awaited::Minisign { .. } => k == SigKind::Minisign,
            Awaited::Sigstore { .. } => k == SigKind::Sigstore,
        })
    };
    Ok(VendorChecks {
        minisign: !plan.minisign.is_empty() || later(SigKind::Minisign),
        sigstore: (sigstore && !plan.sigstore.is_empty()) || later(SigKind::Sigstore),
    })
}
