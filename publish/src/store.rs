//! The S3 client: `object_store`'s `AmazonS3` on a runtime of its own, so
//! the rest of ferry stays synchronous.
//!
//! Why `object_store` (Apache Arrow): maintained, small next to the AWS
//! SDK, and it builds on what ferry already links (reqwest 0.13 with
//! rustls, tokio, aws-lc-rs), so `ferry-mirror` gains no second TLS stack
//! or HTTP client. It speaks path-style requests to any S3-compatible
//! endpoint, signs with SigV4, retries with backoff, does multipart
//! uploads, and exposes conditional writes (`PutMode::Create` sends
//! `If-None-Match: *`, `PutMode::Update` sends `If-Match: ETAG`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{
    ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    PutResult, RetryConfig,
};

use ferry_manifests::digest::{Sha256Digest, Sha256Hasher};

use crate::error::{Error, Result};
use crate::target::{StoreConfig, Target};

/// A bucket (and prefix) on an S3-compatible store.
pub struct Store {
    rt: tokio::runtime::Runtime,
    s3: Arc<AmazonS3>,
    target: Target,
    endpoint: String,
    label: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.label)
    }
}

impl Store {
    /// A client for `target` at `cfg.endpoint` (nothing is sent yet).
    ///
    /// # Errors
    /// [`Error::Usage`] for a bad endpoint; [`Error::Io`] if the runtime
    /// cannot start.
    pub fn connect(target: Target, cfg: &StoreConfig) -> Result<Store> {
        if !(cfg.endpoint.starts_with("http://") || cfg.endpoint.starts_with("https://")) {
            return Err(Error::Usage {
                what: format!("--endpoint {}", cfg.endpoint_redacted()),
                reason: "is not an http(s) URL".into(),
            });
        }
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
            ..RetryConfig::default()
        };
        let client = ClientOptions::new()
            .with_allow_http(true)
            .with_connect_timeout(Duration::from_secs(10))
            .with_timeout(Duration::from_secs(120));
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&target.bucket)
            .with_endpoint(&cfg.endpoint)
            .with_region(&cfg.region)
            .with_virtual_hosted_style_request(false)
            .with_retry(retry)
            .with_client_options(client);
        match &cfg.credentials {
            Some(c) => {
                b = b
                    .with_access_key_id(&c.access_key_id)
                    .with_secret_access_key(&c.secret_access_key);
                if let Some(t) = &c.session_token {
                    b = b.with_token(t);
                }
            }
            None => b = b.with_skip_signature(true),
        }
        let label = format!("{target} at {}", cfg.endpoint_redacted());
        let s3 = b.build().map_err(|e| Error::Usage {
            what: format!("--endpoint {}", cfg.endpoint_redacted()),
            reason: format!("cannot make an S3 client: {e}"),
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::Io {
                path: ".".into(),
                action: "start the async runtime",
                source: e,
            })?;
        Ok(Store {
            rt,
            s3: Arc::new(s3),
            target,
            endpoint: cfg.endpoint_redacted(),
            label,
        })
    }

    /// Where: `s3://bucket/prefix`.
    #[must_use]
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The endpoint, without credentials.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `s3://bucket/prefix at ENDPOINT`, for messages.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn path(&self, rel: &str) -> Result<ObjPath> {
        ObjPath::parse(self.target.key(rel)).map_err(|e| {
            Error::refused(
                rel,
                format!("cannot be an object name on the store unchanged ({e})"),
            )
        })
    }

    fn err(&self, rel: &str, action: &'static str, e: object_store::Error) -> Error {
        Error::store(rel, action, &self.target.to_string(), e)
    }

    /// The object's bytes and ETag, or `None` if absent. Refuses more than
    /// `limit` bytes.
    pub(crate) async fn get(
        &self,
        rel: &str,
        limit: u64,
    ) -> Result<Option<(Bytes, Option<String>)>> {
        let r = match self.s3.get(&self.path(rel)?).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(rel, "read", e)),
        };
        if r.meta.size > limit {
            return Err(Error::refused(
                rel,
                format!(
                    "is {} bytes on the store, more than the {limit} ferry reads",
                    r.meta.size
                ),
            ));
        }
        let etag = r.meta.e_tag.clone();
        let bytes = r.bytes().await.map_err(|e| self.err(rel, "read", e))?;
        Ok(Some((bytes, etag)))
    }

    /// The object's size and ETag, or `None` if absent.
    pub(crate) async fn head(&self, rel: &str) -> Result<Option<ObjectMeta>> {
        match self.s3.head(&self.path(rel)?).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(rel, "stat", e)),
        }
    }

    /// One PUT with `mode`; the client's error is returned as it is, so a
    /// caller can tell a failed precondition from other trouble.
    pub(crate) async fn put_raw(
        &self,
        rel: &str,
        bytes: Bytes,
        mode: PutMode,
    ) -> Result<std::result::Result<PutResult, object_store::Error>> {
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        Ok(self
            .s3
            .put_opts(&self.path(rel)?, PutPayload::from(bytes), opts)
            .await)
    }

    /// One PUT that overwrites.
    pub(crate) async fn put(&self, rel: &str, bytes: Bytes) -> Result<PutResult> {
        self.put_raw(rel, bytes, PutMode::Overwrite)
            .await?
            .map_err(|e| self.err(rel, "upload", e))
    }

    /// Removes an object (absent is fine).
    pub(crate) async fn delete(&self, rel: &str) -> Result<()> {
        match self.s3.delete(&self.path(rel)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(rel, "delete", e)),
        }
    }

    /// A multipart upload of `rel`.
    pub(crate) async fn multipart(&self, rel: &str) -> Result<object_store::WriteMultipart> {
        let up = self
            .s3
            .put_multipart(&self.path(rel)?)
            .await
            .map_err(|e| self.err(rel, "start a multipart upload", e))?;
        Ok(object_store::WriteMultipart::new_with_chunk_size(
            up,
            crate::upload::PART_SIZE,
        ))
    }

    pub(crate) fn upload_err(&self, rel: &str, e: object_store::Error) -> Error {
        self.err(rel, "upload", e)
    }

    /// SHA-256 and size of an object, streamed; `None` if absent. Stops
    /// reading past `limit` bytes (the size is then reported as read).
    pub(crate) async fn hash(&self, rel: &str, limit: u64) -> Result<Option<(Sha256Digest, u64)>> {
        let r = match self.s3.get(&self.path(rel)?).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(rel, "read", e)),
        };
        let mut h = Sha256Hasher::new();
        let mut n = 0u64;
        let mut stream = r.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(rel, "read", e))?;
            n += chunk.len() as u64;
            h.update(&chunk);
            if n > limit {
                break;
            }
        }
        let (d, _) = h.finish();
        Ok(Some((d, n)))
    }
}
