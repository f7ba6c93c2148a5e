//! SPEC §3.14: does the store honour conditional writes? Measured, never
//! assumed from a header or a product name: one object is written twice
//! with `If-None-Match: *`; a store that honours it answers the second
//! write with 412 (or 409/304). Garage 2.x accepts both writes: it ignores
//! the header, and a publisher that trusted it would race another
//! publisher silently.

use bytes::Bytes;
use object_store::PutMode;

use crate::error::Result;
use crate::store::Store;

/// The folder of ferry's own objects on the store (the probe, the lock):
/// never named by the signed index, holding no secret.
pub const PRIVATE_PREFIX: &str = ".ferry";

/// Whether the store refuses a second `If-None-Match: *` write of one
/// object. The probe object is removed afterwards.
///
/// # Errors
/// [`crate::Error::Store`] when the store cannot be written at all.
pub(crate) async fn conditional_writes(store: &Store, token: &str) -> Result<bool> {
    let rel = format!("{PRIVATE_PREFIX}/probe-{token}");
    let body = Bytes::from(format!("ferry conditional-write probe {token}\n"));
    let first = store.put_raw(&rel, body.clone(), PutMode::Create).await?;
    let answer = match first {
        Ok(_) => match store.put_raw(&rel, body, PutMode::Create).await? {
            Ok(_) => false,
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. }
                | object_store::Error::NotModified { .. },
            ) => true,
            Err(e) => return Err(store.upload_err(&rel, e)),
        },
        // A store that rejects the header outright (501, 400): it has no
        // conditional writes if a plain write of the same object works.
        Err(_) => {
            store.put(&rel, body).await?;
            false
        }
    };
    store.delete(&rel).await?;
    Ok(answer)
}
