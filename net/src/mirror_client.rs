//! The hand-off's HTTP side (issue 7): reading a mirror served over HTTP
//! (`ferry-mirror serve`, nginx…) as a
//! [`MirrorSource`], and the
//! post-upgrade `--health-url` probe as a
//! [`HealthProbe`].
//!
//! Blocking on a runtime of its own, so the library's hand-off logic stays
//! synchronous and free of network crates.

use std::io::Read;
use std::time::{Duration, Instant};

use ferry_handoff_core::MirrorSource;
use ferry_handoff_core::install::{HealthProbe, redact_url};

use crate::client::{ClientOptions, build};
use crate::download::fetch_small_retry;
use crate::error::{Error, Result};

/// Retries of small fetches after network trouble.
const RETRIES: u32 = 2;

/// An HTTP client with its own runtime.
pub struct HttpClient {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// Builds the client (`--ca-cert`, proxy variables) and a small runtime.
    ///
    /// # Errors
    /// [`Error::Usage`] for a bad CA file, [`Error::Io`] if the runtime
    /// cannot start.
    pub fn new(opts: &ClientOptions) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io(".", "start the async runtime", e))?;
        Ok(HttpClient {
            rt,
            client: build(opts)?,
        })
    }
}

impl HealthProbe for HttpClient {
    fn wait_healthy(&self, url: &str, timeout: Duration) -> std::result::Result<String, String> {
        // Responses and timers are dropped inside the runtime's context.
        let _rt = self.rt.enter();
        let start = Instant::now();
        let deadline = start + timeout;
        let mut tries = 0u32;
        let mut last;
        loop {
            tries += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let per_try = remaining.clamp(Duration::from_millis(100), Duration::from_secs(10));
            let res = self
                .rt
                .block_on(async { self.client.get(url).timeout(per_try).send().await });
            match res {
                Ok(resp) if resp.status().is_success() => {
                    return Ok(format!(
                        "HTTP {} after {tries} tr{}",
                        resp.status().as_u16(),
                        if tries == 1 { "y" } else { "ies" }
                    ));
                }
                Ok(resp) => last = format!("HTTP {}", resp.status().as_u16()),
                Err(e) => last = Error::from_reqwest(&redact_url(url), e).to_string(),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "no 2xx answer within {}s: last {last} ({tries} tr{})",
                    timeout.as_secs_f32(),
                    if tries == 1 { "y" } else { "ies" }
                ));
            }
            let backoff = Duration::from_millis(200u64.saturating_mul(1 << tries.min(5)));
            std::thread::sleep(backoff.min(deadline - now));
        }
    }
}

/// A mirror served over HTTP(S).
#[derive(Debug)]
pub struct HttpMirror {
    http: HttpClient,
    base: reqwest::Url,
}

impl HttpMirror {
    /// A mirror at `base` (`http://mirror.internal/novantra/`).
    ///
    /// # Errors
    /// [`Error::Usage`] for a URL that is not http(s).
    pub fn new(base: &str, opts: &ClientOptions) -> Result<Self> {
        let mut text = base.to_string();
        if !text.ends_with('/') {
            text.push('/');
        }
        let base = reqwest::Url::parse(&text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| Error::Usage {
                what: format!("--mirror {base}"),
                reason: "is neither an http(s) URL nor a folder".into(),
            })?;
        Ok(HttpMirror {
            http: HttpClient::new(opts)?,
            base,
        })
    }

    /// The client, for health checks.
    #[must_use]
    pub fn client(&self) -> &HttpClient {
        &self.http
    }

    fn url(&self, path: &str) -> std::io::Result<reqwest::Url> {
        self.base
            .join(path)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))
    }
}

fn to_io(e: Error) -> std::io::Error {
    let kind = if e.class() == ferry_manifests::ErrorClass::Verification {
        std::io::ErrorKind::InvalidData
    } else {
        std::io::ErrorKind::Other
    };
    std::io::Error::new(kind, e)
}

fn status_error(status: u16) -> std::io::Error {
    let kind = if status == 404 || status == 410 {
        std::io::ErrorKind::NotFound
    } else {
        std::io::ErrorKind::Other
    };
    std::io::Error::new(kind, format!("the server answered HTTP {status}"))
}

impl MirrorSource for HttpMirror {
    fn location(&self, path: &str) -> String {
        let full = self
            .base
            .join(path)
            .map_or_else(|_| format!("{}{path}", self.base), |u| u.to_string());
        redact_url(&full)
    }

    fn read_small(&self, path: &str, limit: u64) -> std::io::Result<Vec<u8>> {
        let _rt = self.http.rt.enter();
        let url = self.url(path)?;
        let res = self.http.rt.block_on(fetch_small_retry(
            &self.http.client,
            &url,
            limit,
            path,
            RETRIES,
        ));
        match res {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(status)) => Err(status_error(status)),
            Err(e) if url.password().is_some() || !url.username().is_empty() => {
                // The error names the URL: never with its credentials.
                let io = to_io(e);
                let text = io
                    .to_string()
                    .replace(url.as_str(), &redact_url(url.as_str()));
                Err(std::io::Error::new(io.kind(), text))
            }
            Err(e) => Err(to_io(e)),
        }
    }

    fn open(&self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let _rt = self.http.rt.enter();
        let url = self.url(path)?;
        let u = redact_url(url.as_str());
        let resp = self
            .http
            .rt
            .block_on(self.http.client.get(url).send())
            .map_err(|e| to_io(Error::from_reqwest(&u, e)))?;
        if !resp.status().is_success() {
            return Err(status_error(resp.status().as_u16()));
        }
        Ok(Box::new(BodyReader {
            rt: &self.http.rt,
            url: u,
            resp: Some(resp),
            chunk: Vec::new(),
            pos: 0,
            rate: crate::limits::RateWatch::new(),
        }))
    }
}

/// A response body as a blocking reader.
struct BodyReader<'a> {
    rt: &'a tokio::runtime::Runtime,
    url: String,
    /// Always `Some` until dropped (inside the runtime's context).
    resp: Option<reqwest::Response>,
    chunk: Vec<u8>,
    pos: usize,
    rate: crate::limits::RateWatch,
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.chunk.len() {
            let Some(resp) = self.resp.as_mut() else {
                return Ok(0);
            };
            let wait = self.rate.chunk_wait();
            let next = self
                .rt
                .block_on(async { tokio::time::timeout(wait, resp.chunk()).await });
            let Ok(next) = next else {
                return Err(to_io(Error::Stalled {
                    url: self.url.clone(),
                    reason: self.rate.stalled(),
                }));
            };
            match next {
                Ok(Some(c)) => {
                    if let Err(reason) = self.rate.add(c.len()) {
                        return Err(to_io(Error::Stalled {
                            url: self.url.clone(),
                            reason,
                        }));
                    }
                    self.chunk = c.to_vec();
                    self.pos = 0;
                }
                Ok(None) => return Ok(0),
                Err(e) => return Err(to_io(Error::from_reqwest(&self.url, e))),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for BodyReader<'_> {
    fn drop(&mut self) {
        // A response holds timers that must be dropped inside the runtime.
        let _rt = self.rt.enter();
        drop(self.resp.take());
    }
}
