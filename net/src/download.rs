//! One verified download: stream into `.ferry/partial/`, hashing and
//! checking signatures while the bytes arrive (no second read), capped at
//! the declared size, resumed with an HTTP `Range` request after an
//! interruption, retried with backoff; renamed into the workspace only once
//! size, SHA-256 and every vendor signature passed.

use std::fs;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use ferry_manifests::ErrorClass;
use ferry_manifests::artifact::{MinisignCheck, StreamCheck};
use ferry_manifests::digest::{BUF_SIZE, Sha256Digest};
use ferry_manifests::minisig::{Legacy, PublicKey, SignatureFile};
use ferry_manifests::path::BundlePath;
use ferry_workspace::Workspace;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};

use crate::error::{Error, Result};
use crate::progress::Progress;

mod small;
pub use small::{fetch_small, fetch_small_retry};

/// Largest small file (an upstream signature) read into memory.
pub const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// A minisign signature to check while downloading, owning its key.
#[derive(Clone)]
pub struct OwnedMinisign {
    /// The vendor key that made it.
    pub key: PublicKey,
    /// The parsed signature.
    pub sig: SignatureFile,
    /// Whether legacy signatures are accepted.
    pub legacy: Legacy,
    /// The signature's name, for messages.
    pub what: String,
}

/// One file to fetch into the workspace.
#[derive(Clone)]
pub struct FileJob {
    /// Where it comes from.
    pub url: reqwest::Url,
    /// Where it goes in the workspace.
    pub path: BundlePath,
    /// The declared SHA-256.
    pub sha256: Sha256Digest,
    /// The declared size.
    pub size: u64,
    /// Minisign signatures to check over it.
    pub minisign: Vec<OwnedMinisign>,
    /// An `Authorization` header to send (a registry's bearer token;
    /// marked sensitive, never printed).
    pub auth: Option<reqwest::header::HeaderValue>,
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Downloaded and verified; `resumed` if a partial file was continued.
    Downloaded {
        /// Whether an earlier partial download was continued.
        resumed: bool,
    },
    /// Already in the workspace, re-hashed and verified.
    Present,
    /// Downloaded again: the copy in the workspace did not match after an
    /// interrupted sync (ferry's own write, torn before it reached the disk).
    Replaced,
}

/// What a download needs from its surroundings.
pub struct Context {
    /// The HTTP client.
    pub client: reqwest::Client,
    /// The workspace.
    pub workspace: Workspace,
    /// Retries after the first attempt, for network trouble.
    pub retries: u32,
    /// Progress sink.
    pub progress: Arc<dyn Progress>,
    /// The previous sync stopped before its files were known to be on disk
    /// (see `Workspace::begin_unsynced`): a present file that does not
    /// match is downloaded again rather than refused.
    pub interrupted: bool,
}

impl FileJob {
    fn check(&self) -> Result<StreamCheck<'_>> {
        let checks = self
            .minisign
            .iter()
            .map(|m| MinisignCheck {
                key: &m.key,
                sig: &m.sig,
                legacy: m.legacy,
                what: m.what.clone(),
            })
            .collect();
        Ok(StreamCheck::new(
            self.path.as_str(),
            Some((self.sha256, self.size)),
            self.size,
            checks,
        )?)
    }
}

/// A download's check, with the minisign prehash (BLAKE2b-512) on a thread
/// of its own fed the same refcounted network chunks, so it runs beside
/// SHA-256 on the other core instead of after it (SPEC §6). Legacy
/// signatures (whole message in memory) keep the single-task check.
struct SplitCheck<'a> {
    sha: StreamCheck<'a>,
    minisign: Option<MinisignWorker>,
}

struct MinisignWorker {
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    result: tokio::sync::oneshot::Receiver<std::result::Result<(), ferry_manifests::Error>>,
}

/// Chunks in flight between the download task and the minisign thread.
/// A chunk can be a few hundred KiB when the reader lags, so 64 let a
/// 2 GiB sync on a busy machine reach 67 MiB (SPEC §6: 64 MiB at any
/// size); 16 bounds the queue near 6 MiB and still keeps both busy.
const MINISIGN_QUEUE: usize = 16;

