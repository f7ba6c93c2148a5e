//! Responses that carry no blob: the version check, the tag list, and the
//! OCI error bodies (`{"errors": [{"code", "message", "detail"}]}`).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::catalog::{ImageCatalog, Lookup};

/// The header every answer carries; clients probe `/v2/` for it.
pub(crate) const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// The error codes of the OCI Distribution spec this registry answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    BlobUnknown,
    DigestInvalid,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    Unsupported,
    /// Not in the spec's table; what distribution answers for server faults.
    Unknown,
}

impl ErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::Unknown => "UNKNOWN",
        }
    }
}

/// An OCI error answer (no body for HEAD, as HTTP requires).
pub(crate) fn api_error(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    head: bool,
) -> Response {
    let body = serde_json::json!({"errors": [{"code": code.as_str(), "message": message}]});
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut r = if head {
        (status, Body::empty()).into_response()
    } else {
        (status, bytes.clone()).into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    r
}

/// The answer for "the repository holds no such thing".
pub(crate) fn not_found<T>(
    lookup: &Lookup<T>,
    missing: ErrorCode,
    what: &str,
    head: bool,
) -> Response {
    match lookup {
        Lookup::NoRepository => api_error(
            StatusCode::NOT_FOUND,
            ErrorCode::NameUnknown,
            "repository name not known to this registry",
            head,
        ),
        _ => api_error(
            StatusCode::NOT_FOUND,
            missing,
            &format!("{what}: unknown"),
            head,
        ),
    }
}

/// 405: the registry is read-only.
pub(crate) fn read_only() -> Response {
    let mut r = api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Unsupported,
        "read-only registry: GET and HEAD only",
        false,
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// 500 for a fault of the store, never of the client.
pub(crate) fn internal(message: &str, head: bool) -> Response {
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unknown,
        message,
        head,
    )
}

/// A stored blob whose bytes are not its digest's: refused, never served.
pub(crate) fn damaged(what: &str, reason: &str, head: bool) -> Response {
    internal(
        &format!("{what}: {reason}; the stored copy is damaged (run ferry-mirror fsck)"),
        head,
    )
}

/// `GET /v2/`.
pub(crate) fn base() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response()
}

/// `GET /v2/<name>/tags/list[?n=N&last=T]`: tags in lexical order,
/// `last` excluded, at most `n`, with a `Link` to the next page.
pub(crate) fn tags(
    catalog: &dyn ImageCatalog,
    name: &str,
    query: Option<&str>,
    head: bool,
) -> Response {
    let mut tags = match catalog.tags(name) {
        Ok(Lookup::Found(t)) => t,
        Ok(other) => return not_found(&other, ErrorCode::NameUnknown, name, head),
        Err(e) => return internal(&e.to_string(), head),
    };
    tags.sort();
    let (n, last) = page(query);
    if let Some(last) = last {
        tags.retain(|t| t.as_str() > last.as_str());
    }
    let mut link = None;
    if let Some(n) = n
        && tags.len() > n
    {
        tags.truncate(n);
        if let Some(l) = tags.last() {
            link = Some(format!(
                "</v2/{name}/tags/list?n={n}&last={l}>; rel=\"next\""
            ));
        }
    }
    let body = serde_json::json!({"name": name, "tags": tags});
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let len = bytes.len();
    let mut r = if head {
        (StatusCode::OK, Body::empty()).into_response()
    } else {
        (StatusCode::OK, bytes).into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LINK, v);
    }
    r
}

/// `n` and `last` of a tag-list query (anything else is ignored).
fn page(query: Option<&str>) -> (Option<usize>, Option<String>) {
    let (mut n, mut last) = (None, None);
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("n", v)) => n = v.parse().ok(),
            Some(("last", v)) => last = crate::mirror_serve::percent_decode(v),
            _ => {}
        }
    }
    (n, last)
}
