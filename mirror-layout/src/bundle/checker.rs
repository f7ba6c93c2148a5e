//! The rules every bundle carrier shares (SPEC §3.3, §3.6): what may come
//! first, which entries are allowed, and the per-file checks (size, SHA-256,
//! vendor signatures) done while the bytes stream by.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use ferry_manifests::artifact::{MinisignCheck, StreamCheck};
use ferry_manifests::digest::{Sha256Digest, Sha256Hasher};
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::manifest::{
    FileEntry, FileRole, MANIFEST_PATH, SHA256SUMS_PATH, SIGNATURES_DIR, Upstream, check_sha256sums,
};
use ferry_manifests::minisig::{
    KeyId, Legacy, MAX_SIGNATURE_BYTES, OfferedSignature, PublicKey, SignatureFile,
};
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::prehash::Prehasher;
use ferry_manifests::release::SigKind;
use serde::Serialize;

use super::deferred::{Awaited, Deferred, Hashed};
use super::manifest::{VerifiedManifest, VerifyOptions, verify_manifest};
use super::{BUF, MAX_SIGNATURES, MAX_UPSTREAM_SIG_BYTES};
use crate::error::{Error, Result};

/// Receives each listed file's bytes while they stream by (the mirror
/// import writes them into staging). `done` is called only after that file
/// passed (size, digest, vendor signatures); the bundle as a whole passed
/// only when the verify call returns `Ok` — until then, nothing received
/// may be published.
pub trait Sink {
    /// A listed file starts; its manifest entry says what must follow.
    ///
    /// # Errors
    /// Whatever the sink fails with; verification stops.
    fn start(&mut self, file: &FileEntry) -> Result<()> {
        let _ = file;
        Ok(())
    }
    /// The next bytes of the current file (not yet verified).
    ///
    /// # Errors
    /// Whatever the sink fails with; verification stops.
    fn data(&mut self, buf: &[u8]) -> Result<()> {
        let _ = buf;
        Ok(())
    }
    /// The current file passed every check.
    ///
    /// # Errors
    /// Whatever the sink fails with; verification stops.
    fn done(&mut self, file: &FileEntry) -> Result<()> {
        let _ = file;
        Ok(())
    }
}

/// A sink that keeps nothing (plain verification).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;
impl Sink for NullSink {}

/// One verified file, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    /// Path in the bundle.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes read.
    pub sha256: Sha256Digest,
    /// `artifact`, `upstream-signature`, `notes`, `sha256sums`.
    pub role: &'static str,
    /// Vendor signature checks done on it, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vendor: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Signatures,
    Files,
}

/// A file about to be checked: everything its check needs, owned, so
/// several can run on different threads.
#[derive(Debug)]
pub struct Plan {
    entry: FileEntry,
    role: &'static str,
    minisign: Vec<(SignatureFile, PublicKey, String)>,
    legacy: Legacy,
    keep: bool,
    notes: Vec<String>,
    /// Sigstore bundles to check over the artifact's digest, with the
    /// vendor policy that says whom to accept.
    sigstore: Vec<(String, Vec<u8>)>,
    vendor: Option<ferry_manifests::policy::VendorPolicy>,
    /// Upstream signatures that come after this artifact.
    awaited: Vec<Awaited>,
}

