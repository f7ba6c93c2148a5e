//! A static file server (axum + tower-http `ServeDir`): Range requests,
//! `ETag`/`Last-Modified`, read-only, never serving a `.ferry/` folder.
//! Used by `ferry demo` and, later, `ferry-mirror serve`.
//!
//! ```no_run
//! let server = ferry_net::serve::StaticServer::start(
//!     std::path::Path::new("vendor-web"),
//!     "127.0.0.1:0".parse().unwrap(),
//! ).unwrap();
//! println!("serving on {}", server.url());
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

use crate::error::{Error, Result};

/// A running server; dropping it stops it.
pub struct StaticServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for StaticServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticServer({})", self.addr)
    }
}

/// The router serving `root`.
pub fn router(root: &Path) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(root).append_index_html_on_directories(false))
        .layer(middleware::from_fn_with_state(
            root.to_path_buf(),
            hide_state,
        ))
}

async fn hide_state(State(root): State<PathBuf>, req: Request, next: Next) -> Response {
    if hidden(&root, req.uri().path()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(req).await
}

/// Whether a URL path must not be served from `root`: decoded as
/// `ServeDir` decodes it (so `%2eferry` is caught), a `.ferry` or `..`
/// component, a backslash, or a symlink anywhere below `root` (a planted
/// link is never followed out of the tree or into `.ferry/`).
pub(crate) fn hidden(root: &Path, url_path: &str) -> bool {
    let Some(decoded) = crate::mirror_serve::percent_decode(url_path) else {
        return true;
    };
    let mut at = root.to_path_buf();
    for c in decoded.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".ferry" || c == ".." || c.contains('\\') {
            return true;
        }
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

impl StaticServer {
    /// Binds `listen` (port 0: any free port) and serves `root` from a
    /// background thread. Returns once the socket is bound.
    ///
    /// # Errors
    /// [`Error::Io`] if the address cannot be bound.
    pub fn start(root: &Path, listen: SocketAddr) -> Result<Self> {
        Self::start_router(router(root), root, listen)
    }

    /// As [`StaticServer::start`], serving any router (`root` names the
    /// server in errors).
    ///
    /// # Errors
    /// [`Error::Io`] if the address cannot be bound.
    pub fn start_router(app: Router, root: &Path, listen: SocketAddr) -> Result<Self> {
        let listener = std::net::TcpListener::bind(listen)
            .map_err(|e| Error::io(root, "bind the server socket", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(root, "bind the server socket", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(root, "bind the server socket", e))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::io(root, "start the server runtime", e))?;
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                // The peer's address, for the access log.
                let app = app.into_make_service_with_connect_info::<SocketAddr>();
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        Ok(StaticServer {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
