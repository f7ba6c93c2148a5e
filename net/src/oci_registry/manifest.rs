//! `GET|HEAD /v2/<name>/manifests/<reference>`: the stored bytes, hashed
//! before they are answered (manifests are small), served with their own
//! media type.

use std::io::Read as _;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_oci::model::MAX_MANIFEST_BYTES;
use ferry_oci::{Digest as OciDigest, Expect, parse_document};

use super::catalog::{ImageCatalog, Lookup};
use super::reply::{ErrorCode, damaged, internal, not_found};
use super::route::{Digest, Reference};

pub(crate) fn serve_manifest(
    catalog: &dyn ImageCatalog,
    name: &str,
    reference: &Reference,
    head: bool,
) -> Response {
    let digest = match reference {
        Reference::Digest(Digest::Sha256(d)) => *d,
        Reference::Digest(Digest::Other(d)) => {
            return not_found(&Lookup::<()>::Missing, ErrorCode::ManifestUnknown, d, head);
        }
        Reference::Tag(t) => match catalog.resolve(name, t) {
            Ok(Lookup::Found(d)) => d,
            Ok(other) => return not_found(&other, ErrorCode::ManifestUnknown, t, head),
            Err(e) => return internal(&e.to_string(), head),
        },
    };
    let what = format!("manifest {digest}");
    let file = match catalog.blob(name, &digest) {
        Ok(Lookup::Found(f)) => f,
        Ok(other) => return not_found(&other, ErrorCode::ManifestUnknown, &what, head),
        Err(e) => return internal(&e.to_string(), head),
    };
    if file.size > MAX_MANIFEST_BYTES {
        // A layer asked for as a manifest.
        return not_found(
            &Lookup::<()>::Missing,
            ErrorCode::ManifestUnknown,
            &what,
            head,
        );
    }
    let bytes = match read_capped(&file.path) {
        Ok(b) => b,
        Err(e) => return internal(&format!("{what}: read failed: {e}"), head),
    };
    // ferry-oci checks size and digest before it parses (SPEC §3.4).
    let expect = Expect {
        digest: &digest,
        size: Some(file.size),
        media_type: None,
    };
    match parse_document(&bytes, expect) {
        Ok(doc) => {
            let media_type = doc.media_type().to_string();
            respond(bytes, &media_type, &digest, head)
        }
        Err(
            e @ (ferry_oci::Error::DigestMismatch { .. } | ferry_oci::Error::SizeMismatch { .. }),
        ) => damaged(&what, &e.to_string(), head),
        // Not a manifest or index (a config or layer by its digest).
        Err(_) => not_found(
            &Lookup::<()>::Missing,
            ErrorCode::ManifestUnknown,
            &what,
            head,
        ),
    }
}

fn read_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let (file, _) = super::blob::open_blob(path)?.ok_or(std::io::ErrorKind::NotFound)?;
    file.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn respond(bytes: Vec<u8>, media_type: &str, digest: &OciDigest, head: bool) -> Response {
    let len = bytes.len();
    let mut r = if head {
        (StatusCode::OK, Body::empty()).into_response()
    } else {
        (StatusCode::OK, bytes).into_response()
    };
    let h = r.headers_mut();
    let reference = digest.to_string();
    if let Ok(v) = HeaderValue::from_str(media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&reference) {
        h.insert("docker-content-digest", v.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{reference}\"")) {
        h.insert(header::ETAG, v);
    }
    r
}