impl<'a> SplitCheck<'a> {
    fn new(job: &'a FileJob) -> Result<Self> {
        let split = !job.minisign.is_empty() && job.minisign.iter().all(|m| m.sig.is_prehashed());
        if !split {
            return Ok(SplitCheck {
                sha: job.check()?,
                minisign: None,
            });
        }
        // Key ids are checked here, before any byte is read.
        for m in &job.minisign {
            m.key.check_prehashed(&m.sig, &m.what)?;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(MINISIGN_QUEUE);
        let (done_tx, result) = tokio::sync::oneshot::channel();
        let owned = job.minisign.clone();
        std::thread::spawn(move || {
            let mut h = ferry_manifests::prehash::Prehasher::new();
            while let Some(chunk) = rx.blocking_recv() {
                h.update(&chunk);
            }
            let prehash = h.finish();
            let outcome = owned
                .iter()
                .try_for_each(|m| m.key.verify_prehash(&m.sig, &prehash, &m.what));
            let _ = done_tx.send(outcome);
        });
        Ok(SplitCheck {
            sha: StreamCheck::new(
                job.path.as_str(),
                Some((job.sha256, job.size)),
                job.size,
                Vec::new(),
            )?,
            minisign: Some(MinisignWorker { tx, result }),
        })
    }

    async fn update(&mut self, chunk: bytes::Bytes) -> Result<()> {
        self.sha.update(&chunk)?;
        if let Some(w) = &self.minisign {
            // The thread only stops early if it panicked; finish() reports it.
            let _ = w.tx.send(chunk).await;
        }
        Ok(())
    }

    /// Size and SHA-256 first, then every signature (as `StreamCheck`).
    async fn finish(self) -> Result<()> {
        self.sha.finish()?;
        if let Some(MinisignWorker { tx, result }) = self.minisign {
            drop(tx);
            match result.await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(ferry_manifests::Error::signature(
                        "vendor signature",
                        "the signature check stopped unexpectedly",
                    )
                    .into());
                }
            }
        }
        Ok(())
    }
}

/// Fetches one file into the workspace, or verifies the copy already there.
///
/// # Errors
/// A verification error naming the file (exit 1; the partial download is
/// deleted, its bytes being proven wrong), or a network error (exit 3; the
/// partial download is kept for the next run to resume).
pub async fn fetch(ctx: &Context, job: &FileJob) -> Result<Outcome> {
    let dest = ctx.workspace.path(&job.path);
    let mut replaced = false;
    if dest.exists() {
        match verify_present(job, &dest) {
            Ok(()) => {
                ctx.progress.file_skipped(job.path.as_str(), job.size);
                return Ok(Outcome::Present);
            }
            Err(e) if ctx.interrupted && e.class() == ErrorClass::Verification => {
                fs::remove_file(&dest).map_err(|e| Error::io(&dest, "remove", e))?;
                replaced = true;
            }
            Err(e) => return Err(e),
        }
    }
    let partial = ctx.workspace.partial_path(&job.path);
    if let Some(parent) = partial.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create directory", e))?;
    }
    ctx.progress.file_start(job.path.as_str(), job.size);
    let mut attempt = 0u32;
    let result = loop {
        match attempt_once(ctx, job, &partial, attempt == 0).await {
            Err(e) if e.is_transient() && attempt < ctx.retries => {
                attempt += 1;
                ctx.progress.note(&format!(
                    "{}: {e}; retrying ({attempt}/{})",
                    job.path, ctx.retries
                ));
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => break other,
        }
    };
    ctx.progress.file_done(job.path.as_str());
    let resumed = result?;
    ctx.workspace.commit_partial(&job.path)?;
    Ok(if replaced {
        Outcome::Replaced
    } else {
        Outcome::Downloaded { resumed }
    })
}

pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(6)))
}

