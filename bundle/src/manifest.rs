//! Verification of a transfer manifest alone (SPEC §3.3, §3.4, §5.4, §5.5):
//! verify the bytes, then parse those same bytes, then apply the policy.

use std::path::{Path, PathBuf};

use ferry_manifests::decide::{self, Counter, PinKind, PinSource, Rule, Seen};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::json::{self, MAX_DOCUMENT_BYTES};
use ferry_manifests::manifest::{
    FileEntry, FileRole, MANIFEST_PATH, Manifest, PathIndex, trusted_comment,
};
use ferry_manifests::minisig::{
    OfferedSignature, SignatureFile, ThresholdReport, verify_threshold,
};
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::{TransferPolicy, TrustPolicy};
use ferry_manifests::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The schema of the verifier's state file.
pub const STATE_SCHEMA: &str = "ferry.verify-state/v1";

/// What a verification compares against: the clock and the highest
/// manifest seen so far.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// "Now" for the whole run (ATTACKS A9: one fixed time).
    pub now: Timestamp,
    /// The highest manifest already accepted (`--state`).
    pub state: Option<State>,
    /// Where the bytes checked are reported (issue 16); silent by default.
    pub progress: ferry_durable::progress::ProgressHandle,
}

/// `--state FILE`: the highest manifest a site has accepted
/// (`ferry.verify-state/v1`). The verifier only reads it; whoever imports
/// (the mirror) writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Always [`STATE_SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// The highest sequence accepted.
    pub sequence: u64,
    /// SHA-256 of that manifest's bytes, to tell equivocation (same
    /// sequence, other bytes) from a repeat of the same manifest.
    #[serde(default)]
    pub manifest_sha256: Option<Sha256Digest>,
}

impl State {
    /// Reads a state file (at most 1 MiB).
    ///
    /// # Errors
    /// [`Error::Manifest`] for an unreadable (exit 3) or malformed (exit 1) file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = ferry_manifests::minisig::read_small_bytes(path, 1024 * 1024)?;
        let doc = path.display().to_string();
        Ok(json::parse_document(&bytes, &doc, STATE_SCHEMA)?)
    }

    /// The state that records `m`.
    #[must_use]
    pub fn of(m: &VerifiedManifest) -> Self {
        State {
            schema: STATE_SCHEMA.into(),
            product: m.manifest.product.clone(),
            sequence: m.manifest.sequence,
            manifest_sha256: Some(m.sha256),
        }
    }
}

/// A manifest whose bytes passed the threshold and the policy.
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    /// The parsed manifest (parsed from [`Self::bytes`]).
    pub manifest: Manifest,
    /// The exact bytes that were verified.
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub sha256: Sha256Digest,
    /// Which signatures counted and which were ignored.
    pub signers: ThresholdReport,
    /// The signatures offered with the bytes (the mirror keeps them).
    pub signatures: Vec<OfferedSignature>,
    /// Where each path sits in [`Self::manifest`], for lookups a file.
    pub paths: PathIndex,
}

impl VerifiedManifest {
    /// The manifest's entry for `path` (a hash lookup).
    #[must_use]
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.paths.file(&self.manifest, path)
    }

    /// The role of `path` in the manifest (a hash lookup).
    #[must_use]
    pub fn role_of(&self, path: &BundlePath) -> Option<FileRole<'_>> {
        self.paths.role(&self.manifest, path)
    }
}

/// A bundle for another product than the policy's: said plainly, before
/// any signature work (issue 10: a wall of trusted-comment mismatches).
/// The product is what the signatures' trusted comments claim; it is not
/// trusted for anything but this refusal, which fails closed.
fn refuse_other_product(policy: &TrustPolicy, signatures: &[OfferedSignature]) -> Result<()> {
    let claimed: std::collections::BTreeSet<String> = signatures
        .iter()
        .filter_map(|s| SignatureFile::parse(&s.bytes, &s.name).ok())
        .filter_map(|sig| {
            sig.trusted_comment()
                .strip_prefix("ferry-manifest product=")
                .and_then(|r| r.split(' ').next())
                .map(str::to_string)
        })
        .collect();
    if !claimed.is_empty() && !claimed.contains(policy.product.as_str()) {
        let products: Vec<String> = claimed
            .iter()
            .map(|p| ferry_manifests::error::escape_untrusted(p))
            .collect();
        return Err(Error::refused(
            MANIFEST_PATH,
            format!(
                "this bundle is for {} (as its signatures say); the trust policy {} is for {}: use the policy of that product",
                products.join(", "),
                policy.path.display(),
                policy.product
            ),
        ));
    }
    Ok(())
}

