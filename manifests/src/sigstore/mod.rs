//! Sigstore bundles, verified offline (SPEC §3.4, §3.5 `[vendor]`, issue 4).
//!
//! A vendor artifact may come with a Sigstore bundle
//! (`application/vnd.dev.sigstore.bundle*+json`, v0.1–v0.3): a message
//! signature or a DSSE/in-toto envelope, signed by a short-lived Fulcio
//! certificate (keyless) or by a managed key, logged in Rekor (v1 or v2) and
//! possibly timestamped by an RFC 3161 authority. Everything is checked
//! against a `trusted_root.json` the site keeps; nothing here opens a socket
//! (the `sigstore-verify` crate family is built without its `tuf` feature,
//! so no HTTP client or async runtime is linked).
//!
//! The cryptography (certificate chain at the signing time, SCT, transparency
//! log inclusion proof and checkpoint or SET, RFC 3161 timestamps, signature,
//! artifact binding) is `sigstore-verify`'s. Ferry adds, and fails closed on:
//! size caps before parsing, a bundle that names its media type, at least one
//! transparency log entry, a verified signing time for certificates, and the
//! signer check — the certificate SAN exactly or as an anchored regular
//! expression, and the OIDC issuer exactly — against the verified
//! certificate.
//!
//! Entry points:
//! - [`verify_bundle`]: one bundle, one artifact, one expectation (used by
//!   `ferry-verify file`).
//! - [`check_vendor_sigstore`]: what `ferry sync` and bundle verification
//!   call for an artifact whose policy requires `sigstore`.
//! - [`SigstoreTrust`]: the trusted root and identities loaded once, for
//!   checking many artifacts.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sigstore_verify::Verifier;
use sigstore_verify::trust_root::TrustedRoot;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result, escape_untrusted};
use crate::minisig::read_small_bytes;
use crate::policy::{SigstoreIdentity, VendorPolicy};

/// Largest bundle ferry parses (real bundles are a few KiB).
pub const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;
/// Largest `trusted_root.json` ferry parses (the production one is ~10 KiB).
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 4 * 1024 * 1024;
/// Largest compiled SAN regular expression.
const MAX_REGEX_BYTES: usize = 1024 * 1024;

/// The artifact a bundle is checked against.
pub enum ArtifactInput<'a> {
    /// The whole artifact in memory.
    Bytes(&'a [u8]),
    /// The artifact as a stream, read once to its end by the verifier (it
    /// hashes with the algorithms the bundle needs). Wrap it to compute
    /// other digests in the same pass. A bundle that is refused before the
    /// artifact is needed leaves the reader partly or wholly unread.
    Reader(&'a mut dyn Read),
    /// Digests only: enough for message signatures (SHA-256) and for DSSE
    /// statements whose subjects carry one of the given digests.
    Digest {
        /// SHA-256 of the artifact.
        sha256: Option<[u8; 32]>,
        /// SHA-512 of the artifact.
        sha512: Option<[u8; 64]>,
    },
}

/// Who must have signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// One keyless signer (Fulcio certificate).
    Identity(SigstoreIdentity),
    /// Any one of these keyless signers (`[[vendor.sigstore_identity]]`).
    Identities(Vec<SigstoreIdentity>),
    /// A managed key, PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    PublicKey(String),
}

/// A verified bundle: who signed, where it was logged, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigstoreOutcome {
    /// The bundle file.
    pub bundle: String,
    /// The bundle's media type as written in it.
    pub media_type: String,
    /// `message_signature` or `dsse`.
    pub content: &'static str,
    /// The verified certificate SAN (None for managed keys).
    pub identity: Option<String>,
    /// The verified certificate OIDC issuer (None for managed keys).
    pub issuer: Option<String>,
    /// Whether a managed key (not a certificate) signed.
    pub managed_key: bool,
    /// Log index of the first transparency log entry.
    pub log_index: Option<u64>,
    /// Kind and version of the first entry (`hashedrekord/0.0.1`...).
    pub tlog_kind: Option<String>,
    /// The earliest verified signing time (RFC 3339), from a Rekor SET or an
    /// RFC 3161 timestamp.
    pub signed_time: Option<String>,
}

/// A SAN expectation: exact, or a regular expression matched against the
/// whole SAN (`^(?:…)$`, so `https://x/.*` cannot match
/// `evil/https://x/…`, and `main` does not match `main-evil`).
#[derive(Debug, Clone)]
pub enum SanPattern {
    /// Byte-for-byte equality.
    Exact(String),
    /// A full match of this (anchored) expression.
    Regex(regex::Regex),
}

