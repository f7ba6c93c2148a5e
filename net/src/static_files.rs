//! Static files for `ferry-mirror serve`, at the speed of the page cache
//! (issue 17): `tower-http`'s `ServeDir` hands every file operation to
//! tokio's blocking pool (open, stat, each read), and those hand-offs, not
//! the bytes, bounded `serve` to 1–2 thousand small responses a second. Here
//! a small file (≤ [`INLINE_MAX`], the index, the feed, signatures, TUF
//! metadata) is stat'ed, opened and read in the request's task — reads from
//! the page cache take microseconds, as in nginx — and a large one streams
//! from a blocking thread in 1 MiB chunks.
//!
//! What `ServeDir` gave and readers rely on is kept: GET and HEAD,
//! `Content-Type` by extension, `Content-Length`, `Last-Modified` and
//! `If-Modified-Since` (304), `Accept-Ranges` and a single `Range` (206 with
//! `Content-Range`, 416 when unsatisfiable), 404 for anything but a regular
//! file. Which paths may be served at all is decided before (the `guard`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// Files up to this size are read in the request's task.
pub(crate) const INLINE_MAX: u64 = 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

/// The fallback handler: the file a URL path names below the root.
pub(crate) async fn serve(State(root): State<PathBuf>, req: Request) -> Response {
    let Some(path) = crate::mirror_serve::local_file(&root, req.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let head = req.method() == Method::HEAD;
    match open(&path) {
        Ok((file, meta)) => respond(file, &meta, req.headers(), head, &path),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn open(path: &Path) -> std::io::Result<(File, std::fs::Metadata)> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    Ok((file, meta))
}

/// A strong `ETag` from the file's inode, size and modification time:
/// files under `releases/` never change, and every rewrite of the index or
/// feed is a new file (atomic rename), so a new inode.
fn etag(meta: &std::fs::Metadata) -> Option<HeaderValue> {
    use std::os::unix::fs::MetadataExt as _;
    HeaderValue::from_str(&format!(
        "\"{:x}-{:x}-{:x}.{:x}\"",
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
    .ok()
}

/// The byte range asked for (`bytes=a-b`, `a-`, `-n`), if any and single.
/// The part of a `len`-byte body a request's `Range` asks for: status,
/// first byte and count, with `Content-Range` and `Content-Length` set in
/// `out`. `Err` for a range that cannot be satisfied (answer 416; `out`
/// then holds `Content-Range: bytes */len`).
pub(crate) fn range_part(
    headers: &HeaderMap,
    len: u64,
    out: &mut HeaderMap,
) -> Result<(StatusCode, u64, u64), ()> {
    let (status, start, count) = match range(headers, len) {
        None => (StatusCode::OK, 0, len),
        Some(Err(())) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                out.insert(header::CONTENT_RANGE, v);
            }
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            return Err(());
        }
        Some(Ok((a, b))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                out.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
    };
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    Ok((status, start, count))
}

pub(crate) fn range(headers: &HeaderMap, len: u64) -> Option<Result<(u64, u64), ()>> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: the whole file, as a server may
    }
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", n) => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0 && len > 0)
            .map(|n| (len.saturating_sub(n), len - 1)),
        (a, "") => a
            .parse::<u64>()
            .ok()
            .filter(|a| *a < len)
            .map(|a| (a, len - 1)),
        (a, b) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b && a < len => Some((a, b.min(len - 1))),
            _ => None,
        },
    };
    Some(r.ok_or(()))
}

fn not_modified(headers: &HeaderMap, modified: Option<SystemTime>) -> bool {
    let (Some(since), Some(m)) = (
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| httpdate::parse_http_date(s).ok()),
        modified,
    ) else {
        return false;
    };
    // HTTP dates have whole seconds.
    m.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .zip(since.duration_since(SystemTime::UNIX_EPOCH).ok())
        .is_some_and(|(m, s)| m.as_secs() <= s.as_secs())
}

fn respond(
    mut file: File,
    meta: &std::fs::Metadata,
    headers: &HeaderMap,
    head: bool,
    path: &Path,
) -> Response {
    let len = meta.len();
    let modified = meta.modified().ok();
    let mut out = HeaderMap::new();
    if let Some(tag) = etag(meta) {
        out.insert(header::ETAG, tag);
    }
    let mime = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(m) = modified
        && let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(m))
    {
        out.insert(header::LAST_MODIFIED, v);
    }
    if not_modified(headers, modified) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    let (status, start, count) = match range_part(headers, len, &mut out) {
        Ok(part) => part,
        Err(()) => return (StatusCode::RANGE_NOT_SATISFIABLE, out).into_response(),
    };
    if head {
        return (status, out).into_response();
    }
    let body = if count <= INLINE_MAX {
        match read_inline(&mut file, start, count) {
            Ok(b) => Body::from(b),
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    } else {
        stream(file, start, count)
    };
    (status, out, body).into_response()
}

fn read_inline(file: &mut File, start: u64, count: u64) -> std::io::Result<Vec<u8>> {
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    let mut buf = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    file.take(count).read_to_end(&mut buf)?;
    if buf.len() as u64 != count {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}

/// A large file: read on a blocking thread, 1 MiB at a time, at most two
/// chunks ahead of the socket (memory stays flat).
fn stream(mut file: File, start: u64, count: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        if start > 0
            && let Err(e) = file.seek(SeekFrom::Start(start))
        {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = count;
        while left > 0 {
            let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
            let mut buf = vec![0u8; n];
            let r = file.read_exact(&mut buf).map(|()| Bytes::from(buf));
            let failed = r.is_err();
            if tx.blocking_send(r).is_err() || failed {
                return;
            }
            left -= n as u64;
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}
