//! A small HTTP/1.1 static file server for the end-to-end tests, on
//! 127.0.0.1, that can misbehave on demand: drop the connection after N
//! bytes of a path (once), serve wrong bytes, serve fewer bytes, go on past
//! the file's size, or answer with an error status. It supports `Range:
//! bytes=N-` and records every request for assertions.
//!
//! Plain `std::net` and one thread per connection; each response closes
//! its connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`...
    pub method: String,
    /// The path, e.g. `/1.0.0/no-training/app.deb`.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

/// A misbehaviour for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Send the headers of the full response, then only this many body
    /// bytes, then close the connection. Applies once.
    DropAfter(usize),
    /// Serve bytes of the right length but with different content.
    WrongBytes,
    /// Serve only the first N bytes (with a matching Content-Length).
    Truncate(usize),
    /// Serve the file, then N more bytes, without a Content-Length
    /// (close-delimited), like an endless stream.
    ExtraBytes(usize),
    /// Serve the file, then zeros without end, without a Content-Length
    /// (an endless stream; stops when the client leaves).
    Endless,
    /// Answer with this status and an empty body.
    Status(u16),
    /// Ignore `Range` headers (answer 200 with the whole file).
    IgnoreRange,
    /// Answer a `Range` request with a `Content-Range` one byte off.
    BadContentRange,
    /// Send the headers, then one body byte every this many milliseconds
    /// (a trickling server; stops after 60 s or when the client leaves).
    Trickle(u64),
}

struct Shared {
    root: PathBuf,
    requests: Mutex<Vec<Request>>,
    faults: Mutex<HashMap<String, Fault>>,
    stop: AtomicBool,
}

/// A running server; dropping it stops accepting.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// Serves `root` on 127.0.0.1 on a free port.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        let _ = handle(&s, stream);
                    });
                }
            }
        });
        Server { addr, shared }
    }

    /// `http://127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Sets a fault for a path (`/`-prefixed or not).
    pub fn fault(&self, path: &str, fault: Fault) {
        self.shared
            .faults
            .lock()
            .expect("lock")
            .insert(format!("/{}", path.trim_start_matches('/')), fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("lock").clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().expect("lock").clone()
    }

    /// Requests for one path.
    pub fn requests_for(&self, path: &str) -> Vec<Request> {
        let p = format!("/{}", path.trim_start_matches('/'));
        self.requests()
            .into_iter()
            .filter(|r| r.path == p)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(s: &Shared, mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    let path = target.split('?').next().unwrap_or("/").to_string();
    s.requests.lock().expect("lock").push(Request {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
    });
    let fault = {
        let mut faults = s.faults.lock().expect("lock");
        let f = faults.get(&path).cloned();
        if matches!(f, Some(Fault::DropAfter(_))) {
            faults.remove(&path);
        }
        f
    };
    if let Some(Fault::Status(code)) = fault {
        return respond(&mut stream, code, &[], &[]);
    }
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == ".." || c.is_empty()) {
        return respond(&mut stream, 404, &[], &[]);
    }
    let Ok(mut body) = std::fs::read(s.root.join(rel)) else {
        return respond(&mut stream, 404, &[], &[]);
    };
    match &fault {
        Some(Fault::WrongBytes) => {
            for b in &mut body {
                *b ^= 0x5a;
            }
        }
        Some(Fault::Truncate(n)) => body.truncate(*n),
        _ => {}
    }
    let total = body.len();
    let mut status = 200;
    let mut headers: Vec<(String, String)> = vec![("Accept-Ranges".into(), "bytes".into())];
    let range_used = if fault == Some(Fault::IgnoreRange) {
        None
    } else {
        range.as_deref()
    };
    if let Some(r) = range_used.and_then(|r| r.strip_prefix("bytes="))
        && let Some((a, b)) = r.split_once('-')
        && let Ok(start) = a.parse::<usize>()
    {
        let end = b.parse::<usize>().unwrap_or(total.saturating_sub(1));
        if start >= total || end < start {
            headers.push(("Content-Range".into(), format!("bytes */{total}")));
            return respond_h(&mut stream, 416, &headers, &[], true);
        }
        let end = end.min(total - 1);
        let shown = if fault == Some(Fault::BadContentRange) {
            start + 1
        } else {
            start
        };
        headers.push((
            "Content-Range".into(),
            format!("bytes {shown}-{end}/{total}"),
        ));
        body = body[start..=end].to_vec();
        status = 206;
    }
    match fault {
        Some(Fault::DropAfter(n)) => {
            let head = head(status, &headers, Some(body.len()));
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body[..n.min(body.len())])?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)
        }
        Some(Fault::Trickle(ms)) => {
            let head = head(status, &headers, Some(body.len()));
            stream.write_all(head.as_bytes())?;
            let start = std::time::Instant::now();
            for b in &body {
                if s.stop.load(Ordering::SeqCst) || start.elapsed().as_secs() > 60 {
                    break;
                }
                stream.write_all(std::slice::from_ref(b))?;
                stream.flush()?;
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            Ok(())
        }
        Some(Fault::Endless) => {
            let head = head(status, &headers, None);
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body)?;
            let zeros = vec![0u8; 64 * 1024];
            let start = std::time::Instant::now();
            while !s.stop.load(Ordering::SeqCst) && start.elapsed().as_secs() < 120 {
                stream.write_all(&zeros)?;
            }
            Ok(())
        }
        Some(Fault::ExtraBytes(n)) => {
            let head = head(status, &headers, None);
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body)?;
            stream.write_all(&vec![0x42u8; n])?;
            stream.flush()
        }
        _ => respond_h(&mut stream, status, &headers, &body, true),
    }
}

fn head(status: u16, headers: &[(String, String)], len: Option<usize>) -> String {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(len) = len {
        out.push_str(&format!("Content-Length: {len}\r\n"));
    }
    out.push_str("\r\n");
    out
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    respond_h(stream, status, headers, body, true)
}

fn respond_h(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    with_len: bool,
) -> std::io::Result<()> {
    let head = head(status, headers, with_len.then_some(body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// Asserts that `curl` of `url` does not get a whole body: exit 18 (cut
/// short after the headers) or 52 (cut before them, when the body fits one
/// chunk) — what a server does with bytes it found damaged while sending.
pub fn assert_cut_short(url: &str) {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "--noproxy",
            "*",
            "--max-time",
            "10",
            url,
        ])
        .status()
        .expect("curl");
    assert!(
        matches!(out.code(), Some(18 | 52)),
        "curl got the whole body of {url}: {out:?}"
    );
}
