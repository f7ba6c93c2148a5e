//! Uploading content objects: bounded parallelism, multipart above
//! [`PART_SIZE`], every object checked after the upload (size, and the
//! MD5 the store returns as ETag where it does), and an object already on
//! the store with the same size and ETag left alone, so a publish
//! interrupted half-way resumes where it stopped.

use std::io::Read;
use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};

use ferry_manifests::digest::{BUF_SIZE, Sha256Hasher};

use crate::Progress;
use crate::error::{Error, Result};
use crate::plan::Upload;
use crate::store::Store;

/// Part size of multipart uploads; larger objects go in parts.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// A local file as read for upload.
struct Local {
    /// Its bytes, when it fits in one part.
    bytes: Option<Bytes>,
    /// The ETag an S3 store gives these bytes uploaded in our parts.
    etag: String,
}

/// How one upload went.
pub(crate) struct Done {
    pub(crate) uploaded: bool,
    pub(crate) bytes: u64,
}

/// Uploads `content` from the mirror at `root`, `jobs` at a time.
pub(crate) async fn upload_all(
    store: &Store,
    root: &Path,
    content: &[Upload],
    jobs: usize,
    resume: bool,
    progress: &dyn Progress,
) -> Result<(usize, usize, u64)> {
    let mut s = futures_util::stream::iter(content)
        .map(|u| async move {
            let d = upload_one(store, root, u, resume).await?;
            Ok::<_, Error>((u, d))
        })
        .buffer_unordered(jobs.max(1));
    let (mut uploaded, mut found, mut bytes) = (0, 0, 0);
    while let Some(r) = s.next().await {
        let (u, d) = r?;
        if d.uploaded {
            uploaded += 1;
            bytes += d.bytes;
        } else {
            found += 1;
        }
        progress.object_done(&u.path, u.size, d.uploaded);
    }
    Ok((uploaded, found, bytes))
}

/// Uploads one object; with `resume`, one the store already holds with
/// the same size and ETag is left alone.
async fn upload_one(store: &Store, root: &Path, u: &Upload, resume: bool) -> Result<Done> {
    let path = root.join(&u.path);
    let want = u.clone();
    let local = tokio::task::spawn_blocking(move || read_local(&path, &want))
        .await
        .map_err(|e| Error::Io {
            path: u.path.clone(),
            action: "read",
            source: std::io::Error::other(e.to_string()),
        })??;
    if resume
        && let Some(m) = store.head(&u.path).await?
        && m.size == u.size
        && m.e_tag.as_deref().map(unquote) == Some(local.etag.as_str())
    {
        return Ok(Done {
            uploaded: false,
            bytes: 0,
        });
    }
    let etag = match local.bytes {
        Some(b) => store.put(&u.path, b).await?.e_tag,
        None => put_parts(store, root, u).await?,
    };
    if u.size <= PART_SIZE as u64 {
        check_etag(&u.path, etag.as_deref(), &local.etag)?;
    }
    check_size(store, &u.path, u.size).await?;
    Ok(Done {
        uploaded: true,
        bytes: u.size,
    })
}