/// Re-hashes a file already in the workspace against the index. A copy
/// that does not match is an error naming it, never silently replaced.
fn verify_present(job: &FileJob, dest: &std::path::Path) -> Result<()> {
    let mut check = job.check()?;
    let mut f = fs::File::open(dest).map_err(|e| Error::io(dest, "open", e))?;
    let mut buf = vec![0u8; BUF_SIZE];
    let res = (|| -> Result<()> {
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::io(dest, "read", e))?;
            if n == 0 {
                break;
            }
            check.update(&buf[..n])?;
        }
        Ok(())
    })();
    res.and_then(|()| check.finish().map(|_| ()).map_err(Error::from))
        .map_err(|e| match e {
            Error::Manifest(m) if m.class() == ferry_manifests::ErrorClass::Verification => {
                Error::Layout(ferry_mirror_layout::Error::Refused {
                    what: job.path.to_string(),
                    reason: format!(
                        "already in the workspace but does not match the vendor index ({m}); ferry never replaces it silently: move it away and run sync again"
                    ),
                })
            }
            other => other,
        })
}

/// Deletes a partial download whose bytes were proven wrong.
fn discard(path: &std::path::Path) {
    let _ = fs::remove_file(path);
}

/// One attempt. Returns whether an earlier partial file was continued.
async fn attempt_once(
    ctx: &Context,
    job: &FileJob,
    partial: &std::path::Path,
    first: bool,
) -> Result<bool> {
    let mut check = SplitCheck::new(job)?;
    let mut have = rehash_partial(job, partial, &mut check).await?;
    let mut resumed = have > 0;
    if have < job.size || job.size == 0 {
        let (mut resp, range_ignored) = request(ctx, job, partial, have).await?;
        if range_ignored {
            // The server ignored the Range: start over.
            check = SplitCheck::new(job)?;
            have = 0;
            resumed = false;
        }
        refuse_oversized(&resp, job, partial, have)?;
        receive(ctx, job, partial, &mut resp, &mut check, have, first).await?;
    }
    if let Err(e) = check.finish().await {
        discard(partial);
        return Err(e);
    }
    Ok(resumed)
}

/// The bytes an earlier attempt left in `partial` (none if more than the
/// declared size: discarded), fed to `check` to rebuild its hash state.
async fn rehash_partial(
    job: &FileJob,
    partial: &std::path::Path,
    check: &mut SplitCheck<'_>,
) -> Result<u64> {
    let mut have = fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    if have > job.size {
        discard(partial);
        have = 0;
    }
    if have > 0 {
        // Rebuild the hash state from the bytes already on disk.
        let mut f = fs::File::open(partial).map_err(|e| Error::io(partial, "open", e))?;
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| Error::io(partial, "read", e))?;
            if n == 0 {
                break;
            }
            check
                .update(bytes::Bytes::copy_from_slice(&buf[..n]))
                .await?;
        }
    }
    Ok(have)
}

/// Sends the request (with a `Range` past the `have` bytes already there)
/// and checks its status. Returns the response, and whether the server
/// ignored the Range (a whole `200` answer: start over).
async fn request(
    ctx: &Context,
    job: &FileJob,
    partial: &std::path::Path,
    have: u64,
) -> Result<(reqwest::Response, bool)> {
    let url = job.url.as_str();
    let mut req = ctx.client.get(job.url.clone());
    if let Some(auth) = &job.auth {
        req = req.header(reqwest::header::AUTHORIZATION, auth.clone());
    }
    if have > 0 {
        req = req.header(RANGE, format!("bytes={have}-"));
    }
    let resp = req.send().await.map_err(|e| Error::from_reqwest(url, e))?;
    let status = resp.status();
    if have > 0 && status == StatusCode::PARTIAL_CONTENT {
        if let Err(reason) = check_content_range(&resp, have, job.size) {
            // Never splice bytes we cannot place: start over next time.
            discard(partial);
            return Err(Error::Protocol {
                url: url.to_string(),
                reason,
            });
        }
        Ok((resp, false))
    } else if status == StatusCode::OK {
        Ok((resp, have > 0))
    } else {
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            discard(partial);
            return Err(Error::Protocol {
                url: url.to_string(),
                reason: "the server refused the Range request (416); starting over".into(),
            });
        }
        Err(Error::Status {
            url: url.to_string(),
            status: status.as_u16(),
        })
    }
}

