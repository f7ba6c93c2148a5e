//! The access log of `ferry-mirror serve` (issue 16): one line per request
//! in the Common Log Format (`host ident authuser [date] "request" status
//! bytes`), as web servers write it, so the usual tools read it. The
//! library never prints: the binary hands it the writer (stderr or a
//! file). Request lines are escaped: a client controls them.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;

/// Where the lines go.
pub type AccessLog = Arc<Mutex<Box<dyn Write + Send>>>;

/// `app`, logging every request to `log`.
pub fn with_access_log(app: Router, log: AccessLog) -> Router {
    app.layer(middleware::from_fn_with_state(log, record))
}

async fn record(State(log): State<AccessLog>, req: Request, next: Next) -> Response {
    let host = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_string(), |c| c.0.ip().to_string());
    let request = format!("{} {} {:?}", req.method(), req.uri(), req.version());
    let res = next.run(req).await;
    let bytes = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let line = line(&host, &request, res.status().as_u16(), &bytes, clf_now());
    if let Ok(mut w) = log.lock() {
        let _ = w.write_all(line.as_bytes());
        let _ = w.flush();
    }
    res
}

/// One log line (with its newline).
fn line(host: &str, request: &str, status: u16, bytes: &str, date: String) -> String {
    format!(
        "{host} - - [{date}] \"{}\" {status} {bytes}\n",
        escape(request)
    )
}

/// The time as CLF writes it: `10/Oct/2000:13:55:36 +0000` (UTC).
fn clf_now() -> String {
    let f = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::now_utc()
        .format(&f)
        .unwrap_or_else(|_| "-".into())
}

/// Quotes, backslashes and control characters as `\xNN`: one request is
/// one line, whatever the client sent.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' || c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_in_common_log_format() {
        assert_eq!(
            line(
                "127.0.0.1",
                "GET /index.json HTTP/1.1",
                200,
                "1234",
                "10/Oct/2000:13:55:36 +0000".into()
            ),
            "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /index.json HTTP/1.1\" 200 1234\n"
        );
        assert_eq!(escape("GET /\"x\n"), "GET /\\x22x\\x0a");
    }
}