/// Reads the file, refusing bytes other than the signed index lists, and
/// computes the ETag the store will give it; keeps the bytes of a
/// single-part object.
fn read_local(path: &Path, u: &Upload) -> Result<Local> {
    let io = |action, source| Error::Io {
        path: path.display().to_string(),
        action,
        source,
    };
    let mut f = ferry_manifests::input::open_regular(path).map_err(|e| io("open", e))?;
    let mut sha = Sha256Hasher::new();
    let mut parts: Vec<[u8; 16]> = Vec::new();
    let mut part = Md5::new();
    let mut in_part = 0usize;
    let single = u.size <= PART_SIZE as u64;
    let mut keep = Vec::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = f.read(&mut buf).map_err(|e| io("read", e))?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        sha.update(chunk);
        if single {
            keep.extend_from_slice(chunk);
        }
        while !chunk.is_empty() {
            let take = chunk.len().min(PART_SIZE - in_part);
            part.update(&chunk[..take]);
            in_part += take;
            chunk = &chunk[take..];
            if in_part == PART_SIZE {
                parts.push(part.finalize_reset().into());
                in_part = 0;
            }
        }
    }
    if in_part > 0 || parts.is_empty() {
        parts.push(part.finalize().into());
    }
    let (d, n) = sha.finish();
    ferry_manifests::digest::check(&u.path, (&u.sha256, u.size), (&d, n)).map_err(|e| {
        Error::refused(
            &u.path,
            format!("{e}: the local mirror's copy is not what its signed index lists; nothing of it was uploaded: run ferry-mirror fsck"),
        )
    })?;
    let etag = if single {
        hex(&parts[0])
    } else {
        let mut all = Md5::new();
        for p in &parts {
            all.update(p);
        }
        let whole: [u8; 16] = all.finalize().into();
        format!("{}-{}", hex(&whole), parts.len())
    };
    Ok(Local {
        bytes: single.then(|| Bytes::from(keep)),
        etag,
    })
}

/// A multipart upload of a large file, re-hashed while it is sent.
async fn put_parts(store: &Store, root: &Path, u: &Upload) -> Result<Option<String>> {
    let path = root.join(&u.path);
    let mut f = tokio::fs::File::open(&path).await.map_err(|e| Error::Io {
        path: path.display().to_string(),
        action: "open",
        source: e,
    })?;
    let mut w = store.multipart(&u.path).await?;
    let mut sha = Sha256Hasher::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        use tokio::io::AsyncReadExt;
        let n = match f.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let _ = w.abort().await;
                return Err(Error::Io {
                    path: path.display().to_string(),
                    action: "read",
                    source: e,
                });
            }
        };
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        w.wait_for_capacity(4)
            .await
            .map_err(|e| store.upload_err(&u.path, e))?;
        w.write(&buf[..n]);
    }
    let (d, n) = sha.finish();
    if let Err(e) = ferry_manifests::digest::check(&u.path, (&u.sha256, u.size), (&d, n)) {
        let _ = w.abort().await;
        return Err(Error::refused(
            &u.path,
            format!("{e}: the local file changed while it was uploaded; nothing of it was kept"),
        ));
    }
    let r = w.finish().await.map_err(|e| store.upload_err(&u.path, e))?;
    Ok(r.e_tag)
}

/// An MD5 ETag (32 hex digits) must be the MD5 of what was sent; other
/// ETags (multipart, encrypted, a store's own scheme) say nothing.
pub(crate) fn check_etag(rel: &str, got: Option<&str>, want_md5: &str) -> Result<()> {
    if let Some(g) = got.map(unquote)
        && g.len() == 32
        && g.bytes().all(|b| b.is_ascii_hexdigit())
        && !g.eq_ignore_ascii_case(want_md5)
    {
        return Err(Error::NotStored {
            object: rel.to_string(),
            expected: format!("MD5 {want_md5}"),
            found: format!("ETag {g}"),
        });
    }
    Ok(())
}

/// The store must report the size that was sent.
pub(crate) async fn check_size(store: &Store, rel: &str, size: u64) -> Result<()> {
    match store.head(rel).await? {
        Some(m) if m.size == size => Ok(()),
        Some(m) => Err(Error::NotStored {
            object: rel.to_string(),
            expected: format!("{size} bytes"),
            found: format!("{} bytes", m.size),
        }),
        None => Err(Error::NotStored {
            object: rel.to_string(),
            expected: format!("{size} bytes"),
            found: "nothing".into(),
        }),
    }
}

/// MD5 of `bytes`, as hex.
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes).into())
}

fn hex(b: &[u8; 16]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unquote(s: &str) -> &str {
    s.trim_matches('"')
}
