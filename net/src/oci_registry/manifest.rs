//! `GET|HEAD /v2/<name>/manifests/<reference>`: the stored bytes, hashed
//! before they are answered (manifests are small), served with their own
//! media type.

use std::io::Read as _;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_manifests::digest::Sha256Digest;

use super::catalog::{ImageCatalog, Lookup};
use super::reply::{ErrorCode, damaged, internal, not_found};
use super::route::{Digest, Reference};

/// The largest manifest served (and read into memory): the size the OCI
/// Distribution spec asks registries to accept at least.
pub const MANIFEST_MAX: u64 = 4 * 1024 * 1024;

/// The manifest media types a registry answers with.
const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

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
    let what = format!("manifest sha256:{}", digest.to_hex());
    let file = match catalog.blob(name, &digest) {
        Ok(Lookup::Found(f)) => f,
        Ok(other) => return not_found(&other, ErrorCode::ManifestUnknown, &what, head),
        Err(e) => return internal(&e.to_string(), head),
    };
    if file.size > MANIFEST_MAX {
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
    if bytes.len() as u64 != file.size || Sha256Digest::of(&bytes) != digest {
        return damaged(&what, "its bytes on disk do not match its digest", head);
    }
    let Some(media_type) = media_type(&bytes) else {
        return not_found(
            &Lookup::<()>::Missing,
            ErrorCode::ManifestUnknown,
            &what,
            head,
        );
    };
    respond(bytes, &media_type, &digest, head)
}

fn read_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MANIFEST_MAX + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn respond(bytes: Vec<u8>, media_type: &str, digest: &Sha256Digest, head: bool) -> Response {
    let len = bytes.len();
    let mut r = if head {
        (StatusCode::OK, Body::empty()).into_response()
    } else {
        (StatusCode::OK, bytes).into_response()
    };
    let h = r.headers_mut();
    let reference = format!("sha256:{}", digest.to_hex());
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

/// The media type a manifest declares (`mediaType`), or for an OCI
/// manifest or index that omits it (the field is optional there), the one
/// its shape implies; `None` for bytes that are no manifest at all.
fn media_type(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let obj = v.as_object()?;
    match obj.get("mediaType") {
        Some(serde_json::Value::String(t)) => {
            MANIFEST_TYPES.contains(&t.as_str()).then(|| t.clone())
        }
        Some(_) => None,
        None if obj.contains_key("manifests") => Some(MANIFEST_TYPES[1].to_string()),
        None if obj.contains_key("config") && obj.contains_key("layers") => {
            Some(MANIFEST_TYPES[0].to_string())
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::media_type;

    #[test]
    fn media_type_is_the_manifests_own_or_its_shape() {
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[]}"#;
        assert_eq!(
            media_type(docker).as_deref(),
            Some("application/vnd.docker.distribution.manifest.v2+json")
        );
        assert_eq!(
            media_type(br#"{"schemaVersion":2,"manifests":[]}"#).as_deref(),
            Some("application/vnd.oci.image.index.v1+json")
        );
        assert_eq!(
            media_type(br#"{"schemaVersion":2,"config":{},"layers":[]}"#).as_deref(),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(media_type(br#"{"mediaType":"text/html"}"#), None);
        assert_eq!(media_type(b"\x1f\x8b layer bytes"), None);
    }
}