/// What a finished [`Plan`] hands back to the [`Checker`].
#[derive(Debug)]
pub struct Done {
    result: FileResult,
    kept: Option<Vec<u8>>,
    awaited: Vec<Awaited>,
    prehash: Option<[u8; 64]>,
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
    pub fn run(self, reader: &mut dyn Read, sink: &mut dyn Sink) -> Result<Done> {
        let legacy = self.minisign.iter().any(|(sig, _, _)| !sig.is_prehashed());
        let (sha256, size, kept, prehash) = if legacy || self.entry.size < PIPELINE_MIN {
            self.run_simple(reader, sink)?
        } else {
            self.run_pipelined(reader, sink)?
        };
        let mut vendor = self.notes;
        for (sig, _, sig_path) in &self.minisign {
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
        })
    }

    /// Whether the minisign prehash of this file is needed later.
    fn wants_prehash(&self) -> bool {
        self.awaited
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

    fn run_simple(&self, reader: &mut dyn Read, sink: &mut dyn Sink) -> Result<Streamed> {
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
        let mut prehash = self.wants_prehash().then(Prehasher::new);
        let mut buf = vec![0u8; BUF];
        let mut left = self.entry.size;
        while left > 0 {
            let want = usize::try_from(left.min(BUF as u64)).unwrap_or(BUF);
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

    fn run_pipelined(&self, reader: &mut dyn Read, sink: &mut dyn Sink) -> Result<Streamed> {
        use std::sync::Arc;
        use std::sync::mpsc::{channel, sync_channel};
        let what = self.entry.path.as_str().to_string();
        let mut verifiers = Vec::new();
        for (sig, key, sig_path) in &self.minisign {
            verifiers
                .push(key.verify_stream(sig, &format!("{what}: vendor signature {sig_path}"))?);
        }
        sink.start(&self.entry)?;
        let mut kept = self.keep.then(Vec::new);
        let prehasher = self.wants_prehash().then(Prehasher::new);
        let workers = if verifiers.is_empty() && prehasher.is_none() {
            1
        } else {
            2
        };
        let (ret_tx, ret_rx) = channel::<Arc<Vec<u8>>>();
        let (sha_tx, sha_rx) = sync_channel::<Arc<Vec<u8>>>(PIPELINE_DEPTH);
        let (mini_tx, mini_rx) = sync_channel::<Arc<Vec<u8>>>(PIPELINE_DEPTH);
        let result = std::thread::scope(|sc| -> Result<(Sha256Digest, u64, Option<[u8; 64]>)> {
            let ret = ret_tx.clone();
            let sha_worker = sc.spawn(move || {
                let mut h = Sha256Hasher::new();
                for b in sha_rx {
                    h.update(&b);
                    let _ = ret.send(b);
                }
                h.finish()
            });
            let ret = ret_tx.clone();
            let mini_worker = sc.spawn(move || {
                let mut vs = verifiers;
                let mut ph = prehasher;
                for b in mini_rx {
                    for v in &mut vs {
                        v.update(&b);
                    }
                    if let Some(h) = &mut ph {
                        h.update(&b);
                    }
                    let _ = ret.send(b);
                }
                (vs, ph)
            });
            drop(ret_tx);
            let mut pool: Vec<Vec<u8>> = Vec::new();
            let mut allocated = 0usize;
            let mut left = self.entry.size;
            let mut failure = None;
            while left > 0 {
                // A free buffer: recycled, new (up to the cap), or waited for.
                let mut buf = loop {
                    while let Ok(b) = ret_rx.try_recv() {
                        if let Ok(v) = Arc::try_unwrap(b) {
                            pool.push(v);
                        }
                    }
                    if let Some(v) = pool.pop() {
                        break v;
                    }
                    if allocated < PIPELINE_BUFFERS {
                        allocated += 1;
                        break vec![0u8; PIPELINE_CHUNK];
                    }
                    match ret_rx.recv() {
                        Ok(b) => {
                            if let Ok(v) = Arc::try_unwrap(b) {
                                pool.push(v);
                            }
                        }
                        Err(_) => break vec![0u8; PIPELINE_CHUNK],
                    }
                };
                buf.resize(PIPELINE_CHUNK, 0);
                let want =
                    usize::try_from(left.min(PIPELINE_CHUNK as u64)).unwrap_or(PIPELINE_CHUNK);
                let mut got = 0;
                while got < want {
                    match reader.read(&mut buf[got..want]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            failure = Some(io_err(e, &what));
                            break;
                        }
                    }
                }
                if failure.is_some() {
                    break;
                }
                if got == 0 {
                    failure = Some(self.truncated(left));
                    break;
                }
                buf.truncate(got);
                if let Err(e) = sink.data(&buf) {
                    failure = Some(e);
                    break;
                }
                if let Some(k) = &mut kept {
                    k.extend_from_slice(&buf);
                }
                left -= got as u64;
                let b = Arc::new(buf);
                if workers == 2 {
                    let _ = mini_tx.send(Arc::clone(&b));
                }
                let _ = sha_tx.send(b);
            }
            drop(sha_tx);
            drop(mini_tx);
            let (sha256, size) = sha_worker
                .join()
                .map_err(|_| Error::bundle(&what, "hashing thread failed"))?;
            let (vs, ph) = mini_worker
                .join()
                .map_err(|_| Error::bundle(&what, "signature thread failed"))?;
            if let Some(e) = failure {
                return Err(e);
            }
            ferry_manifests::digest::check(
                &what,
                (&self.entry.sha256, self.entry.size),
                (&sha256, size),
            )?;
            for v in vs {
                v.finalize()?;
            }
            Ok((sha256, size, ph.map(Prehasher::finish)))
        })?;
        sink.done(&self.entry)?;
        Ok((result.0, result.1, kept, result.2))
    }
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

/// Everything a verification found, once the bundle passed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The manifest.
    pub manifest: VerifiedManifest,
    /// Every file, in the order checked.
    pub files: Vec<FileResult>,
    /// Notes that are not failures (ignored signatures, unchecked kinds).
    pub findings: Vec<String>,
}

/// The state machine every carrier drives, entry by entry.
pub struct Checker<'p> {
    policy: &'p TrustPolicy,
    opts: VerifyOptions,
    stage: Stage,
    manifest_bytes: Vec<u8>,
    sigs: Vec<OfferedSignature>,
    verified: Option<VerifiedManifest>,
    allowed_dirs: HashSet<String>,
    seen_dirs: HashSet<String>,
    seen: HashSet<String>,
    upstream: HashMap<String, Vec<u8>>,
    deferred: Deferred,
    file_index: HashMap<String, usize>,
    early_sums: Option<Vec<u8>>,
    sums: Option<Vec<u8>>,
    files: Vec<FileResult>,
    findings: Vec<String>,
    manifest_only: bool,
}