impl SanPattern {
    /// Builds the pattern of `san`; with `is_regex`, compiles it anchored.
    ///
    /// # Errors
    /// The compiler's message when the expression is invalid or too large.
    pub fn new(san: &str, is_regex: bool) -> std::result::Result<Self, String> {
        if !is_regex {
            return Ok(SanPattern::Exact(san.to_string()));
        }
        regex::RegexBuilder::new(&format!("^(?:{san})$"))
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .map(SanPattern::Regex)
            .map_err(|e| format!("invalid SAN regular expression {san:?}: {e}"))
    }

    /// Whether `san` satisfies the pattern.
    #[must_use]
    pub fn matches(&self, san: &str) -> bool {
        match self {
            SanPattern::Exact(s) => s == san,
            SanPattern::Regex(r) => r.is_match(san),
        }
    }
}

/// A trusted root ready to verify bundles (parse once, check many).
pub struct SigstoreRoot {
    verifier: Verifier,
}

impl SigstoreRoot {
    /// Parses `trusted_root.json` bytes; `name` names the file in errors.
    ///
    /// # Errors
    /// [`Error::Config`] (exit 2) if it is too large or not a usable root.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |reason: String| Error::config(name, format!("sigstore trusted root: {reason}"));
        if bytes.len() as u64 > MAX_TRUSTED_ROOT_BYTES {
            return Err(bad(format!(
                "larger than the {MAX_TRUSTED_ROOT_BYTES}-byte limit"
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
        crate::json::parse_strict::<serde::de::IgnoredAny>(bytes, name)
            .map_err(|e| bad(format!("malformed JSON: {}", json_reason(&e))))?;
        let root = TrustedRoot::from_json(text).map_err(|e| bad(e.to_string()))?;
        let verifier = Verifier::new(&root).map_err(|e| bad(e.to_string()))?;
        Ok(SigstoreRoot { verifier })
    }

    /// Reads and parses a trusted root file.
    ///
    /// # Errors
    /// [`Error::Io`] (exit 3) if unreadable, else as [`SigstoreRoot::parse`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = read_small_bytes(path, MAX_TRUSTED_ROOT_BYTES)?;
        Self::parse(&bytes, &path.display().to_string())
    }
}

fn compile(
    ids: &[SigstoreIdentity],
) -> std::result::Result<Vec<(SanPattern, &SigstoreIdentity)>, String> {
    ids.iter()
        .map(|id| Ok((SanPattern::new(&id.san, id.san_regex)?, id)))
        .collect()
}

/// Accepts if any expectation matches both SAN and issuer; otherwise says
/// which part failed, naming what the certificate holds.
fn check_signer(
    san: &str,
    issuer: &str,
    patterns: &[(SanPattern, &SigstoreIdentity)],
) -> std::result::Result<(), String> {
    if patterns
        .iter()
        .any(|(p, id)| p.matches(san) && id.issuer == issuer)
    {
        return Ok(());
    }
    let shown_san = escape_untrusted(san);
    let shown_iss = escape_untrusted(issuer);
    let describe = |id: &SigstoreIdentity| {
        if id.san_regex {
            format!("regex {:?}", id.san)
        } else {
            format!("{:?}", id.san)
        }
    };
    if let Some((_, id)) = patterns.iter().find(|(p, _)| p.matches(san)) {
        return Err(format!(
            "certificate issuer \"{shown_iss}\" does not match expected issuer \"{}\" (identity \"{shown_san}\")",
            id.issuer
        ));
    }
    let expected: Vec<String> = patterns.iter().map(|(_, id)| describe(id)).collect();
    Err(format!(
        "certificate identity \"{shown_san}\" does not match expected identity {}",
        expected.join(" or ")
    ))
}

/// Verifies one bundle: parse the trusted root and the bundle, check the
/// bundle over the artifact, check the signer.
///
/// # Errors
/// [`Error::Config`] for an unusable trusted root, [`Error::Sigstore`]
/// naming `bundle_name` for everything about the bundle.
pub fn verify_bundle(
    bundle_bytes: &[u8],
    bundle_name: &str,
    artifact: ArtifactInput<'_>,
    trusted_root_bytes: &[u8],
    trusted_root_name: &str,
    expect: &Expect,
) -> Result<SigstoreOutcome> {
    let root = SigstoreRoot::parse(trusted_root_bytes, trusted_root_name)?;
    SigstoreBundle::parse(bundle_bytes, bundle_name)?.verify(artifact, &root, expect)
}

/// The `[vendor]` Sigstore settings, loaded once: the trusted root and the
/// accepted identities.
pub struct SigstoreTrust {
    root: SigstoreRoot,
    expect: Expect,
}

impl SigstoreTrust {
    /// Loads `policy.sigstore_trusted_root` (already resolved against the
    /// policy file) and takes `policy.sigstore_identities`.
    ///
    /// # Errors
    /// [`Error::Config`] if the policy lacks either, or the root is
    /// unusable; [`Error::Io`] if the root cannot be read.
    pub fn from_policy(policy: &VendorPolicy) -> Result<Self> {
        // A root the trust chain brought replaces the policy's file (§3.11).
        let chain_name = policy
            .sigstore_chain_root
            .as_ref()
            .map(|(v, _)| format!("trust chain version {v}: trusted_root.json"));
        let path = match (&chain_name, policy.sigstore_trusted_root.as_deref()) {
            (Some(name), _) => std::path::Path::new(name.as_str()),
            (None, Some(p)) => p,
            (None, None) => {
                return Err(Error::config(
                    "ferry-trust.toml",
                    "vendor.sigstore_trusted_root is not set, so Sigstore bundles cannot be checked",
                ));
            }
        };
        if policy.sigstore_identities.is_empty() {
            return Err(Error::config(
                path,
                "no [[vendor.sigstore_identity]] in the trust policy, so no Sigstore signer is accepted",
            ));
        }
        for id in &policy.sigstore_identities {
            SanPattern::new(&id.san, id.san_regex).map_err(|e| Error::config(path, e))?;
        }
        let root = match (&policy.sigstore_chain_root, &chain_name) {
            (Some((_, bytes)), Some(name)) => SigstoreRoot::parse(bytes, name)?,
            _ => SigstoreRoot::from_file(path)?,
        };
        Ok(SigstoreTrust {
            root,
            expect: Expect::Identities(policy.sigstore_identities.clone()),
        })
    }

    /// Checks one bundle over one artifact: accepted if it verifies and ANY
    /// policy identity matches.
    ///
    /// # Errors
    /// [`Error::Sigstore`] naming `bundle_name`.
    pub fn check(
        &self,
        bundle_bytes: &[u8],
        bundle_name: &str,
        artifact: ArtifactInput<'_>,
    ) -> Result<SigstoreOutcome> {
        SigstoreBundle::parse(bundle_bytes, bundle_name)?.verify(artifact, &self.root, &self.expect)
    }
}

/// What `ferry sync` and bundle verification call for an artifact whose
/// policy requires `sigstore` (SPEC §3.5): verifies `bundle_bytes` (the
/// artifact's `.sigstore.json`, named `bundle_name` in errors) over the
/// artifact's SHA-256 against the policy's trusted root, accepting if ANY
/// `[[vendor.sigstore_identity]]` matches. The outcome's identity, issuer
/// and log index go into the manifest's `upstream` and the provenance report.
///
/// The artifact is given by its SHA-256 only, so a DSSE attestation whose
/// subjects carry only SHA-512 digests is refused (use [`SigstoreTrust::check`]
/// with [`ArtifactInput::Digest`] or a reader for those), and so is a message
/// signature whose key signs the raw message (Ed25519; see
/// [`SigstoreBundle::needs_whole_artifact`], then pass
/// [`ArtifactInput::Bytes`]). Loads the trusted
/// root on each call; for many artifacts, load a [`SigstoreTrust`] once.
///
/// # Errors
/// [`Error::Config`] (exit 2) if the policy's Sigstore settings are missing
/// or unusable, [`Error::Io`] (exit 3) if the trusted root cannot be read,
/// [`Error::Sigstore`] (exit 1) if the bundle does not verify.
pub fn check_vendor_sigstore(
    policy: &VendorPolicy,
    bundle_bytes: &[u8],
    bundle_name: &str,
    sha256: &Sha256Digest,
) -> Result<SigstoreOutcome> {
    SigstoreTrust::from_policy(policy)?.check(
        bundle_bytes,
        bundle_name,
        ArtifactInput::Digest {
            sha256: Some(sha256.0),
            sha512: None,
        },
    )
}

mod bundle;

pub use bundle::SigstoreBundle;
use bundle::json_reason;

#[cfg(test)]
mod tests;
