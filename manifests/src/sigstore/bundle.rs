//! Parsing and verifying one Sigstore bundle against an artifact.

use sigstore_verify::crypto::{KeyAlgorithm, parse_certificate_info};
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{
    ArtifactDigest, Bundle, DerPublicKey, DigestBytes, HashAlgorithm, SignatureContent, Statement,
};
use sigstore_verify::{
    Policy, PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult,
};

use crate::error::{Error, Result, escape_untrusted};
use crate::policy::SigstoreIdentity;

use super::*;

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
pub(super) fn json_reason(e: &Error) -> String {
    match e {
        Error::Format { field, message, .. } => format!("{field}: {message}"),
        other => other.to_string(),
    }
}
