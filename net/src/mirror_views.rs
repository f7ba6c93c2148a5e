//! What `ferry-mirror serve` answers for the views of SPEC §3.13 beyond
//! the static files: `GET /graph` (and `/v1/graph`) as OpenShift Update
//! Service answers it, and TUF targets by their consistent-snapshot name
//! (`<dir>/<sha256>.<name>`), which TUF clients ask for by default.

use std::path::{Path, PathBuf};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use ferry_mirror_layout::mirror::views::graph;

/// The media types a Cincinnati client may ask for.
const GRAPH_TYPES: [&str; 5] = [
    "application/json",
    "application/vnd.redhat.cincinnati.v1+json",
    "application/*",
    "*/*",
    "application/vnd.redhat.cincinnati.graph+json",
];

/// `GET /graph` parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphQuery {
    channel: Option<String>,
    arch: Option<String>,
    profile: Option<String>,
}

fn cincinnati_error(status: StatusCode, kind: &str, value: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"kind": kind, "value": value}).to_string(),
    )
        .into_response()
}

/// Whether the `Accept` header allows JSON (absent: yes).
fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    v.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or("").trim();
        GRAPH_TYPES.contains(&media)
    })
}

/// The platform an `arch` names: `amd64` → `linux-amd64`, or a platform.
fn platform_of(arch: &str) -> String {
    if arch.contains('-') {
        arch.to_string()
    } else {
        format!("linux-{arch}")
    }
}

/// `GET /graph?channel=C[&arch=A][&profile=P]`: the update graph of one
/// channel, profile and platform, as the commit wrote it.
pub(crate) async fn graph_endpoint(
    State(root): State<PathBuf>,
    Query(q): Query<GraphQuery>,
    headers: HeaderMap,
) -> Response {
    if !accepts_json(&headers) {
        return cincinnati_error(
            StatusCode::NOT_ACCEPTABLE,
            "invalid_content_type",
            "the graph is served as application/json",
        );
    }
    let Some(channel) = q.channel.filter(|c| !c.is_empty()) else {
        return cincinnati_error(
            StatusCode::BAD_REQUEST,
            "missing_params",
            "mandatory client parameters missing: channel",
        );
    };
    let root2 = root.clone();
    let Ok(Ok(m)) =
        tokio::task::spawn_blocking(move || ferry_mirror_layout::mirror::Mirror::open(&root2))
            .await
    else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let cfg = m.config();
    if !cfg.channels.iter().any(|c| c.as_str() == channel) {
        return cincinnati_error(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            &format!("unknown channel \"{}\"", crate::mirror_serve::esc(&channel)),
        );
    }
    let profile = match (q.profile, cfg.profiles.as_slice()) {
        (Some(p), _) => p,
        (None, [only]) => only.to_string(),
        (None, _) => {
            return cincinnati_error(
                StatusCode::BAD_REQUEST,
                "missing_params",
                "this mirror holds several profiles: give profile=",
            );
        }
    };
    if !cfg.profiles.iter().any(|p| p.as_str() == profile) {
        return cincinnati_error(StatusCode::BAD_REQUEST, "invalid_params", "unknown profile");
    }
    let platform = platform_of(q.arch.as_deref().unwrap_or("amd64"));
    if platform.contains('/') || platform.contains("..") {
        return cincinnati_error(StatusCode::BAD_REQUEST, "invalid_params", "bad arch");
    }
    let file = root.join(graph::path(&channel, &profile, &platform));
    let body = match tokio::fs::read(&file).await {
        Ok(b) => b,
        // No release for that platform: an empty graph, as OSUS answers.
        Err(_) => br#"{"version":1,"nodes":[],"edges":[],"conditionalEdges":[]}"#.to_vec(),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A TUF client with consistent snapshots asks for
/// `releases/…/<sha256>.<name>`: served as `releases/…/<name>` (the client
/// checks the hash; a mismatch is its refusal, not ours to hide).
pub(crate) async fn hash_prefixed(
    State(root): State<PathBuf>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(uri) = unprefixed(&root, req.uri()) {
        *req.uri_mut() = uri;
    }
    next.run(req).await
}

fn unprefixed(root: &Path, uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    if !path.starts_with("/releases/") {
        return None;
    }
    let (dir, name) = path.rsplit_once('/')?;
    let (hash, rest) = name.split_once('.')?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || rest.is_empty() {
        return None;
    }
    let real = format!("{dir}/{rest}");
    let local = crate::mirror_serve::percent_decode(&real)?;
    let p = root.join(local.trim_start_matches('/'));
    if root
        .join(crate::mirror_serve::percent_decode(path)?.trim_start_matches('/'))
        .exists()
        || !p.is_file()
    {
        return None;
    }
    real.parse().ok()
}
