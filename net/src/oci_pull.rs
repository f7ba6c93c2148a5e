//! Pulling an image from a registry through the OCI Distribution API
//! (SPEC §3.12): manifests and blobs **by digest only**, each checked
//! against its digest (and its descriptor's size) while it arrives;
//! anonymous or bearer-token access as the registry asks for it
//! (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`); the client of
//! [`crate::client`] (`--ca-cert`, proxies).
//!
//! Manifests are small (at most [`ferry_oci::model::MAX_MANIFEST_BYTES`])
//! and read into memory; blobs stream into the workspace through
//! [`crate::download::fetch`] (resumable with `Range`, size-capped, hashed,
//! renamed into place only once verified) with [`Registry::auth`] as their
//! `Authorization` header.

use ferry_manifests::digest::OciDigest;
use ferry_manifests::image::ImageRef;
use ferry_oci::model::{Document, Expect, MAX_MANIFEST_BYTES, parse_document};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Largest token answer read.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// One repository of one registry.
pub struct Registry {
    client: reqwest::Client,
    /// `<scheme>://<host>/v2/<repository>/`
    base: Url,
    repository: String,
    token: tokio::sync::Mutex<Option<HeaderValue>>,
}

impl Registry {
    /// The repository of `image`, over HTTPS, or plain HTTP when
    /// `plain_http` (a registry the operator named with `--registry-http`).
    ///
    /// # Errors
    /// [`Error::Usage`] if the reference makes no URL.
    pub fn new(client: reqwest::Client, image: &ImageRef, plain_http: bool) -> Result<Self> {
        let scheme = if plain_http { "http" } else { "https" };
        let text = format!("{scheme}://{}/v2/{}/", image.registry(), image.repository());
        let base = Url::parse(&text).map_err(|e| Error::Usage {
            what: format!("image {image}"),
            reason: format!("makes no registry URL: {e}"),
        })?;
        Ok(Registry {
            client,
            base,
            repository: image.repository().to_string(),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The URL of a blob.
    #[must_use]
    pub fn blob_url(&self, blob: &OciDigest) -> Url {
        self.base
            .join(&format!("blobs/{blob}"))
            .expect("a digest is a valid URL path segment")
    }

    fn manifest_url(&self, blob: &OciDigest) -> Url {
        self.base
            .join(&format!("manifests/{blob}"))
            .expect("a digest is a valid URL path segment")
    }

    /// The `Authorization` value the registry gave (after a first request
    /// was challenged), for blob downloads.
    pub async fn auth(&self) -> Option<HeaderValue> {
        self.token.lock().await.clone()
    }

    /// GETs `url`; on `401` with a Bearer challenge, fetches a token and
    /// asks once more.
    async fn get(&self, url: &Url, accept: Option<&str>) -> Result<reqwest::Response> {
        let mut retried = false;
        loop {
            let mut req = self.client.get(url.clone());
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            if let Some(t) = self.auth().await {
                req = req.header(AUTHORIZATION, t);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| Error::from_reqwest(url.as_str(), e))?;
            if resp.status() != StatusCode::UNAUTHORIZED || retried {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(challenge) = challenge else {
                return Ok(resp);
            };
            let token = self.fetch_token(url, &challenge).await?;
            *self.token.lock().await = Some(token);
            retried = true;
        }
    }

    /// Asks the challenge's realm for a token (`token` or `access_token`).
    async fn fetch_token(&self, url: &Url, challenge: &str) -> Result<HeaderValue> {
        let protocol = |reason: String| Error::Protocol {
            url: url.to_string(),
            reason,
        };
        let c = parse_bearer(challenge)
            .ok_or_else(|| protocol("401 without a Bearer challenge ferry can answer".into()))?;
        let mut realm = Url::parse(&c.realm)
            .map_err(|e| protocol(format!("the token realm is not a URL: {e}")))?;
        if !matches!(realm.scheme(), "http" | "https") {
            return Err(protocol("the token realm is not http or https".into()));
        }
        {
            let mut q = realm.query_pairs_mut();
            if let Some(s) = &c.service {
                q.append_pair("service", s);
            }
            let scope = c
                .scope
                .clone()
                .unwrap_or_else(|| format!("repository:{}:pull", self.repository));
            q.append_pair("scope", &scope);
        }
        let resp = self
            .client
            .get(realm.clone())
            .send()
            .await
            .map_err(|e| Error::from_reqwest(realm.as_str(), e))?;
        if !resp.status().is_success() {
            return Err(Error::Status {
                url: realm.to_string(),
                status: resp.status().as_u16(),
            });
        }
        let body = read_capped(resp, MAX_TOKEN_BYTES, realm.as_str()).await?;
        #[derive(Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
            url: realm.to_string(),
            reason: format!("the token answer is not JSON with a token: {e}"),
        })?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Protocol {
                url: realm.to_string(),
                reason: "the token answer holds no token".into(),
            })?;
        let mut value =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Error::Protocol {
                url: realm.to_string(),
                reason: "the token holds characters a header cannot".into(),
            })?;
        // Never printed: a secret (SPEC §5 rule 6).
        value.set_sensitive(true);
        Ok(value)
    }

