//! `ferry-mirror serve` (SPEC §4): the mirror tree as static files (Range,
//! `Last-Modified`, a strong `ETag`, HEAD), read-only (GET and HEAD only,
//! anything else 405), never `.ferry/` (404); `/healthz` (200 when
//! what readers fetch verifies with the mirror key recorded at init and
//! agrees — `published.json`, index, feed, audit head —, else 503; an
//! interrupted publish is rolled forward first when no other ferry
//! process holds the lock);
//! an HTML status page at `/`; and the views of SPEC §3.13 (`/graph`,
//! TUF targets by consistent-snapshot name: `mirror_views`).
//!
//! ```no_run
//! let server = ferry_net::mirror_serve::start(
//!     std::path::Path::new("/srv/mirror"),
//!     "127.0.0.1:8080".parse().unwrap(),
//! ).unwrap();
//! println!("status page: {}", server.url());
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use ferry_manifests::hints::Hints;
use ferry_mirror_layout::mirror::Mirror;
use ferry_mirror_layout::mirror::index::MirrorIndex;

use crate::error::Result;
use crate::serve::StaticServer;

/// Starts serving the mirror at `root` on `listen` from a background
/// thread; returns once bound. Dropping the server stops it.
///
/// # Errors
/// [`crate::Error::Io`] if the address cannot be bound.
pub fn start(root: &Path, listen: SocketAddr) -> Result<StaticServer> {
    start_with_access_log(root, listen, None)
}

/// As [`start`], writing an access log line per request to `log` (issue 16).
///
/// # Errors
/// As [`start`].
pub fn start_with_access_log(
    root: &Path,
    listen: SocketAddr,
    log: Option<crate::access_log::AccessLog>,
) -> Result<StaticServer> {
    let app = match log {
        Some(log) => crate::access_log::with_access_log(router(root), log),
        None => router(root),
    };
    StaticServer::start_router(app, root, listen)
}

/// The router serving the mirror at `root`.
pub fn router(root: &Path) -> Router {
    let root = root.to_path_buf();
    // The registry API over the mirror's images (SPEC §3.12).
    let registry = crate::oci_registry::router(std::sync::Arc::new(
        crate::oci_registry::MirrorCatalog::new(&root),
    ));
    Router::new()
        .route_service("/v2", registry.clone())
        .route_service("/v2/", registry.clone())
        .route_service("/v2/{*rest}", registry)
        .route("/", get(status_page))
        .route("/healthz", get(healthz))
        .route("/graph", get(crate::mirror_views::graph_endpoint))
        .route("/v1/graph", get(crate::mirror_views::graph_endpoint))
        .fallback(crate::static_files::serve)
        .layer(middleware::from_fn_with_state(
            root.clone(),
            crate::mirror_views::hash_prefixed,
        ))
        .layer(middleware::from_fn_with_state(root.clone(), guard))
        .with_state(root)
}

/// GET/HEAD only; never `.ferry/`, never through a symlink.
async fn guard(State(root): State<PathBuf>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "read-only: GET and HEAD only\n",
        )
            .into_response();
    }
    // Decoded as ServeDir decodes it, so `%2eferry` or `.%66erry` is caught.
    if crate::serve::hidden(&root, req.uri().path()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(req).await
}

/// The file a URL path names below `root`: a plain relative path, else
/// `None`.
/// (The `guard` layer has refused hidden paths before any handler runs.)
pub(crate) fn local_file(root: &Path, url_path: &str) -> Option<PathBuf> {
    local_path(root, url_path)
}