/// Checks manifest bytes and their signatures against the policy.
///
/// Order (ATTACKS C10): size cap, threshold over the raw bytes with the
/// trusted comment bound to product, sequence and digest, then parse those
/// bytes, then product, sequence, expiry, `max_validity`, state (rollback,
/// equivocation), channel and profile pins.
///
/// # Errors
/// [`Error::Manifest`] or [`Error::Refused`] naming the rule.
pub fn verify_manifest(
    policy: &TrustPolicy,
    opts: &VerifyOptions,
    bytes: Vec<u8>,
    signatures: &[OfferedSignature],
) -> Result<VerifiedManifest> {
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(ferry_manifests::Error::DocumentTooLarge {
            doc: MANIFEST_PATH.into(),
            limit: MAX_DOCUMENT_BYTES,
        }
        .into());
    }
    let transfer = policy.transfer()?;
    let sha256 = Sha256Digest::of(&bytes);
    if signatures.is_empty() {
        return Err(Error::refused(
            MANIFEST_PATH,
            "no signatures (ferry/signatures/*.minisig): the manifest is not signed; sign it with `ferry sign`",
        ));
    }
    refuse_other_product(policy, signatures)?;
    let signed = Signed {
        policy,
        transfer,
        bytes: &bytes,
        sha256,
        signatures,
    };
    let (seq, signers) = signed.threshold()?;

    // Verified: now parse those same bytes.
    let manifest = Manifest::parse(&bytes)?;
    check_product_and_sequence(policy, &manifest, seq)?;
    check_dates(opts, transfer, &manifest)?;
    check_state(opts, &manifest, sha256)?;
    check_pins(policy, &manifest)?;
    Ok(VerifiedManifest {
        paths: PathIndex::of(&manifest),
        manifest,
        bytes,
        sha256,
        signers,
        signatures: signatures.to_vec(),
    })
}

/// Manifest bytes and the signatures offered for them, before parsing.
struct Signed<'a> {
    policy: &'a TrustPolicy,
    transfer: &'a TransferPolicy,
    bytes: &'a [u8],
    sha256: Sha256Digest,
    signatures: &'a [OfferedSignature],
}

impl Signed<'_> {
    /// The sequence the threshold of signatures binds to these bytes, and
    /// who signed. Exactly one sequence may pass.
    fn threshold(&self) -> Result<(u64, ThresholdReport)> {
        let mut best: Option<(u64, ThresholdReport)> = None;
        // For the message when nothing passes: the candidate that came closest.
        let mut closest: Option<(usize, u64, ferry_manifests::Error)> = None;
        for seq in &self.candidate_sequences() {
            let expected = trusted_comment(&self.policy.product, *seq, &self.sha256);
            match verify_threshold(
                &self.transfer.keys,
                self.transfer.threshold,
                self.bytes,
                &expected,
                self.signatures,
                MANIFEST_PATH,
            ) {
                Ok(r) => {
                    if best.is_some() {
                        return Err(Error::refused(
                            MANIFEST_PATH,
                            "signatures bind the same bytes to two different sequence numbers",
                        ));
                    }
                    best = Some((*seq, r));
                }
                Err(e) => {
                    let valid = match &e {
                        ferry_manifests::Error::Threshold { valid, .. } => *valid,
                        _ => 0,
                    };
                    if closest.as_ref().is_none_or(|(v, _, _)| valid > *v) {
                        closest = Some((valid, *seq, e));
                    }
                }
            }
        }
        match best {
            Some(b) => Ok(b),
            None => Err(self.not_counted(closest)),
        }
    }

    /// The sequence is bound by the trusted comment; candidates come from
    /// the offered comments, each tried as the exact expected comment, so a
    /// signature with any other comment never counts (SPEC §3.4).
    fn candidate_sequences(&self) -> Vec<u64> {
        let mut candidates: Vec<u64> = Vec::new();
        let prefix = format!("ferry-manifest product={} sequence=", self.policy.product);
        let suffix = format!(" sha256={}", self.sha256);
        for s in self.signatures {
            if let Ok(sig) = SignatureFile::parse(&s.bytes, &s.name)
                && let Some(rest) = sig.trusted_comment().strip_prefix(&prefix)
                && let Some(n) = rest.strip_suffix(&suffix)
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && !(n.len() > 1 && n.starts_with('0'))
                && let Ok(n) = n.parse::<u64>()
                && !candidates.contains(&n)
            {
                candidates.push(n);
            }
        }
        candidates
    }

    /// The threshold failure, with the reason each signature was not
    /// counted (against the closest candidate's comment).
    fn not_counted(&self, closest: Option<(usize, u64, ferry_manifests::Error)>) -> Error {
        let (seq, err) = match closest {
            Some((_, seq, e)) => (seq, e),
            None => (
                0,
                ferry_manifests::Error::Threshold {
                    what: MANIFEST_PATH.into(),
                    valid: 0,
                    threshold: self.transfer.threshold,
                },
            ),
        };
        let expected = trusted_comment(&self.policy.product, seq, &self.sha256);
        let mut reasons = Vec::new();
        if let Ok(r) = verify_threshold(
            &self.transfer.keys,
            0,
            self.bytes,
            &expected,
            self.signatures,
            MANIFEST_PATH,
        ) {
            for (name, why) in r.ignored {
                reasons.push(format!("{name}: {why}"));
            }
        }
        if reasons.is_empty() {
            return err.into();
        }
        Error::refused(
            format!("{err}"),
            format!("signatures not counted: {}", reasons.join("; ")),
        )
    }
}

