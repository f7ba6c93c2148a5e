//! One publish, start to end (SPEC §3.14).

use bytes::Bytes;
use object_store::{PutMode, UpdateVersion};
use serde::Serialize;

use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::minisig::{KeySet, MAX_SIGNATURE_BYTES, SecretKey, read_small_bytes};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::audit;
use ferry_mirror_layout::mirror::failpoint::hit;
use ferry_mirror_layout::mirror::index::MirrorIndex;
use ferry_mirror_layout::mirror::published::{PUBLISHED_FILE, verify_published};
use ferry_mirror_layout::mirror::{AUDIT_FILE, INDEX_FILE, Mirror, MirrorLock, verify_index_bytes};

use crate::check::{CheckReport, check_tree};
use crate::error::{Error, Result};
use crate::plan::{Plan, document_order, plan};
use crate::store::Store;
use crate::upload::{check_etag, check_size, md5_hex, upload_all};
use crate::{Progress, lock, probe};

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Uploads in flight at once.
    pub jobs: usize,
    /// Upload every listed object, whatever the store's index lists
    /// (replaces objects `--verify` found damaged).
    pub all: bool,
    /// Re-read and re-hash everything after the upload.
    pub verify: bool,
    /// Lifetime of the lock object on a store without conditional writes.
    pub lock_ttl_secs: u64,
    /// Now.
    pub now: Timestamp,
}

/// How concurrent publishers are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guard {
    /// The store honours conditional writes: the index write is a
    /// compare-and-swap; a publisher that loses it changes nothing readers see.
    CompareAndSwap,
    /// It does not: a lock object with an expiry, best effort.
    LockObject,
}

/// What a publish did.
#[derive(Debug, Clone, Serialize)]
pub struct PublishOutcome {
    /// `s3://bucket/prefix`.
    pub target: String,
    /// The endpoint (without credentials).
    pub endpoint: String,
    /// Whether the store honours conditional writes (the probe).
    pub conditional_writes: bool,
    /// How concurrent publishers were kept apart.
    pub guard: Guard,
    /// The index sequence the store held before (`None`: none it could verify).
    pub previous_sequence: Option<u64>,
    /// The index sequence published.
    pub index_sequence: u64,
    /// Objects uploaded (content and documents).
    pub objects: usize,
    /// Bytes uploaded.
    pub bytes: u64,
    /// Content objects uploaded.
    pub content_objects: usize,
    /// Content objects already on the store from an interrupted publish
    /// (same size and ETag): not sent again.
    pub resumed: usize,
    /// Content objects the store's index already listed: not sent.
    pub unchanged: usize,
    /// The `--verify` report.
    pub verified: Option<CheckReport>,
}

/// This mirror's name on the store's lock and probe objects: the same for
/// every publish from this folder on this host. The local lock is held, so
/// a store lock bearing it was left by a publish from here that died (a
/// re-run takes it over instead of waiting for its expiry).
fn lock_token(mirror: &Mirror) -> String {
    let root = std::fs::canonicalize(mirror.root()).unwrap_or_else(|_| mirror.root().into());
    let who = format!("{}\n{}", audit::current_actor(), root.display());
    ferry_manifests::digest::Sha256Digest::of(who.as_bytes()).to_hex()[..24].to_string()
}

/// What the store held before.
struct Remote {
    index: Option<MirrorIndex>,
    /// ETag of `index.json` (`None`: absent).
    etag: Option<String>,
}