impl<'p> Checker<'p> {
    /// A check that stops once the manifest and its signatures passed
    /// (`ferry-verify manifest`); `[vendor]` is not needed.
    ///
    /// # Errors
    /// [`ferry_manifests::Error::Config`] when `[transfer]` is missing.
    pub fn manifest_only(policy: &'p TrustPolicy, opts: VerifyOptions) -> Result<Self> {
        policy.transfer()?;
        let mut c = Checker::build(policy, opts);
        c.manifest_only = true;
        Ok(c)
    }

    /// Whether a manifest-only check is complete (carriers stop reading).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.manifest_only && self.verified.is_some()
    }

    /// The verified manifest (a manifest-only check's result).
    ///
    /// # Errors
    /// See [`Checker::seal`].
    pub fn into_manifest(mut self) -> Result<VerifiedManifest> {
        self.seal()?;
        Ok(self.verified.take().expect("sealed"))
    }

    /// A fresh check. The policy must have `[transfer]` and `[vendor]`.
    ///
    /// # Errors
    /// [`ferry_manifests::Error::Config`] (exit 2) when a section is missing.
    pub fn new(policy: &'p TrustPolicy, opts: VerifyOptions) -> Result<Self> {
        policy.transfer()?;
        policy.vendor()?;
        Ok(Checker::build(policy, opts))
    }

    fn build(policy: &'p TrustPolicy, opts: VerifyOptions) -> Self {
        Checker {
            policy,
            opts,
            stage: Stage::Start,
            manifest_bytes: Vec::new(),
            sigs: Vec::new(),
            verified: None,
            allowed_dirs: HashSet::new(),
            seen_dirs: HashSet::new(),
            seen: HashSet::new(),
            upstream: HashMap::new(),
            deferred: Deferred::default(),
            file_index: HashMap::new(),
            early_sums: None,
            sums: None,
            files: Vec::new(),
            findings: Vec::new(),
            manifest_only: false,
        }
    }

    /// The verified manifest, once signatures were checked.
    #[must_use]
    pub fn manifest(&self) -> Option<&VerifiedManifest> {
        self.verified.as_ref()
    }

    /// A directory entry: allowed only for parents of listed files (and
    /// `ferry/`, `ferry/signatures/`), once each.
    ///
    /// # Errors
    /// [`Error::Bundle`] naming the entry.
    pub fn directory(&mut self, name: &str) -> Result<()> {
        let p = bundle_path(name)?;
        let s = p.as_str().to_string();
        let ok = match self.stage {
            Stage::Start => s == "ferry",
            Stage::Signatures if s == "ferry" || s == SIGNATURES_DIR => true,
            _ => {
                self.seal()?;
                if self.manifest_only {
                    return Ok(());
                }
                self.allowed_dirs.contains(&s)
            }
        };
        if !ok {
            return Err(Error::bundle(
                &s,
                "directory entry that is not the parent of a listed file (refused)",
            ));
        }
        if !self.seen_dirs.insert(s.clone()) {
            return Err(Error::bundle(
                &s,
                "directory listed twice (duplicate entry)",
            ));
        }
        Ok(())
    }

    /// A regular-file entry of `size` bytes whose data `reader` yields.
    ///
    /// # Errors
    /// Any rule of SPEC §3.6 or any per-file check.
    pub fn file(
        &mut self,
        name: &str,
        size: u64,
        reader: &mut dyn Read,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        if let Some(plan) = self.plan(name, size, reader)? {
            let done = plan.run(reader, sink)?;
            self.record(done)?;
        }
        Ok(())
    }

    /// Checks a file entry's name, place and size; for the manifest and its
    /// signatures reads them (they are small) and returns `None`; for every
    /// other file returns the plan to run over its bytes.
    ///
    /// # Errors
    /// Any rule of SPEC §3.6.
    pub fn plan(&mut self, name: &str, size: u64, reader: &mut dyn Read) -> Result<Option<Plan>> {
        let p = bundle_path(name)?;
        let s = p.as_str();
        match self.stage {
            // GNU tar sorts `ferry/SHA256SUMS` before `ferry/manifest.json`
            // (byte order): the one file taken before the manifest, held
            // in memory (it is small) and checked once the manifest is.
            Stage::Start if s == SHA256SUMS_PATH && self.early_sums.is_none() => {
                if size > MAX_DOCUMENT_BYTES {
                    return Err(ferry_manifests::Error::DocumentTooLarge {
                        doc: s.to_string(),
                        limit: MAX_DOCUMENT_BYTES,
                    }
                    .into());
                }
                self.early_sums = Some(read_exact_small(reader, size, s)?);
                return Ok(None);
            }
            Stage::Start => {
                if s != MANIFEST_PATH {
                    return Err(Error::bundle(
                        s,
                        format!("the first file of a bundle must be {MANIFEST_PATH} (refused)"),
                    ));
                }
                if size > MAX_DOCUMENT_BYTES {
                    return Err(ferry_manifests::Error::DocumentTooLarge {
                        doc: MANIFEST_PATH.into(),
                        limit: MAX_DOCUMENT_BYTES,
                    }
                    .into());
                }
                self.manifest_bytes = read_exact_small(reader, size, s)?;
                self.seen.insert(s.to_string());
                self.stage = Stage::Signatures;
                return Ok(None);
            }
            Stage::Signatures if is_signature(&p) => {
                if self.sigs.len() >= MAX_SIGNATURES {
                    return Err(Error::bundle(
                        s,
                        format!("more than {MAX_SIGNATURES} manifest signatures (refused)"),
                    ));
                }
                if size > MAX_SIGNATURE_BYTES as u64 {
                    return Err(ferry_manifests::Error::DocumentTooLarge {
                        doc: s.to_string(),
                        limit: MAX_SIGNATURE_BYTES as u64,
                    }
                    .into());
                }
                if !self.seen.insert(s.to_string()) {
                    return Err(Error::bundle(s, "listed twice (duplicate entry)"));
                }
                let bytes = read_exact_small(reader, size, s)?;
                self.sigs.push(OfferedSignature {
                    name: s.to_string(),
                    bytes,
                });
                return Ok(None);
            }
            Stage::Signatures | Stage::Files => {}
        }
        self.seal()?;
        if self.manifest_only {
            return Ok(None);
        }
        if s == MANIFEST_PATH {
            return Err(Error::bundle(
                s,
                "a second manifest in one bundle (refused)",
            ));
        }
        if p.starts_with_dir(SIGNATURES_DIR) {
            return Err(Error::bundle(
                s,
                "manifest signatures must come right after ferry/manifest.json, before any other file (refused)",
            ));
        }
        let vm = self.verified.as_ref().expect("sealed");
        let m = &vm.manifest;
        let Some(entry) = m.file(s).cloned() else {
            return Err(Error::bundle(
                s,
                "not listed in the manifest: extraneous file refused",
            ));
        };
        if !self.seen.insert(s.to_string()) {
            return Err(Error::bundle(s, "listed twice (duplicate entry refused)"));
        }
        if size != entry.size {
            return Err(ferry_manifests::Error::SizeMismatch {
                what: s.to_string(),
                expected: entry.size,
                actual: size,
            }
            .into());
        }
        let vendor = self.policy.vendor()?;
        let mut plan = Plan {
            entry,
            role: "notes",
            minisign: Vec::new(),
            legacy: vendor.legacy,
            keep: false,
            notes: Vec::new(),
            sigstore: Vec::new(),
            vendor: None,
            awaited: Vec::new(),
        };
        match m.role_of(&p) {
            Some(FileRole::Sha256Sums) => {
                plan.role = "sha256sums";
                plan.keep = true;
                if size > MAX_DOCUMENT_BYTES {
                    return Err(ferry_manifests::Error::DocumentTooLarge {
                        doc: s.to_string(),
                        limit: MAX_DOCUMENT_BYTES,
                    }
                    .into());
                }
            }
            Some(FileRole::Notes(_)) | None => {}
            Some(FileRole::UpstreamSignature(..)) => {
                plan.role = "upstream-signature";
                if size > MAX_UPSTREAM_SIG_BYTES {
                    return Err(ferry_manifests::Error::DocumentTooLarge {
                        doc: s.to_string(),
                        limit: MAX_UPSTREAM_SIG_BYTES,
                    }
                    .into());
                }
                plan.keep = true;
            }
            Some(FileRole::Artifact(_, a)) => {
                plan.role = "artifact";
                let mut sigstore = false;
                for u in &a.upstream {
                    match u {
                        Upstream::Minisign { path, key_id } => {
                            let declared = KeyId::parse(key_id)
                                .map_err(|m| Error::bundle(path.as_str(), m))?;
                            let Some(bytes) = self.upstream.remove(path.as_str()) else {
                                // It comes later: checked against the
                                // prehash when it arrives (SPEC §3.6).
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
                                Some(key) => plan.minisign.push((
                                    sig,
                                    key.clone(),
                                    path.as_str().to_string(),
                                )),
                                None => plan.notes.push(format!(
                                    "minisign {path}: not checked, key {declared} is not a vendor key of this policy"
                                )),
                            }
                        }
                        Upstream::Sigstore { path, .. } => {
                            sigstore = true;
                            let Some(bytes) = self.upstream.remove(path.as_str()) else {
                                plan.awaited.push(Awaited::Sigstore {
                                    path: path.as_str().to_string(),
                                });
                                continue;
                            };
                            if vendor.sigstore_trusted_root.is_some()
                                && !vendor.sigstore_identities.is_empty()
                            {
                                plan.sigstore
                                    .push((path.as_str().to_string(), bytes.clone()));
                                plan.vendor = Some(vendor.clone());
                            } else {
                                plan.notes.push(format!(
                                    "sigstore {path}: not checked, the policy has no vendor.sigstore_trusted_root and identities"
                                ));
                            }
                        }
                    }
                }
                if !plan.minisign.is_empty() {
                    self.deferred.passed_in_plan(s, SigKind::Minisign);
                }
                if !plan.sigstore.is_empty() {
                    self.deferred.passed_in_plan(s, SigKind::Sigstore);
                }
                let later = |k: SigKind| {
                    plan.awaited.iter().any(|a| match a {
                        Awaited::Minisign { .. } => k == SigKind::Minisign,
                        Awaited::Sigstore { .. } => k == SigKind::Sigstore,
                    })
                };
                if vendor.require.contains(&SigKind::Minisign)
                    && plan.minisign.is_empty()
                    && !later(SigKind::Minisign)
                {
                    return Err(ferry_manifests::Error::policy(
                        s,
                        "no vendor minisign signature by a key of this policy, and the policy's vendor.require has \"minisign\"",
                    )
                    .into());
                }
                if vendor.require.contains(&SigKind::Sigstore)
                    && (!sigstore || plan.sigstore.is_empty())
                    && !later(SigKind::Sigstore)
                {
                    return Err(ferry_manifests::Error::policy(
                        s,
                        "no Sigstore bundle checkable with this policy, and the policy's vendor.require has \"sigstore\"",
                    )
                    .into());
                }
            }
        }
        Ok(Some(plan))
    }

    /// Takes the result of a finished [`Plan`].
    ///
    /// # Errors
    /// Never today; reserved for cross-file rules.
    pub fn record(&mut self, done: Done) -> Result<()> {
        let path = done.result.path.clone();
        let sha256 = done.result.sha256;
        self.file_index.insert(path.clone(), self.files.len());
        self.files.push(done.result);
        if let Some(bytes) = done.kept {
            if path == SHA256SUMS_PATH {
                self.sums = Some(bytes);
            } else {
                // A signature its artifact is waiting for is checked now;
                // otherwise it waits for its artifact's plan.
                let vendor = self.policy.vendor()?;
                let mut notes = Vec::new();
                match self
                    .deferred
                    .signature_done(vendor, &path, &bytes, &mut notes)?
                {
                    Some(artifact) => self.add_notes(&artifact, notes),
                    None => {
                        self.upstream.insert(path.clone(), bytes);
                    }
                }
            }
        }
        if !done.awaited.is_empty() {
            let vendor = self.policy.vendor()?;
            let hashed = Hashed {
                artifact: path.clone(),
                sha256,
                prehash: done.prehash,
            };
            let mut notes = Vec::new();
            self.deferred.artifact_done(
                vendor,
                &hashed,
                done.awaited,
                &mut self.upstream,
                &mut notes,
            )?;
            self.add_notes(&path, notes);
        }
        Ok(())
    }

    fn add_notes(&mut self, artifact: &str, notes: Vec<String>) {
        if let Some(i) = self.file_index.get(artifact) {
            self.files[*i].vendor.extend(notes);
        }
    }

    /// Verifies the manifest once its signatures have all been read.
    ///
    /// # Errors
    /// See [`verify_manifest`].
    pub fn seal(&mut self) -> Result<&VerifiedManifest> {
        if self.stage == Stage::Start {
            return Err(Error::bundle(
                MANIFEST_PATH,
                "missing: a bundle starts with ferry/manifest.json (refused)",
            ));
        }
        if self.verified.is_none() {
            let bytes = std::mem::take(&mut self.manifest_bytes);
            let vm = verify_manifest(self.policy, &self.opts, bytes, &self.sigs)?;
            for (name, why) in &vm.signers.ignored {
                self.findings.push(format!("{name}: ignored ({why})"));
            }
            self.allowed_dirs.insert("ferry".into());
            self.allowed_dirs.insert(SIGNATURES_DIR.into());
            for f in &vm.manifest.files {
                for a in f.path.ancestors() {
                    self.allowed_dirs.insert(a.as_str().to_string());
                }
            }
            self.verified = Some(vm);
            self.stage = Stage::Files;
            if let Some(bytes) = self.early_sums.take() {
                self.take_early_sums(bytes)?;
            }
        }
        Ok(self.verified.as_ref().expect("just set"))
    }

    /// `ferry/SHA256SUMS` that came before the manifest: now checked
    /// against the manifest's entry like any listed file.
    fn take_early_sums(&mut self, bytes: Vec<u8>) -> Result<()> {
        let vm = self.verified.as_ref().expect("sealed");
        let Some(entry) = vm.manifest.file(SHA256SUMS_PATH).cloned() else {
            return Err(Error::bundle(
                SHA256SUMS_PATH,
                "not listed in the manifest: extraneous file refused",
            ));
        };
        let sha256 = Sha256Digest::of(&bytes);
        ferry_manifests::digest::check(
            SHA256SUMS_PATH,
            (&entry.sha256, entry.size),
            (&sha256, bytes.len() as u64),
        )?;
        self.seen.insert(SHA256SUMS_PATH.to_string());
        self.file_index
            .insert(SHA256SUMS_PATH.to_string(), self.files.len());
        self.files.push(FileResult {
            path: SHA256SUMS_PATH.to_string(),
            size: entry.size,
            sha256,
            role: "sha256sums",
            vendor: Vec::new(),
        });
        self.sums = Some(bytes);
        Ok(())
    }

    /// Whether a path has been seen (for carriers that check extras).
    #[must_use]
    pub fn seen(&self, path: &str) -> bool {
        self.seen.contains(path)
    }

    /// Ends the check: every listed file present, `ferry/SHA256SUMS`
    /// agreeing with `files`.
    ///
    /// # Errors
    /// A missing file or a disagreeing SHA256SUMS.
    pub fn finish(mut self) -> Result<Outcome> {
        self.seal()?;
        let vm = self.verified.take().expect("sealed");
        for f in &vm.manifest.files {
            if !self.seen.contains(f.path.as_str()) {
                return Err(Error::bundle(
                    f.path.as_str(),
                    "listed in the manifest but missing from the bundle (truncated or incomplete copy)",
                ));
            }
        }
        self.deferred.finish()?;
        if let Some(sums) = &self.sums {
            check_sha256sums(sums, &vm.manifest)?;
        }
        Ok(Outcome {
            manifest: vm,
            files: self.files,
            findings: self.findings,
        })
    }
}

fn is_signature(p: &BundlePath) -> bool {
    p.parent().is_some_and(|d| d.as_str() == SIGNATURES_DIR) && p.file_name().ends_with(".minisig")
}

/// A name from a carrier, as a bundle path (SPEC §3.1), refusing anything
/// that would need cleaning (ATTACKS B1–B3, B19, B20).
pub(crate) fn bundle_path(name: &str) -> Result<BundlePath> {
    BundlePath::new(name).map_err(|e| {
        Error::bundle(
            format!(
                "entry \"{}\"",
                ferry_manifests::error::escape_untrusted(name)
            ),
            format!("{e}"),
        )
    })
}

fn read_exact_small(reader: &mut dyn Read, size: u64, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
    reader
        .take(size)
        .read_to_end(&mut out)
        .map_err(|e| io_err(e, what))?;
    if out.len() as u64 != size {
        return Err(Error::bundle(
            what,
            format!("truncated: {} of {size} bytes present", out.len()),
        ));
    }
    Ok(out)
}