/// The parsed manifest says what the signatures bound: the policy's
/// product, the signed sequence.
fn check_product_and_sequence(policy: &TrustPolicy, manifest: &Manifest, seq: u64) -> Result<()> {
    if manifest.product != policy.product {
        return Err(Error::refused(
            MANIFEST_PATH,
            format!(
                "product \"{}\" is not the policy's product \"{}\"",
                manifest.product, policy.product
            ),
        ));
    }
    if manifest.sequence != seq {
        return Err(Error::refused(
            MANIFEST_PATH,
            format!(
                "sequence {} differs from the signed trusted comment's {seq}",
                manifest.sequence
            ),
        ));
    }
    Ok(())
}

/// Created not in the future; not expired; valid no longer than the
/// policy's `max_validity`.
fn check_dates(opts: &VerifyOptions, transfer: &TransferPolicy, manifest: &Manifest) -> Result<()> {
    ferry_manifests::time::check_not_in_future("created", manifest.created, opts.now)
        .map_err(|e| Error::refused(MANIFEST_PATH, e))?;
    decide::validity(
        MANIFEST_PATH,
        Some(manifest.created),
        manifest.expires,
        opts.now,
        transfer.max_validity,
    )
    .map_err(|r| match *r.rule {
        Rule::Expired { .. } => r.advise("ask the transfer operator for a fresh, signed bundle"),
        _ => r,
    })
    .map_err(ferry_manifests::Error::from)?;
    Ok(())
}

/// Against `--state`: same product, no rollback, no equivocation.
fn check_state(opts: &VerifyOptions, manifest: &Manifest, sha256: Sha256Digest) -> Result<()> {
    if let Some(state) = &opts.state {
        if state.product != manifest.product {
            return Err(ferry_manifests::Error::config(
                PathBuf::from("--state"),
                format!(
                    "the state file is for product \"{}\", not \"{}\"",
                    state.product, manifest.product
                ),
            )
            .into());
        }
        decide::freshness(
            MANIFEST_PATH,
            Counter::ManifestSequence,
            &Seen {
                value: manifest.sequence,
                sha256: Some(sha256),
            },
            Some(&Seen {
                value: state.sequence,
                sha256: state.manifest_sha256,
            }),
        )
        .map_err(ferry_manifests::Error::from)?;
    }
    Ok(())
}

/// SPEC §5.5: a site pinned to profiles or channels refuses anything else.
fn check_pins(policy: &TrustPolicy, m: &Manifest) -> Result<()> {
    for r in &m.releases {
        decide::pinned(
            &format!("release {}", r.version),
            PinKind::Channel,
            PinSource::Site,
            &r.channels,
            policy.pinned_channels(),
        )
        .map_err(ferry_manifests::Error::from)?;
        for a in &r.artifacts {
            decide::pinned(
                a.path.as_str(),
                PinKind::Profile,
                PinSource::Site,
                std::slice::from_ref(&a.profile),
                policy.pinned_profiles(),
            )
            .map_err(ferry_manifests::Error::from)?;
        }
    }
    Ok(())
}
