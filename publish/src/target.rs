//! Where a mirror is published: `s3://BUCKET[/PREFIX]` at an endpoint,
//! with credentials the binary read from the environment.

use crate::error::{Error, Result};

/// `s3://BUCKET[/PREFIX]`: the mirror's root is `PREFIX/` in `BUCKET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bucket.
    pub bucket: String,
    /// The prefix, without leading or trailing `/` (empty: the bucket root).
    pub prefix: String,
}

impl Target {
    /// Parses `s3://BUCKET[/PREFIX]`.
    ///
    /// # Errors
    /// [`Error::Usage`] naming `--to`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Usage {
            what: format!("--to {text}"),
            reason: reason.to_string(),
        };
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| bad("is not s3://BUCKET[/PREFIX]"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad(
                "names no valid bucket (3 to 63 lowercase letters, digits, '-' or '.')",
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|c| c == "." || c == ".." || (c.is_empty() && !prefix.is_empty()))
            || prefix.chars().any(char::is_control)
        {
            return Err(bad("has an empty, '.' or '..' component in its prefix"));
        }
        Ok(Target {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The object key of `rel` (a path below the mirror root).
    #[must_use]
    pub fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// An access key pair. Never printed: `Debug` shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, when the key is temporary.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// How to reach the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The S3 API endpoint (`http://127.0.0.1:3900`, `https://s3.internal`).
    pub endpoint: String,
    /// The region the store expects in signatures (`garage`, `us-east-1`).
    pub region: String,
    /// The key pair; `None` sends unsigned requests (a public bucket, reading only).
    pub credentials: Option<Credentials>,
}

impl StoreConfig {
    /// The endpoint without any `user:password@` part, for messages and
    /// the audit log.
    #[must_use]
    pub fn endpoint_redacted(&self) -> String {
        redact(&self.endpoint)
    }
}

/// `scheme://user:pass@host/…` → `scheme://host/…`.
#[must_use]
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("s3://mirror/novantra/stable/").unwrap();
        assert_eq!(t.bucket, "mirror");
        assert_eq!(t.prefix, "novantra/stable");
        assert_eq!(t.key("index.json"), "novantra/stable/index.json");
        assert_eq!(t.to_string(), "s3://mirror/novantra/stable");
        let t = Target::parse("s3://localhost").unwrap();
        assert_eq!(t.key("index.json"), "index.json");
        for bad in [
            "http://x/y",
            "s3://",
            "s3://UPPER",
            "s3://ok-bucket/a/../b",
            "s3://ok-bucket/a//b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_never_print() {
        let c = Credentials {
            access_key_id: "GK1".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("tok".into()),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("very-secret") && !s.contains("tok"), "{s}");
        assert_eq!(redact("http://u:p@host:9/x"), "http://host:9/x");
        assert_eq!(redact("http://host:9"), "http://host:9");
    }
}