    /// Fetches the manifest or index `expect.digest`, checks its bytes
    /// (size cap, size, SHA-256), then parses those bytes.
    ///
    /// # Errors
    /// [`ferry_oci::Error`] naming the manifest digest (exit 1) when the
    /// registry serves other bytes; network errors (exit 3).
    pub async fn manifest(&self, expect: Expect<'_>) -> Result<(Vec<u8>, Document)> {
        let url = self.manifest_url(expect.digest);
        let resp = self
            .get(&url, Some(ferry_oci::media::MANIFEST_ACCEPT))
            .await?;
        if !resp.status().is_success() {
            return Err(Error::Status {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        let cap = expect
            .size
            .unwrap_or(MAX_MANIFEST_BYTES)
            .min(MAX_MANIFEST_BYTES);
        let bytes = read_capped(resp, cap, url.as_str())
            .await
            .map_err(|e| match e {
                Error::Protocol { .. } => Error::Oci(too_long(expect, cap)),
                other => other,
            })?;
        let doc = parse_document(&bytes, expect)?;
        Ok((bytes, doc))
    }
}

/// The error for a manifest answer longer than it may be.
fn too_long(expect: Expect<'_>, cap: u64) -> ferry_oci::Error {
    match expect.size {
        Some(size) if size <= MAX_MANIFEST_BYTES => ferry_oci::Error::SizeMismatch {
            blob: *expect.digest,
            expected: size,
            actual: size + 1,
        },
        _ => ferry_oci::Error::TooLarge {
            blob: *expect.digest,
            what: "an image manifest or index",
            limit: cap,
        },
    }
}

/// Reads a whole answer, refusing (as [`Error::Protocol`]) more than
/// `cap` bytes as soon as they pass, announced or not, within the one
/// deadline small documents have (a trickling registry is not waited for:
/// [`crate::limits`]).
async fn read_capped(resp: reqwest::Response, cap: u64, url: &str) -> Result<Vec<u8>> {
    match tokio::time::timeout(crate::limits::get().deadline, read_all(resp, cap, url)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Stalled {
            url: url.to_string(),
            reason: crate::limits::deadline_reason(cap),
        }),
    }
}

async fn read_all(mut resp: reqwest::Response, cap: u64, url: &str) -> Result<Vec<u8>> {
    let over = || Error::Protocol {
        url: url.to_string(),
        reason: format!("answer longer than {cap} bytes"),
    };
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(over());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::from_reqwest(url, e))?
    {
        if out.len() as u64 + chunk.len() as u64 > cap {
            return Err(over());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The parameters of a `Bearer` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    /// Where tokens are issued.
    pub realm: String,
    /// The `service` to name.
    pub service: Option<String>,
    /// The `scope` to ask for.
    pub scope: Option<String>,
}

/// Parses `Bearer realm="…",service="…",scope="…"` (quoted or bare
/// values, any order, other parameters ignored); `None` for another
/// scheme or without a realm.
#[must_use]
pub fn parse_bearer(header: &str) -> Option<BearerChallenge> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((key, value));
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    Some(BearerChallenge {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        let c = parse_bearer(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:novantra/onprem:pull""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://auth.example/token");
        assert_eq!(c.service.as_deref(), Some("registry.example"));
        assert_eq!(c.scope.as_deref(), Some("repository:novantra/onprem:pull"));
        let c =
            parse_bearer(r#"bearer scope="a:b:pull,push", realm=http://127.0.0.1:1/t"#).unwrap();
        assert_eq!(c.realm, "http://127.0.0.1:1/t");
        assert_eq!(c.scope.as_deref(), Some("a:b:pull,push"));
        assert!(parse_bearer(r#"Basic realm="x""#).is_none());
        assert!(parse_bearer(r#"Bearer service="x""#).is_none());
        assert!(parse_bearer(r#"Bearer realm="unterminated"#).is_none());
    }
}