/// Refuses (and discards the partial file) an answer whose announced
/// length goes past the declared size.
fn refuse_oversized(
    resp: &reqwest::Response,
    job: &FileJob,
    partial: &std::path::Path,
    have: u64,
) -> Result<()> {
    if let Some(len) = resp.content_length()
        && have.saturating_add(len) > job.size
    {
        discard(partial);
        return Err(ferry_manifests::Error::TooMuchData {
            what: job.path.to_string(),
            limit: job.size,
        }
        .into());
    }
    Ok(())
}

/// Streams the body into `partial` (appended after `have` bytes, else
/// truncated), each chunk checked before it is written, then syncs it.
async fn receive(
    ctx: &Context,
    job: &FileJob,
    partial: &std::path::Path,
    resp: &mut reqwest::Response,
    check: &mut SplitCheck<'_>,
    have: u64,
    first: bool,
) -> Result<()> {
    let url = job.url.as_str();
    let file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(have > 0)
        .truncate(have == 0)
        .open(partial)
        .map_err(|e| Error::io(partial, "open", e))?;
    // Network chunks are small; write in large blocks.
    let mut file = std::io::BufWriter::with_capacity(BUF_SIZE, file);
    if first {
        // Bytes an earlier run left (later attempts counted them already).
        ctx.progress.file_advance(job.path.as_str(), have);
    }
    let mut rate = crate::limits::RateWatch::new();
    while let Some(chunk) = next_chunk(resp, &mut rate, &mut file, url).await? {
        // Checked before it is written: bytes past the declared size
        // never reach the disk (a `Bytes` clone is a refcount).
        if let Err(e) = check.update(chunk.clone()).await {
            drop(file);
            discard(partial);
            return Err(e);
        }
        file.write_all(&chunk)
            .map_err(|e| Error::io(partial, "write", e))?;
        ctx.progress
            .file_advance(job.path.as_str(), chunk.len() as u64);
    }
    // Durable with the rest of the sync (Workspace::make_durable).
    file.into_inner()
        .map_err(|e| Error::io(partial, "write", e.into_error()))?;
    Ok(())
}

/// The next chunk of the body (`None` at its end). A stall or a network
/// error flushes what arrived into `file` (unverified, inside
/// `.ferry/partial`) for a resume, then is returned.
async fn next_chunk(
    resp: &mut reqwest::Response,
    rate: &mut crate::limits::RateWatch,
    file: &mut std::io::BufWriter<fs::File>,
    url: &str,
) -> Result<Option<bytes::Bytes>> {
    let next = tokio::time::timeout(rate.chunk_wait(), resp.chunk()).await;
    let next = match next {
        Ok(n) => n,
        Err(_) => {
            let _ = file.flush();
            return Err(Error::Stalled {
                url: url.to_string(),
                reason: rate.stalled(),
            });
        }
    };
    if let Ok(Some(c)) = &next
        && let Err(reason) = rate.add(c.len())
    {
        let _ = file.flush();
        return Err(Error::Stalled {
            url: url.to_string(),
            reason,
        });
    }
    match next {
        Ok(c) => Ok(c),
        Err(e) => {
            // Keep what arrived (unverified, inside .ferry/partial)
            // for a resume.
            let _ = file.flush();
            Err(Error::from_reqwest(url, e))
        }
    }
}

/// Checks `Content-Range: bytes START-END/TOTAL` against the request.
fn check_content_range(
    resp: &reqwest::Response,
    start: u64,
    size: u64,
) -> std::result::Result<(), String> {
    let value = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .ok_or("206 without a readable Content-Range header")?;
    let bad = || format!("unexpected Content-Range \"{value}\" for bytes={start}-");
    let rest = value.strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.parse().map_err(|_| bad())?;
    let b: u64 = b.parse().map_err(|_| bad())?;
    if a != start || b < a || b >= size {
        return Err(bad());
    }
    if total != "*" && total.parse::<u64>().map_err(|_| bad())? != size {
        return Err(format!(
            "Content-Range \"{value}\": the server's file is not the {size} bytes the index declares"
        ));
    }
    Ok(())
}
