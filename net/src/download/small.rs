//! Small files (signatures, the index's signature, manifests) fetched
//! whole into memory, capped, with one deadline for the whole answer.

use super::backoff;
use crate::error::{Error, Result};

/// Fetches a small file (an upstream signature, the index's signature)
/// into memory, at most `limit` bytes. `Ok(Err(status))` for a non-success
/// status, so callers can tell "missing" from other failures.
///
/// # Errors
/// Network errors, or [`ferry_manifests::Error::DocumentTooLarge`].
pub async fn fetch_small(
    client: &reqwest::Client,
    url: &reqwest::Url,
    limit: u64,
    what: &str,
) -> Result<std::result::Result<Vec<u8>, u16>> {
    let u = url.as_str();
    // One deadline for the whole answer (issue 10: a trickle kept sync
    // waiting for an hour).
    match tokio::time::timeout(
        crate::limits::get().deadline,
        fetch_small_inner(client, url, limit, what),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(Error::Stalled {
            url: u.to_string(),
            reason: crate::limits::deadline_reason(limit),
        }),
    }
}

async fn fetch_small_inner(
    client: &reqwest::Client,
    url: &reqwest::Url,
    limit: u64,
    what: &str,
) -> Result<std::result::Result<Vec<u8>, u16>> {
    let u = url.as_str();
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Error::from_reqwest(u, e))?;
    if !resp.status().is_success() {
        return Ok(Err(resp.status().as_u16()));
    }
    let too_large = || ferry_manifests::Error::DocumentTooLarge {
        doc: what.to_string(),
        limit,
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large().into());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Error::from_reqwest(u, e))? {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large().into());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Ok(out))
}

/// Like [`fetch_small`], retrying network trouble with backoff.
///
/// # Errors
/// As [`fetch_small`].
pub async fn fetch_small_retry(
    client: &reqwest::Client,
    url: &reqwest::Url,
    limit: u64,
    what: &str,
    retries: u32,
) -> Result<std::result::Result<Vec<u8>, u16>> {
    let mut attempt = 0;
    loop {
        let r = fetch_small(client, url, limit, what).await;
        let transient = match &r {
            Err(e) => e.is_transient(),
            Ok(Err(status)) => *status >= 500,
            Ok(Ok(_)) => false,
        };
        if transient && attempt < retries {
            attempt += 1;
            tokio::time::sleep(backoff(attempt)).await;
            continue;
        }
        return r;
    }
}
