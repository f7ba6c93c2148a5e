//! ferry's own read-only OCI registry (SPEC §3.12, issue 12): the read
//! side of the OCI Distribution API over an [`ImageCatalog`], so
//! `docker pull`, `skopeo` and containerd pull from `ferry-mirror serve`
//! (and from the demo's vendor registry) with no other tool.
//!
//! * `GET /v2/`: 200 with `Docker-Distribution-API-Version: registry/2.0`;
//! * `GET|HEAD /v2/<name>/manifests/<tag or digest>`: the manifest's bytes
//!   as stored, `Content-Type` its own `mediaType`, `Docker-Content-Digest`;
//! * `GET|HEAD /v2/<name>/blobs/<digest>`, with a single `Range` (206, 416);
//! * `GET /v2/<name>/tags/list` (`n` and `last` paginate, with `Link`);
//! * OCI error bodies (`NAME_UNKNOWN`, `MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`,
//!   …) with 404 or 400; any method but GET and HEAD is 405: the mirror is
//!   read-only.
//!
//! Damaged bytes are never served as valid (see the `blob` module): a
//! manifest is hashed before it is answered; a whole blob is hashed while
//! it streams and its last chunk held back until the digest matched, so a
//! client never receives a complete blob with other bytes (the connection
//! is cut instead). A `Range` response is not hashed (the client checks
//! the assembled blob's digest; `ferry-mirror fsck` re-hashes the store).
//!
//! ```no_run
//! use std::sync::Arc;
//! use ferry_net::oci_registry::{LayoutCatalog, router};
//! let mut catalog = LayoutCatalog::new();
//! // Every tag of the layout's index.json (org.opencontainers.image.ref.name).
//! catalog.add_layout("novantra/onprem", "onprem.oci".as_ref()).unwrap();
//! let server = ferry_net::serve::StaticServer::start_router(
//!     router(Arc::new(catalog)), "onprem.oci".as_ref(), "127.0.0.1:0".parse().unwrap()).unwrap();
//! println!("skopeo inspect --tls-verify=false docker://{}/novantra/onprem:3.2.1", server.addr());
//! ```

mod blob;
mod catalog;
mod manifest;
mod mirror_catalog;
mod reply;
mod route;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

pub use catalog::{BlobFile, ImageCatalog, LayoutCatalog, Lookup};
pub use mirror_catalog::{MirrorCatalog, ServedImage, served_images};

use reply::{ErrorCode, api_error};
use route::{Invalid, Route};

/// A catalog shared by the server's tasks.
pub type SharedCatalog = Arc<dyn ImageCatalog>;

/// The registry's router: every path under `/v2`. Mount it into a larger
/// router with `nest_service("/v2", …)` or serve it alone.
pub fn router(catalog: SharedCatalog) -> Router {
    Router::new()
        .route("/v2", axum::routing::any(dispatch))
        .route("/v2/", axum::routing::any(dispatch))
        .route("/v2/{*rest}", axum::routing::any(dispatch))
        .layer(axum::middleware::map_response(api_version))
        .with_state(catalog)
}

/// Every answer names the API version (clients probe `/v2/` for it).
async fn api_version(mut r: Response) -> Response {
    r.headers_mut().insert(
        reply::API_VERSION.0,
        axum::http::HeaderValue::from_static(reply::API_VERSION.1),
    );
    r
}

/// Every request: method first (read-only), then the path, then the
/// catalog lookups on a blocking thread (they read files).
async fn dispatch(State(catalog): State<SharedCatalog>, req: Request) -> Response {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return reply::read_only();
    }
    // Some clients escape the `:` of a digest.
    let Some(path) = crate::mirror_serve::percent_decode(req.uri().path()) else {
        return api_error(
            StatusCode::NOT_FOUND,
            ErrorCode::NameUnknown,
            "bad path",
            head,
        );
    };
    let route = match route::parse(&path) {
        Ok(r) => r,
        Err(e) => return invalid(&e, head),
    };
    let query = req.uri().query().map(str::to_string);
    let headers = req.headers().clone();
    let answer = tokio::task::spawn_blocking(move || match route {
        Route::Base => reply::base(),
        Route::Manifest(name, reference) => {
            manifest::serve_manifest(catalog.as_ref(), &name, &reference, head)
        }
        Route::Blob(name, digest) => blob::serve_blob(&catalog, &name, &digest, &headers, head),
        Route::Tags(name) => reply::tags(catalog.as_ref(), &name, query.as_deref(), head),
    })
    .await;
    answer.unwrap_or_else(|_| reply::internal("the request's task failed", head))
}

fn invalid(e: &Invalid, head: bool) -> Response {
    let (status, code, msg) = match e {
        Invalid::NotFound => (
            StatusCode::NOT_FOUND,
            ErrorCode::NameUnknown,
            "not an OCI Distribution API path".to_string(),
        ),
        Invalid::Name(n) => (
            StatusCode::BAD_REQUEST,
            ErrorCode::NameInvalid,
            format!("{n}: not a repository name"),
        ),
        Invalid::Reference(r) => (
            StatusCode::BAD_REQUEST,
            ErrorCode::ManifestInvalid,
            format!("{r}: neither a tag nor a digest"),
        ),
        Invalid::Digest(d) => (
            StatusCode::BAD_REQUEST,
            ErrorCode::DigestInvalid,
            format!("{d}: not a digest"),
        ),
    };
    api_error(status, code, &msg, head)
}