/// Publishes the mirror (see the crate documentation). Hold `lock`;
/// `keys` are the mirror keys readers trust (they check the store's index).
///
/// # Errors
/// See [`Error`]; exit classes by [`Error::class`].
#[allow(clippy::too_many_arguments)]
pub fn publish(
    mirror: &Mirror,
    lock: &MirrorLock,
    key: &SecretKey,
    policy: Option<&TrustPolicy>,
    keys: &KeySet,
    store: &Store,
    opts: &PublishOptions,
    progress: &dyn Progress,
) -> Result<PublishOutcome> {
    mirror.recover(lock)?;
    let (local, _) = mirror.read_index(keys)?;
    let token = lock_token(mirror);
    let conditional = store.block_on(probe::conditional_writes(store, &token))?;
    let guard = if conditional {
        Guard::CompareAndSwap
    } else {
        progress.note(&format!(
            "{} does not honour conditional writes (If-None-Match): a lock object keeps publishers apart, best effort only; one publisher at a time is the operator's duty",
            store.label()
        ));
        let holder = audit::current_actor();
        store.block_on(lock::acquire(
            store,
            &holder,
            &token,
            opts.now,
            opts.lock_ttl_secs,
        ))?;
        Guard::LockObject
    };
    let held = (guard == Guard::LockObject).then_some(token.as_str());
    let result = publish_locked(
        mirror, lock, key, policy, keys, store, opts, progress, &local, held,
    );
    if guard == Guard::LockObject {
        let released = store.block_on(lock::release(store, &token));
        if result.is_ok() {
            released?;
        }
    }
    let mut outcome = result?;
    if opts.verify {
        let want = read_small_bytes(&mirror.root().join(INDEX_FILE), MAX_DOCUMENT_BYTES)?;
        outcome.verified = Some(check_tree(store, keys, Some(&want))?);
    }
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
fn publish_locked(
    mirror: &Mirror,
    lock: &MirrorLock,
    key: &SecretKey,
    policy: Option<&TrustPolicy>,
    keys: &KeySet,
    store: &Store,
    opts: &PublishOptions,
    progress: &dyn Progress,
    local: &MirrorIndex,
    lock_token: Option<&str>,
) -> Result<PublishOutcome> {
    let guard = if lock_token.is_some() {
        Guard::LockObject
    } else {
        Guard::CompareAndSwap
    };
    let remote = store.block_on(read_remote(store, keys))?;
    if let Some(r) = &remote.index {
        check_same_history(mirror, local, r, store)?;
    }
    let p = if opts.all {
        plan(local, None)
    } else {
        plan(local, remote.index.as_ref())
    };
    progress.begin(p.objects(), p.content_bytes());
    let details = serde_json::json!({
        "target": store.target().to_string(),
        "endpoint": store.endpoint(),
        "objects": p.objects(),
        "bytes": p.content_bytes(),
        "guard": guard,
        "previous_sequence": remote.index.as_ref().map(|i| i.sequence),
    });
    let sequence = mirror.record_publish(lock, key, policy, details, opts.now)?;
    let docs = read_documents(mirror, lock_token.is_none())?;
    let (uploaded, resumed, bytes) = store.block_on(upload_all(
        store,
        mirror.root(),
        &p.content,
        opts.jobs,
        !opts.all,
        progress,
    ))?;
    hit("publish-before-index");
    let doc_bytes = store.block_on(write_documents(
        store,
        &docs,
        lock_token,
        remote.etag,
        progress,
    ))?;
    progress.finish();
    Ok(outcome(
        store,
        guard,
        &remote.index,
        sequence,
        &p,
        (uploaded, resumed, bytes + doc_bytes, docs.len()),
    ))
}

fn outcome(
    store: &Store,
    guard: Guard,
    remote: &Option<MirrorIndex>,
    sequence: u64,
    p: &Plan,
    (uploaded, resumed, bytes, docs_len): (usize, usize, u64, usize),
) -> PublishOutcome {
    PublishOutcome {
        target: store.target().to_string(),
        endpoint: store.endpoint().to_string(),
        conditional_writes: guard == Guard::CompareAndSwap,
        guard,
        previous_sequence: remote.as_ref().map(|i| i.sequence),
        index_sequence: sequence,
        objects: uploaded + docs_len,
        bytes,
        content_objects: uploaded,
        resumed,
        unchanged: p.unchanged,
        verified: None,
    }
}

/// The store's index, if it verifies with `keys` (else `published.json`'s,
/// else none: everything is uploaded), and the ETag of `index.json`.
async fn read_remote(store: &Store, keys: &KeySet) -> Result<Remote> {
    let got = store.get(INDEX_FILE, MAX_DOCUMENT_BYTES).await?;
    let etag = got.as_ref().and_then(|(_, e)| e.clone());
    let sig = store
        .get("index.json.minisig", MAX_SIGNATURE_BYTES as u64)
        .await?;
    if let (Some((bytes, _)), Some((sig, _))) = (&got, &sig)
        && let Ok(index) = verify_index_bytes(bytes, sig, keys, INDEX_FILE)
    {
        return Ok(Remote {
            index: Some(index),
            etag,
        });
    }
    // Between the index and published.json of an interrupted publish the
    // two differ; published.json is one object, so it is one publish.
    let index = match store.get(PUBLISHED_FILE, MAX_DOCUMENT_BYTES).await? {
        Some((env, _)) => verify_published(&env, keys, PUBLISHED_FILE)
            .ok()
            .map(|p| p.index),
        None => None,
    };
    if got.is_some() && etag.is_none() {
        return Err(Error::refused(
            INDEX_FILE,
            "the store returned no ETag for it: compare-and-swap is impossible",
        ));
    }
    Ok(Remote { index, etag })
}

/// Refuses to replace a store's mirror with one that is not its future:
/// another product, a newer sequence, or an audit log whose history is not
/// this mirror's (another copy of the mirror published there).
fn check_same_history(
    mirror: &Mirror,
    local: &MirrorIndex,
    remote: &MirrorIndex,
    store: &Store,
) -> Result<()> {
    let target = store.target().to_string();
    if remote.product != local.product {
        return Err(Error::refused(
            INDEX_FILE,
            format!(
                "{target} holds a mirror of {}, this one is of {}",
                remote.product, local.product
            ),
        ));
    }
    if remote.sequence > local.sequence {
        return Err(Error::refused(
            INDEX_FILE,
            format!(
                "{target} holds index sequence {}, newer than this mirror's {}: publishing would roll its readers back",
                remote.sequence, local.sequence
            ),
        ));
    }
    let log = read_small_bytes(&mirror.root().join(AUDIT_FILE), audit::MAX_LOG_BYTES)?;
    let line = log
        .split(|b| *b == b'\n')
        .nth(usize::try_from(remote.audit_head.seq).unwrap_or(usize::MAX));
    if line.map(ferry_manifests::digest::Sha256Digest::of) != Some(remote.audit_head.sha256) {
        return Err(Error::refused(
            AUDIT_FILE,
            format!(
                "{target} holds a mirror whose audit log (entry {}) is not in this mirror's history: it was published from another copy; refusing to replace it",
                remote.audit_head.seq
            ),
        ));
    }
    Ok(())
}

/// The documents of the local publish just committed, views included
/// (SPEC §3.13), in upload order, checked against each other first.
fn read_documents(mirror: &Mirror, cas: bool) -> Result<Vec<(String, Bytes)>> {
    let served = mirror.check_served()?;
    let views = ferry_mirror_layout::mirror::views::published_paths(mirror.root(), &served.index);
    let mut docs = Vec::new();
    for rel in document_order(&views, cas) {
        let limit = if rel == AUDIT_FILE {
            audit::MAX_LOG_BYTES
        } else {
            MAX_DOCUMENT_BYTES
        };
        let b = read_small_bytes(&mirror.root().join(&rel), limit)?;
        docs.push((rel, Bytes::from(b)));
    }
    let index = docs
        .iter()
        .find(|(r, _)| r == INDEX_FILE)
        .map(|(_, b)| b.clone())
        .unwrap_or_default();
    if index.as_ref() != served.index_bytes.as_slice() {
        return Err(Error::refused(
            INDEX_FILE,
            "changed while it was read; run publish again",
        ));
    }
    Ok(docs)
}

/// Writes the documents: under a lock (`lock_token`) in [`DOCUMENTS`]
/// order, the lock checked again before the index; else in
/// [`DOCUMENTS_CAS`] order, the index only if the store still holds the
/// index read at the start.
async fn write_documents(
    store: &Store,
    docs: &[(String, Bytes)],
    lock_token: Option<&str>,
    etag: Option<String>,
    progress: &dyn Progress,
) -> Result<u64> {
    let mut bytes = 0;
    for (rel, body) in docs {
        let rel = rel.as_str();
        let body = body.clone();
        let sent = md5_hex(&body);
        let size = body.len() as u64;
        let etag_back = match (rel == INDEX_FILE, lock_token) {
            (true, None) => cas_index(store, body, etag.clone()).await?,
            (true, Some(t)) => {
                // The lock may have expired and been taken meanwhile.
                lock::check_held(store, t).await?;
                store.put(rel, body).await?.e_tag
            }
            (false, _) => store.put(rel, body).await?.e_tag,
        };
        check_etag(rel, etag_back.as_deref(), &sent)?;
        check_size(store, rel, size).await?;
        bytes += size;
        progress.object_done(rel, size, true);
    }
    Ok(bytes)
}

/// The compare-and-swap of `index.json` against the ETag read at the start
/// (`If-Match`), or `If-None-Match: *` when the store had none.
async fn cas_index(store: &Store, body: Bytes, etag: Option<String>) -> Result<Option<String>> {
    let mode = match etag {
        Some(e) => PutMode::Update(UpdateVersion {
            e_tag: Some(e),
            version: None,
        }),
        None => PutMode::Create,
    };
    match store.put_raw(INDEX_FILE, body, mode).await? {
        Ok(r) => Ok(r.e_tag),
        Err(
            object_store::Error::Precondition { .. }
            | object_store::Error::AlreadyExists { .. }
            | object_store::Error::NotModified { .. },
        ) => Err(Error::Conflict {
            target: store.target().to_string(),
            object: INDEX_FILE.into(),
        }),
        Err(e) => Err(store.upload_err(INDEX_FILE, e)),
    }
}