/// The file a URL path names below `root`, if it is a plain relative path.
fn local_path(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut p = root.to_path_buf();
    for c in decoded.split('/').filter(|c| !c.is_empty()) {
        if c == "." || c == ".." || c.contains('\\') || c == ".ferry" {
            return None;
        }
        p.push(c);
    }
    Some(p)
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The index `serve` vouches for: an interrupted publish is finished (or
/// reported as in progress), then everything readers fetch must verify
/// and agree ([`Mirror::check_served`]).
fn load(root: &Path) -> std::result::Result<MirrorIndex, String> {
    let m = Mirror::open(root).map_err(|e| e.to_string())?;
    m.check_served().map(|p| p.index).map_err(|e| match e {
        ferry_mirror_layout::Error::Locked { .. } => {
            "a publish is in progress (an import or prune holds the mirror lock)".to_string()
        }
        e => e.to_string(),
    })
}

async fn healthz(State(root): State<PathBuf>) -> Response {
    match tokio::task::spawn_blocking(move || load(&root)).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the mirror does not verify as served: {e}\n"),
        )
            .into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn status_page(State(root): State<PathBuf>, headers: header::HeaderMap) -> Response {
    // Pull references name the mirror as the client reached it.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    match tokio::task::spawn_blocking(move || load(&root)).await {
        Ok(Ok(index)) => Html(render_status_for(&index, host.as_deref())).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(format!(
                "<!doctype html><meta charset=\"utf-8\"><title>ferry mirror</title><h1>ferry mirror: index does not verify</h1><p>{}</p>",
                esc(&e)
            )),
        )
            .into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// HTML-escapes text for element content and quoted attributes.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// The status page of a (verified) index: channels, latest version per
/// profile, releases, images, advisories, last import, index sequence.
#[must_use]
pub fn render_status(index: &MirrorIndex) -> String {
    render_status_for(index, None)
}

/// As [`render_status`], with pull references naming `host` (the `Host`
/// the client used; `MIRROR` when unknown).
#[must_use]
pub fn render_status_for(index: &MirrorIndex, host: Option<&str>) -> String {
    let hints = index.hints();
    let mut h = String::new();
    status_head(&mut h, index);
    last_import(&mut h, index);
    latest_versions(&mut h, &hints);
    releases_table(&mut h, index);
    images(&mut h, index, host.unwrap_or("MIRROR"));
    h.push_str(&crate::status_svg::section(index));
    advisories(&mut h, &hints);
    h.push_str("<p>Signed index: <a href=\"/index.json\">index.json</a> (<a href=\"/index.json.minisig\">signature</a>); feed: <a href=\"/feed/hints.json\">feed/hints.json</a>; <a href=\"/audit/log.jsonl\">audit log</a>.</p>\n</body></html>\n");
    h
}

/// The page's head, title and index sequence.
fn status_head(h: &mut String, index: &MirrorIndex) {
    let product = esc(index.product.as_str());
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{product} mirror</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em}}.yanked{{color:#a00}}</style></head><body>\n\
         <h1>{product} mirror</h1>\n<p>Index sequence <b id=\"sequence\">{}</b>, generated {}; highest manifest sequence {}.</p>\n",
        index.sequence,
        esc(&index.generated.to_string()),
        index.manifest_sequence
    );
}

/// The most recent import, if any.
fn last_import(h: &mut String, index: &MirrorIndex) {
    match index.manifests.iter().max_by_key(|m| m.imported) {
        Some(m) => {
            let _ = writeln!(
                h,
                "<p id=\"last-import\">Last import: {} (manifest sequence {}, sha256 <code>{}</code>, signed by {}).</p>",
                esc(&m.imported.to_string()),
                m.sequence,
                esc(&m.sha256.to_string()),
                esc(&m.signers.join(", "))
            );
        }
        None => h.push_str("<p id=\"last-import\">Nothing imported yet.</p>\n"),
    }
}

/// The latest version of each channel × profile.
fn latest_versions(h: &mut String, hints: &Hints) {
    h.push_str("<h2>Latest versions</h2>\n<table id=\"channels\"><tr><th>Channel</th><th>Profile</th><th>Latest</th><th>Versions</th></tr>\n");
    for (c, profiles) in &hints.channels {
        for (p, cp) in profiles {
            let versions: Vec<String> = cp.versions.iter().map(|v| esc(&v.to_string())).collect();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"latest\">{}</td><td>{}</td></tr>",
                esc(c.as_str()),
                esc(p.as_str()),
                esc(&cp.latest.to_string()),
                versions.join(", ")
            );
        }
    }
    h.push_str("</table>\n");
}

/// Every release, newest first, with its artifacts and status.
fn releases_table(h: &mut String, index: &MirrorIndex) {
    h.push_str("<h2>Releases</h2>\n<table id=\"releases\"><tr><th>Version</th><th>Channels</th><th>Artifacts</th><th>Status</th></tr>\n");
    for r in index.releases.iter().rev() {
        let channels: Vec<&str> = r.channels.iter().map(|c| c.as_str()).collect();
        let arts: Vec<String> = r
            .artifacts
            .iter()
            .map(|a| {
                format!(
                    "<a href=\"/{}\">{}</a> ({}, {} bytes)",
                    esc(a.path.as_str()),
                    esc(a.path.file_name()),
                    esc(a.profile.as_str()),
                    a.size
                )
            })
            .collect();
        let status = match &r.yanked {
            Some(y) => format!("<span class=\"yanked\">yanked: {}</span>", esc(&y.reason)),
            None => "available".to_string(),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{status}</td></tr>",
            esc(&r.version.to_string()),
            esc(&channels.join(", ")),
            arts.join("<br>")
        );
    }
    h.push_str("</table>\n");
}

/// The images the registry API serves, with their pull references.
fn images(h: &mut String, index: &MirrorIndex, host: &str) {
    let served = crate::oci_registry::served_images(index);
    if served.is_empty() {
        return;
    }
    h.push_str("<h2>Container images</h2>\n<table id=\"images\"><tr><th>Version</th><th>Profile</th><th>Pull</th><th>By digest</th></tr>\n");
    for s in served {
        let pulls: Vec<String> = s
            .tags
            .iter()
            .map(|t| {
                format!(
                    "<code>docker pull {}/{}:{}</code>",
                    esc(host),
                    esc(&s.repository),
                    esc(t)
                )
            })
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}/{}@{}</code></td></tr>",
            esc(&s.version),
            esc(&s.profile),
            pulls.join("<br>"),
            esc(host),
            esc(&s.repository),
            esc(&s.digest.to_string())
        );
    }
    h.push_str("</table>\n");
}

/// The advisories of the feed.
fn advisories(h: &mut String, hints: &Hints) {
    h.push_str("<h2>Advisories</h2>\n");
    if hints.advisories.is_empty() {
        h.push_str("<p id=\"advisories\">None.</p>\n");
    } else {
        h.push_str("<table id=\"advisories\"><tr><th>Id</th><th>Severity</th><th>Affected</th><th>Fixed in</th><th>Summary</th></tr>\n");
        for a in &hints.advisories {
            let sev = format!("{:?}", a.severity).to_lowercase();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(a.id.as_str()),
                esc(&sev),
                esc(&a.affected.to_string()),
                esc(&a.fixed_in.as_ref().map_or("-".into(), ToString::to_string)),
                esc(&a.summary)
            );
        }
        h.push_str("</table>\n");
    }
}
