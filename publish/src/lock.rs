//! The lock object of a store without conditional writes (SPEC §3.14).
//!
//! Best effort only: without `If-None-Match` two publishers can both read
//! "no lock" and both write one. The second read-back narrows the window
//! (each publisher checks its own token is the one stored, before it
//! starts and again before it writes the index), and the expiry frees a
//! lock whose publisher died. One publisher at a time remains the
//! operator's duty there, and publish says so.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use ferry_manifests::time::Timestamp;

use crate::error::{Error, Result};
use crate::store::Store;

/// The lock object, below the mirror's prefix.
pub const LOCK_OBJECT: &str = ".ferry/publish.lock";
/// Its schema.
pub const LOCK_SCHEMA: &str = "ferry.publish-lock/v1";

/// The lock object's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockDoc {
    schema: String,
    holder: String,
    token: String,
    expires: Timestamp,
}

/// Takes the lock for `ttl_secs`, or fails naming the holder.
pub(crate) async fn acquire(
    store: &Store,
    holder: &str,
    token: &str,
    now: Timestamp,
    ttl_secs: u64,
) -> Result<()> {
    if let Some(doc) = read(store).await?
        && doc.token != token
        && doc.expires > now
    {
        return Err(locked(store, &doc));
    }
    let doc = LockDoc {
        schema: LOCK_SCHEMA.into(),
        holder: holder.into(),
        token: token.into(),
        expires: now.plus(ferry_manifests::time::Duration(ttl_secs)),
    };
    let bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    store.put(LOCK_OBJECT, Bytes::from(bytes)).await?;
    check_held(store, token).await
}

/// Fails unless the stored lock is still ours.
pub(crate) async fn check_held(store: &Store, token: &str) -> Result<()> {
    match read(store).await? {
        Some(doc) if doc.token == token => Ok(()),
        Some(doc) => Err(locked(store, &doc)),
        None => Err(Error::Conflict {
            target: store.target().to_string(),
            object: LOCK_OBJECT.into(),
        }),
    }
}

/// Removes the lock if it is still ours.
pub(crate) async fn release(store: &Store, token: &str) -> Result<()> {
    if let Some(doc) = read(store).await?
        && doc.token == token
    {
        store.delete(LOCK_OBJECT).await?;
    }
    Ok(())
}

async fn read(store: &Store) -> Result<Option<LockDoc>> {
    let Some((bytes, _)) = store.get(LOCK_OBJECT, 64 * 1024).await? else {
        return Ok(None);
    };
    // An unreadable lock is another publisher's (or damage): it holds
    // until its owner or the operator removes it.
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Error::refused(
            LOCK_OBJECT,
            format!("is not a ferry publish lock ({e}); delete it if no publisher is running"),
        )
    })
}

fn locked(store: &Store, doc: &LockDoc) -> Error {
    Error::Locked {
        target: store.target().to_string(),
        object: LOCK_OBJECT.into(),
        holder: doc.holder.clone(),
        expires: doc.expires.to_string(),
    }
}
