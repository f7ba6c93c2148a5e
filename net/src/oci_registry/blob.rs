//! `GET|HEAD /v2/<name>/blobs/<digest>`: a blob by digest from disk.
//!
//! Layers can be gigabytes, so they are not hashed before the answer
//! starts: a whole-blob GET is hashed while it streams and its **last
//! chunk is held back** until the digest is known; bytes that are not the
//! digest's end the body with an error, the connection is cut short of
//! `Content-Length`, and no client ever holds a complete blob that is not
//! what it asked for. A `Range` answer (a client resuming) is served
//! unhashed: the client checks the digest of the blob it assembles, and
//! `ferry-mirror fsck` re-hashes the store. A file whose size is not the
//! recorded one is refused outright, HEAD included.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferry_oci::Digest as OciDigest;
use ferry_oci::verify::BlobCheck;

use super::SharedCatalog;
use super::catalog::Lookup;
use super::reply::{ErrorCode, damaged, internal, not_found};
use super::route::Digest;

/// Blobs are read and sent in chunks of this size (memory stays flat).
const CHUNK: u64 = 1024 * 1024;

pub(crate) fn serve_blob(
    catalog: &SharedCatalog,
    name: &str,
    digest: &Digest,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    let digest = match digest {
        Digest::Sha256(d) => *d,
        Digest::Other(d) => {
            return not_found(&Lookup::<()>::Missing, ErrorCode::BlobUnknown, d, head);
        }
    };
    let what = format!("blob {digest}");
    let blob = match catalog.blob(name, &digest) {
        Ok(Lookup::Found(b)) => b,
        Ok(other) => return not_found(&other, ErrorCode::BlobUnknown, &what, head),
        Err(e) => return internal(&e.to_string(), head),
    };
    let (file, meta) = match open_blob(&blob.path) {
        Ok(Some(opened)) => opened,
        Ok(None) => return not_found(&Lookup::<()>::Missing, ErrorCode::BlobUnknown, &what, head),
        Err(e) => return internal(&format!("{what}: open failed: {e}"), head),
    };
    let len = meta.len();
    if len != blob.size {
        let reason = format!("{len} bytes on disk, {} recorded", blob.size);
        return damaged(&what, &reason, head);
    }
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let reference = digest.to_string();
    if let Ok(v) = HeaderValue::from_str(&reference) {
        out.insert("docker-content-digest", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{reference}\"")) {
        out.insert(header::ETAG, v);
    }
    let (status, start, count) = match crate::static_files::range_part(headers, len, &mut out) {
        Ok(part) => part,
        Err(()) => return (StatusCode::RANGE_NOT_SATISFIABLE, out).into_response(),
    };
    if head {
        return (status, out).into_response();
    }
    let check = (status == StatusCode::OK).then_some(digest);
    if count == 0 && check.is_some_and(|d| d != OciDigest::of(b"")) {
        return damaged(&what, "its bytes on disk do not match its digest", head);
    }
    (status, out, stream(file, start, count, check, what)).into_response()
}

/// Streams `count` bytes from `start` on a blocking thread, at most two
/// chunks ahead of the socket. With `check`, the bytes are hashed as they
/// go and the last chunk is sent only if the whole is that digest.
fn stream(mut file: File, start: u64, count: u64, check: Option<OciDigest>, what: String) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        if start > 0
            && let Err(e) = file.seek(SeekFrom::Start(start))
        {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut check = check.map(|d| BlobCheck::new(d, count));
        let mut left = count;
        while left > 0 {
            let n = left.min(CHUNK);
            let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
            let mut r = file.read_exact(&mut buf).map(|()| buf);
            if let Ok(buf) = &r
                && let Err(e) = check_chunk(&mut check, buf, left == n)
            {
                r = Err(std::io::Error::other(format!("{what}: {e}")));
            }
            let failed = r.is_err();
            if tx.blocking_send(r.map(Bytes::from)).is_err() || failed {
                return;
            }
            left -= n;
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// Feeds a chunk to the check, if any; the last one also ends it.
fn check_chunk(check: &mut Option<BlobCheck>, buf: &[u8], last: bool) -> ferry_oci::Result<()> {
    let Some(c) = check.as_mut() else {
        return Ok(());
    };
    c.update(buf)?;
    match check.take() {
        Some(c) if last => c.finish(),
        other => {
            *check = other;
            Ok(())
        }
    }
}

/// Opens a stored blob: a regular file, never through a symlink planted
/// in the store (`None`: nothing servable there).
pub(crate) fn open_blob(
    path: &std::path::Path,
) -> std::io::Result<Option<(File, std::fs::Metadata)>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let f = File::open(path)?;
    let m = f.metadata()?;
    Ok(m.is_file().then_some((f, m)))
}
