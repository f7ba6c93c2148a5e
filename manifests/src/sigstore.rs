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
use sigstore_verify::crypto::{KeyAlgorithm, parse_certificate_info};
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{
    ArtifactDigest, Bundle, DerPublicKey, DigestBytes, HashAlgorithm, SignatureContent, Statement,
};
use sigstore_verify::{
    Policy, PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier,
};

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

/// A parsed (not yet verified) bundle.
pub struct SigstoreBundle {
    name: String,
    media_type: String,
    bundle: Bundle,
}

#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

impl SigstoreBundle {
    /// Parses bundle bytes; `name` names the file in errors.
    ///
    /// # Errors
    /// [`Error::Sigstore`] if too large, not JSON, without a known media
    /// type, or not a well-formed bundle.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |reason: String| Error::Sigstore {
            what: name.to_string(),
            reason,
        };
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(bad(format!(
                "bundle larger than the {MAX_BUNDLE_BYTES}-byte limit"
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("bundle is not UTF-8".into()))?;
        // Ferry's strict reading first: duplicate keys at any depth, a BOM
        // or trailing data are refused. The crate defaults a missing
        // mediaType to v0.1; ferry wants the bundle to say what it is.
        let head: Head = crate::json::parse_strict(bytes, name)
            .map_err(|e| bad(format!("malformed bundle JSON: {}", json_reason(&e))))?;
        let media_type = head
            .media_type
            .ok_or_else(|| bad("bundle has no mediaType".into()))?;
        let bundle = Bundle::from_json(text).map_err(|e| {
            bad(format!(
                "invalid bundle (media type \"{}\"): {}",
                escape_untrusted(&media_type),
                escape_untrusted(&e.to_string())
            ))
        })?;
        Ok(SigstoreBundle {
            name: name.to_string(),
            media_type,
            bundle,
        })
    }

    /// The media type as written in the bundle.
    #[must_use]
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// Whether a digest-only check needs the SHA-512 of the artifact: a DSSE
    /// statement whose subjects carry SHA-512 digests but no SHA-256 one.
    #[must_use]
    pub fn wants_sha512(&self) -> bool {
        match self.statement() {
            Some(st) => {
                let algs = st.subject_algorithms();
                !algs.contains(&HashAlgorithm::Sha2256) && algs.contains(&HashAlgorithm::Sha2512)
            }
            None => false,
        }
    }

    /// Whether checking this bundle needs the whole artifact in memory, not
    /// a stream or a digest: a message signature by a key whose scheme
    /// signs the raw message (Ed25519, ML-DSA). `expect` gives the managed
    /// key, if any. Unknown keys answer `false` (verification then fails
    /// with the reason).
    #[must_use]
    pub fn needs_whole_artifact(&self, expect: &Expect) -> bool {
        let SignatureContent::MessageSignature(msg) = &self.bundle.content else {
            return false;
        };
        let alg = match expect {
            Expect::PublicKey(pem) => DerPublicKey::from_pem(pem)
                .ok()
                .and_then(|k| KeyAlgorithm::from_spki(&k).ok()),
            _ => self
                .bundle
                .signing_certificate()
                .and_then(|c| parse_certificate_info(c).ok())
                .map(|info| info.key_algorithm),
        };
        let Some(alg) = alg else { return false };
        let scheme = match &msg.message_digest {
            Some(d) => alg.resolve_signing_scheme(d.algorithm).ok(),
            None => Some(alg.default_signing_scheme()),
        };
        scheme.is_some_and(|s| !s.supports_prehashed())
    }

    fn statement(&self) -> Option<Statement> {
        match &self.bundle.content {
            SignatureContent::DsseEnvelope(env) => {
                serde_json::from_slice(env.payload.as_bytes()).ok()
            }
            _ => None,
        }
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Sigstore {
            what: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// Verifies this bundle over `artifact` against `root`, and that the
    /// signer is what `expect` says.
    ///
    /// # Errors
    /// [`Error::Sigstore`] naming the bundle and the reason; an error of the
    /// reader (its own [`Error`] if it carries one) for [`ArtifactInput::Reader`].
    pub fn verify(
        &self,
        artifact: ArtifactInput<'_>,
        root: &SigstoreRoot,
        expect: &Expect,
    ) -> Result<SigstoreOutcome> {
        let tlog = &self.bundle.verification_material.tlog_entries;
        if tlog.is_empty() {
            return Err(self.err("bundle has no transparency log entry"));
        }
        let has_cert = !matches!(
            self.bundle.verification_material.content,
            VerificationMaterialContent::PublicKey(_)
        );
        let (policy, patterns): (Box<dyn Policy>, Vec<(SanPattern, &SigstoreIdentity)>) =
            match expect {
                Expect::PublicKey(pem) => {
                    if has_cert {
                        return Err(self.err(
                            "bundle is signed with a certificate, but a public key was given: give the expected identity and issuer instead",
                        ));
                    }
                    let key = DerPublicKey::from_pem(pem)
                        .map_err(|e| self.err(format!("public key: {e}")))?;
                    (Box::new(PublicKeyVerificationPolicy::new(key)), Vec::new())
                }
                Expect::Identity(id) => (
                    Box::new(VerificationPolicy::any_identity()),
                    compile(std::slice::from_ref(id)).map_err(|e| self.err(e))?,
                ),
                Expect::Identities(ids) => {
                    if ids.is_empty() {
                        return Err(self.err("no expected identity given"));
                    }
                    (
                        Box::new(VerificationPolicy::any_identity()),
                        compile(ids).map_err(|e| self.err(e))?,
                    )
                }
            };
        if !has_cert && !matches!(expect, Expect::PublicKey(_)) {
            return Err(self.err(
                "bundle is signed with a managed key, not a certificate: no public key was given to check it",
            ));
        }
        let verifier = &root.verifier;
        let result = match artifact {
            ArtifactInput::Bytes(b) => verifier.verify(b, &self.bundle, policy.as_ref()),
            ArtifactInput::Reader(r) => verifier.verify_reader(r, &self.bundle, policy.as_ref()),
            ArtifactInput::Digest { sha256, sha512 } => {
                let digest = self.pick_digest(sha256, sha512)?;
                verifier.verify(digest, &self.bundle, policy.as_ref())
            }
        };
        let result = result.map_err(|e| self.map_err(e))?;
        self.outcome(&result, has_cert, &patterns)
    }

    fn pick_digest(
        &self,
        sha256: Option<[u8; 32]>,
        sha512: Option<[u8; 64]>,
    ) -> Result<ArtifactDigest> {
        let d256 = sha256.map(|d| (HashAlgorithm::Sha2256, d.to_vec()));
        let d512 = sha512.map(|d| (HashAlgorithm::Sha2512, d.to_vec()));
        let chosen = if self.wants_sha512() {
            d512.ok_or_else(|| {
                self.err("the attestation's subjects carry only sha512 digests: give the artifact or its sha512 digest")
            })?
        } else {
            d256.ok_or_else(|| {
                self.err("this bundle binds the artifact by its sha256 digest: give the artifact or its sha256 digest")
            })?
        };
        ArtifactDigest::new(chosen.0, DigestBytes::new(chosen.1))
            .map_err(|e| self.err(format!("artifact digest: {e}")))
    }

    fn map_err(&self, e: sigstore_verify::Error) -> Error {
        use sigstore_verify::Error as E;
        match e {
            E::ArtifactRead(io) => crate::digest::unwrap_io(io, &self.name),
            E::ArtifactMismatch(detail) => self.err(format!(
                "artifact digest does not match the bundle ({detail})"
            )),
            // The crate's messages may quote bundle bytes (ATTACKS C6).
            other => self.err(escape_untrusted(&other.to_string())),
        }
    }

    fn outcome(
        &self,
        result: &VerificationResult,
        has_cert: bool,
        patterns: &[(SanPattern, &SigstoreIdentity)],
    ) -> Result<SigstoreOutcome> {
        // Fail closed on anything the crate reports as not done.
        if !result.tlog_verified() {
            return Err(self.err("transparency log entry was not verified"));
        }
        let times = result.verified_timestamps();
        let mut identity = None;
        let mut issuer = None;
        if has_cert {
            if !result.certificate_verified() {
                return Err(self.err("signing certificate was not verified"));
            }
            if times.is_empty() {
                return Err(self.err(
                    "no verified signing time (neither a Rekor inclusion promise nor an RFC 3161 timestamp)",
                ));
            }
            let san = result
                .identity()
                .map(|s| s.as_str().to_string())
                .ok_or_else(|| self.err("signing certificate has no identity (SAN)"))?;
            let iss = result
                .issuer()
                .map(str::to_string)
                .ok_or_else(|| self.err("signing certificate has no OIDC issuer"))?;
            check_signer(&san, &iss, patterns).map_err(|r| self.err(r))?;
            identity = Some(san);
            issuer = Some(iss);
        }
        let first = self.bundle.verification_material.tlog_entries.first();
        Ok(SigstoreOutcome {
            bundle: self.name.clone(),
            media_type: self.media_type.clone(),
            content: match self.bundle.content {
                SignatureContent::DsseEnvelope(_) => "dsse",
                SignatureContent::MessageSignature(_) => "message_signature",
                _ => "unknown",
            },
            identity,
            issuer,
            managed_key: !has_cert,
            log_index: first.map(|e| e.log_index.get()),
            tlog_kind: first
                .map(|e| format!("{}/{}", e.kind_version.kind(), e.kind_version.version())),
            signed_time: times.iter().min().map(ToString::to_string),
        })
    }
}

/// The message of a strict-JSON error without the document name (the
/// caller's error names the file).
fn json_reason(e: &Error) -> String {
    match e {
        Error::Format { field, message, .. } => format!("{field}: {message}"),
        other => other.to_string(),
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
        let path = policy.sigstore_trusted_root.as_deref().ok_or_else(|| {
            Error::config(
                "ferry-trust.toml",
                "vendor.sigstore_trusted_root is not set, so Sigstore bundles cannot be checked",
            )
        })?;
        if policy.sigstore_identities.is_empty() {
            return Err(Error::config(
                path,
                "no [[vendor.sigstore_identity]] in the trust policy, so no Sigstore signer is accepted",
            ));
        }
        for id in &policy.sigstore_identities {
            SanPattern::new(&id.san, id.san_regex).map_err(|e| Error::config(path, e))?;
        }
        Ok(SigstoreTrust {
            root: SigstoreRoot::from_file(path)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(san: &str, re: bool, iss: &str) -> SigstoreIdentity {
        SigstoreIdentity {
            san: san.into(),
            san_regex: re,
            issuer: iss.into(),
        }
    }

    #[test]
    fn regex_is_a_full_match() {
        let p = SanPattern::new(r"https://github\.com/acme/.*@refs/tags/v.*", true).unwrap();
        assert!(p.matches("https://github.com/acme/rel.yml@refs/tags/v1"));
        assert!(!p.matches("xhttps://github.com/acme/rel.yml@refs/tags/v1"));
        let p = SanPattern::new("a|b", true).unwrap();
        assert!(p.matches("a") && p.matches("b"));
        assert!(!p.matches("ab") && !p.matches("xa"));
        assert!(SanPattern::new("(", true).is_err());
        assert!(!SanPattern::new("a.c", false).unwrap().matches("abc"));
    }

    #[test]
    fn signer_check_names_the_failing_part() {
        let ids = [id("s", false, "i")];
        let pats = compile(&ids).unwrap();
        assert!(check_signer("s", "i", &pats).is_ok());
        let e = check_signer("t", "i", &pats).unwrap_err();
        assert!(
            e.contains("certificate identity \"t\" does not match"),
            "{e}"
        );
        let e = check_signer("s", "j", &pats).unwrap_err();
        assert!(
            e.contains("issuer \"j\" does not match expected issuer \"i\""),
            "{e}"
        );
    }

    #[test]
    fn oversized_and_malformed_bundles_fail() {
        let e = SigstoreBundle::parse(br#"{"mediaType":"a","mediaType":"b"}"#, "b")
            .err()
            .unwrap();
        assert!(e.to_string().contains("duplicate key"), "{e}");
        let big = vec![b' '; (MAX_BUNDLE_BYTES + 1) as usize];
        assert!(matches!(
            SigstoreBundle::parse(&big, "b").err(),
            Some(Error::Sigstore { .. })
        ));
        let e = SigstoreBundle::parse(b"{\"mediaType\":", "b")
            .err()
            .unwrap();
        assert!(e.to_string().contains("malformed bundle JSON"), "{e}");
        let e = SigstoreBundle::parse(b"{}", "b").err().unwrap();
        assert!(e.to_string().contains("no mediaType"), "{e}");
    }
}
