//! A spot check of one vendor artifact, offline (`ferry-verify file`,
//! SPEC §4): its SHA-256, a minisign signature, a Sigstore bundle; or, given
//! only the artifact's digest, the Sigstore bundle and SHA-256.
//!
//! The artifact is read once: its bytes stream through [`StreamCheck`]
//! (SHA-256, minisign) as the Sigstore verifier reads them (hashing with
//! SHA-256 or SHA-512, as the bundle needs), and what it leaves unread is
//! drained through the same check. [`check`] answers a [`SpotReport`] that
//! lists every check, valid or not; it prints nothing.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifact::{MAX_LEGACY_BYTES, MinisignCheck, StreamCheck};
use crate::digest::{BUF_SIZE, Sha256Digest, unwrap_io};
use crate::error::{Error, ErrorClass, Result};
use crate::minisig::{Legacy, PublicKey, SignatureFile, read_small_bytes};
use crate::policy::SigstoreIdentity;
use crate::sigstore::{
    ArtifactInput, Expect, MAX_BUNDLE_BYTES, SanPattern, SigstoreBundle, SigstoreOutcome,
    SigstoreRoot,
};

/// Largest minisign signature or key file read.
const MAX_SMALL_FILE: u64 = 64 * 1024;

/// The `type` of the report document.
pub const REPORT_TYPE: &str = "verify_file";

/// What is checked: the artifact itself, or only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The artifact file, read once.
    File(PathBuf),
    /// The artifact's digest as given, `sha256:HEX` or `sha512:HEX`
    /// (lowercase hex): enough for Sigstore and `sha256` checks only.
    Digest(String),
}

/// A spot check as asked for: the values of `ferry-verify file`'s flags,
/// unparsed. [`check`] validates them (errors name the flag).
#[derive(Debug, Clone)]
pub struct SpotRequest {
    /// The artifact or its digest.
    pub subject: Subject,
    /// Expected SHA-256 of the artifact (64 lowercase hex digits), `--sha256`.
    pub sha256: Option<String>,
    /// A minisign signature file of the artifact, `--minisig`.
    pub minisig: Option<PathBuf>,
    /// Public keys, `--pubkey`: at most one minisign key (base64, `.pub`
    /// file or a file holding the base64 line) and one PEM key file (for a
    /// managed-key Sigstore bundle), told apart by content.
    pub pubkeys: Vec<String>,
    /// Whether a legacy (non-prehashed) minisign signature is accepted.
    pub legacy: Legacy,
    /// A Sigstore bundle of the artifact, `--sigstore`.
    pub sigstore: Option<PathBuf>,
    /// The `trusted_root.json` to verify the bundle against, `--trusted-root`.
    pub trusted_root: Option<PathBuf>,
    /// Expected certificate identity (SAN), `--identity`.
    pub identity: Option<String>,
    /// Whether `identity` is a regular expression matched against the whole SAN.
    pub identity_regex: bool,
    /// Expected OIDC issuer of the certificate, `--issuer`.
    pub issuer: Option<String>,
}

/// One check's result: an element of [`SpotReport::checks`].
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// `sha256`, `minisign` or `sigstore`.
    pub kind: &'static str,
    /// Whether the check passed.
    pub ok: bool,
    /// The file the check is about: the artifact for `sha256` (None when
    /// checked by digest), the signature or bundle file otherwise.
    pub file: Option<String>,
    /// What passed (digest, signer) or why the check failed.
    pub detail: Option<String>,
    /// For a Sigstore bundle that verified: who signed, where it was
    /// logged, when. Left out of the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigstore: Option<SigstoreOutcome>,
}

/// The outcome of a spot check: the `--json` document of `ferry-verify file`.
#[derive(Debug, Clone, Serialize)]
pub struct SpotReport {
    /// Always [`REPORT_TYPE`] (`verify_file`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The artifact file checked (None when checked by digest).
    pub artifact: Option<String>,
    /// The digest given instead of the artifact, as given (None for a file).
    pub digest: Option<String>,
    /// SHA-256 of the artifact read, or of the digest given when it is a
    /// SHA-256 (lowercase hex).
    pub sha256: Option<String>,
    /// Bytes read from the artifact (None when checked by digest).
    pub size: Option<u64>,
    /// Whether every check passed.
    pub valid: bool,
    /// Every check run, `sha256` first, then `minisign`, then `sigstore`.
    pub checks: Vec<CheckReport>,
}

impl SpotReport {
    /// What was checked, for messages: the artifact file, or the digest given.
    #[must_use]
    pub fn subject(&self) -> &str {
        self.artifact
            .as_deref()
            .or(self.digest.as_deref())
            .unwrap_or_default()
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// A finished spot check: the report and the warnings to show with it.
#[derive(Debug, Clone)]
pub struct SpotOutcome {
    /// The report (valid or not).
    pub report: SpotReport,
    /// Dangerous choices that were honoured (a legacy minisign signature
    /// accepted), for the caller to show as warnings.
    pub warnings: Vec<String>,
}

/// Runs a spot check: validates the request, loads the small files
/// (signature, keys, bundle, trusted root), then checks everything in one
/// pass over the artifact (or against the digest given).
///
/// A check that fails is a failed entry of the report, not an error.
///
/// # Errors
/// [`Error::Config`] (exit 2) for a bad request, naming the flag, or an
/// unusable trusted root; [`Error::Io`] (exit 3) if a file cannot be read;
/// [`Error::DocumentTooLarge`] for an oversized signature or key file.
pub fn check(req: &SpotRequest) -> Result<SpotOutcome> {
    let plan = plan(req)?;
    let mut warnings = Vec::new();
    let (sha256, size, checks) = match &req.subject {
        Subject::File(path) => {
            let (digest, size, checks) = check_file(path, &plan, &mut warnings)?;
            (Some(digest), Some(size), checks)
        }
        Subject::Digest(_) => {
            let (sha256, sha512) = plan.digests;
            let input = ArtifactInput::Digest { sha256, sha512 };
            let verify =
                |s: &SigstoreSetup| sigstore_check(s, |b| Ok(b.verify(input, &s.root, &s.expect)));
            let checks = plan.sigstore.as_ref().map(verify).transpose()?;
            (sha256.map(Sha256Digest), None, checks.into_iter().collect())
        }
    };
    let (artifact, digest) = match &req.subject {
        Subject::File(p) => (Some(p.display().to_string()), None),
        Subject::Digest(d) => (None, Some(d.clone())),
    };
    let mut report = SpotReport {
        kind: REPORT_TYPE,
        artifact,
        digest,
        sha256: sha256.map(|d| d.to_hex()),
        size,
        valid: false,
        checks,
    };
    if let (Some(want), Some(got)) = (plan.want_sha256, sha256) {
        let res = sha256_report(want, got, report.subject());
        let first = verdict("sha256", report.artifact.clone(), res);
        report.checks.insert(0, first);
    }
    report.valid = report.checks.iter().all(|c| c.ok);
    Ok(SpotOutcome { report, warnings })
}

/// A Sigstore bundle loaded for checking. A bundle that cannot be parsed
/// is a failed check (its reason kept), not a reason to skip the others.
struct SigstoreSetup {
    bundle_path: String,
    bundle: Result<SigstoreBundle, String>,
    root: SigstoreRoot,
    expect: Expect,
}

/// A minisign signature loaded for checking (a malformed one, as above).
struct MinisignSetup {
    sig_path: String,
    key: PublicKey,
    sig: Result<SignatureFile, String>,
}

/// The request, validated, with its small files loaded.
struct Plan {
    /// The digest given instead of the artifact (both None for a file).
    digests: Digests,
    want_sha256: Option<Sha256Digest>,
    legacy: Legacy,
    sigstore: Option<SigstoreSetup>,
    minisign: Option<MinisignSetup>,
}

/// A usage error about `flag` (exit 2).
fn usage(flag: &str, reason: impl Into<String>) -> Error {
    Error::config(flag, reason)
}

/// Validates the request (usage errors first, exit 2) and loads the small
/// files (a missing one is exit 3) before anything is checked.
fn plan(req: &SpotRequest) -> Result<Plan> {
    let digests = match &req.subject {
        Subject::Digest(d) => parse_digest(d)?,
        Subject::File(_) => (None, None),
    };
    let want_sha256 = req
        .sha256
        .as_deref()
        .map(|s| s.parse::<Sha256Digest>().map_err(|e| usage("--sha256", e)))
        .transpose()?;
    let keys = split_pubkeys(&req.pubkeys)?;
    check_flags(req, want_sha256.is_some(), &keys, &digests)?;
    let (pem, minisign_key) = keys;
    let sigstore = load_sigstore(req, pem)?;
    let minisign = match (&req.minisig, minisign_key) {
        (Some(sig_path), Some(key)) => {
            let name = sig_path.display().to_string();
            let bytes = read_small_bytes(sig_path, MAX_SMALL_FILE)?;
            Some(MinisignSetup {
                sig: SignatureFile::parse(&bytes, &name).map_err(|e| e.to_string()),
                sig_path: name,
                key,
            })
        }
        _ => None,
    };
    Ok(Plan {
        digests,
        want_sha256,
        legacy: req.legacy,
        sigstore,
        minisign,
    })
}

/// A digest given instead of the artifact: SHA-256 or SHA-512.
type Digests = (Option<[u8; 32]>, Option<[u8; 64]>);

/// Parses `sha256:HEX` / `sha512:HEX` (lowercase hex, exact length).
fn parse_digest(s: &str) -> Result<Digests> {
    let flag = format!("--digest {s:?}");
    let (alg, hex_part) = s
        .split_once(':')
        .ok_or_else(|| usage(&flag, "expected sha256:HEX or sha512:HEX"))?;
    let lower = hex_part
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let bytes = hex::decode(hex_part).ok().filter(|_| lower);
    match (alg, bytes) {
        ("sha256", Some(d)) if d.len() == 32 => Ok((d.try_into().ok(), None)),
        ("sha512", Some(d)) if d.len() == 64 => Ok((None, d.try_into().ok())),
        _ => Err(usage(
            &flag,
            "expected sha256: and 64, or sha512: and 128, lowercase hex digits",
        )),
    }
}

/// The `--pubkey` values: at most one PEM key (its text), at most one
/// minisign key.
type Keys = (Option<String>, Option<PublicKey>);

/// Tells the `--pubkey` values apart, by content.
fn split_pubkeys(args: &[String]) -> Result<Keys> {
    let mut pem = None;
    let mut minisign_key = None;
    for k in args {
        if let Some(text) = pem_key(k)? {
            if pem.replace(text).is_some() {
                return Err(usage("--pubkey", "more than one PEM public key given"));
            }
            continue;
        }
        let key = PublicKey::from_arg(k).map_err(|e| {
            // A missing key file is exit 3; a malformed key, a bad flag value.
            if e.class() == ErrorClass::Environment {
                e
            } else {
                usage("--pubkey", e.to_string())
            }
        })?;
        if minisign_key.replace(key).is_some() {
            return Err(usage("--pubkey", "more than one minisign public key given"));
        }
    }
    Ok((pem, minisign_key))
}

/// Whether a `--pubkey` value is a PEM public key file (for Sigstore).
fn pem_key(arg: &str) -> Result<Option<String>> {
    let path = Path::new(arg);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = read_small_bytes(path, MAX_SMALL_FILE)?;
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN PUBLIC KEY-----") => Ok(Some(text.to_string())),
        _ => Ok(None),
    }
}

const MINISIG_NEEDS_KEY: &str = "needs --pubkey with the vendor's minisign public key";
const KEY_NEEDS_MINISIG: &str = "a minisign key was given without --minisig";
const PEM_NEEDS_SIGSTORE: &str =
    "a PEM key is for a Sigstore bundle: add --sigstore and --trusted-root";
const MINISIG_NEEDS_FILE: &str = "needs the artifact itself, not --digest";
const SHA256_NEEDS_SHA256: &str = "cannot be checked against a sha512 --digest";
const NOTHING: &str = "give --sha256, --minisig with --pubkey, or --sigstore with --trusted-root";

/// The rules between flags, the first broken one reported: each
/// signature has what it needs, and there is something to check.
fn check_flags(req: &SpotRequest, sha256: bool, keys: &Keys, digests: &Digests) -> Result<()> {
    let (minisig, sigstore) = (req.minisig.is_some(), req.sigstore.is_some());
    let (pem, key) = (keys.0.is_some(), keys.1.is_some());
    let by_digest = matches!(req.subject, Subject::Digest(_));
    let sha512_digest = by_digest && digests.0.is_none();
    let nothing = !sha256 && !minisig && !sigstore;
    let rules = [
        (minisig && !key, "--minisig", MINISIG_NEEDS_KEY),
        (!minisig && key, "--pubkey", KEY_NEEDS_MINISIG),
        (!sigstore && pem, "--pubkey", PEM_NEEDS_SIGSTORE),
        (by_digest && minisig, "--minisig", MINISIG_NEEDS_FILE),
        (sha256 && sha512_digest, "--sha256", SHA256_NEEDS_SHA256),
        (nothing, "nothing to check", NOTHING),
    ];
    match rules.iter().find(|(broken, ..)| *broken) {
        Some((_, flag, reason)) => Err(usage(flag, *reason)),
        None => Ok(()),
    }
}

/// Who must have signed the Sigstore bundle: an identity and issuer
/// (keyless) or a PEM key (managed), never both.
fn expectation(req: &SpotRequest, pem: Option<String>) -> Result<Expect> {
    match (&req.identity, &req.issuer, pem) {
        (Some(san), Some(issuer), None) => {
            SanPattern::new(san, req.identity_regex).map_err(|e| usage("--identity", e))?;
            Ok(Expect::Identity(SigstoreIdentity {
                san: san.clone(),
                san_regex: req.identity_regex,
                issuer: issuer.clone(),
            }))
        }
        (None, None, Some(pem)) => Ok(Expect::PublicKey(pem)),
        (Some(_), _, Some(_)) => Err(usage(
            "--sigstore",
            "give either --identity and --issuer (keyless) or a PEM --pubkey (managed key), not both",
        )),
        _ => Err(usage(
            "--sigstore",
            "needs --identity SAN and --issuer ISS, or --pubkey KEY.pem",
        )),
    }
}

/// Loads the Sigstore bundle and trusted root, if asked for. An unreadable
/// bundle is exit 3; an oversized or malformed one, a failed check.
fn load_sigstore(req: &SpotRequest, pem: Option<String>) -> Result<Option<SigstoreSetup>> {
    let (Some(bundle_path), Some(root_path)) = (&req.sigstore, &req.trusted_root) else {
        return Ok(None);
    };
    let expect = expectation(req, pem)?;
    let bundle_name = bundle_path.display().to_string();
    let bundle = match read_small_bytes(bundle_path, MAX_BUNDLE_BYTES) {
        Ok(b) => SigstoreBundle::parse(&b, &bundle_name).map_err(|e| e.to_string()),
        Err(e) if e.class() == ErrorClass::Environment => return Err(e),
        Err(e) => Err(e.to_string()),
    };
    Ok(Some(SigstoreSetup {
        bundle_path: bundle_name,
        bundle,
        root: SigstoreRoot::from_file(root_path)?,
        expect,
    }))
}

/// A reader that feeds every byte it yields to the single-pass check.
struct Tee<'c, 'k, R> {
    inner: R,
    check: &'c mut StreamCheck<'k>,
}

impl<R: Read> Read for Tee<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check
            .update(&buf[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(n)
    }
}

/// Streams the file once through the SHA-256 / minisign check and, if
/// asked, the Sigstore verifier. Answers the digest, the size and the
/// `minisign` and `sigstore` checks, in that order.
fn check_file(
    path: &Path,
    plan: &Plan,
    warnings: &mut Vec<String>,
) -> Result<(Sha256Digest, u64, Vec<CheckReport>)> {
    let what = path.display().to_string();
    let file = crate::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    // A signature that cannot even be set up is a failed check, not a
    // reason to skip the others.
    let prepared = (plan.minisign.as_ref()).map(|m| minisign_check(m, plan.legacy, warnings));
    let mut minisign_failure = prepared.as_ref().and_then(|p| p.as_ref().err().cloned());
    let mini_checks: Vec<_> = prepared.and_then(|p| p.ok()).into_iter().collect();
    // A legacy signature needs the whole file in memory: cap the stream
    // at the file's size so StreamCheck can refuse a file too large.
    let limit = if mini_checks.iter().any(|c| !c.sig.is_prehashed()) {
        file.metadata()
            .map_err(|e| Error::io(path, "stat", e))?
            .len()
    } else {
        u64::MAX
    };
    let mut stream = match StreamCheck::new(&what, None, limit, mini_checks) {
        Ok(s) => s,
        Err(e) => {
            minisign_failure = Some(e.to_string());
            StreamCheck::new(&what, None, u64::MAX, Vec::new())?
        }
    };
    let mut tee = Tee {
        inner: io::BufReader::with_capacity(BUF_SIZE, file),
        check: &mut stream,
    };
    let streamed = |s| sigstore_check(s, |b| verify_streamed(b, s, &mut tee, &what));
    let sig_report = plan.sigstore.as_ref().map(streamed).transpose()?;
    // Whatever the Sigstore verifier left unread still goes through the
    // SHA-256 and minisign check.
    io::copy(&mut tee, &mut io::sink()).map_err(|e| unwrap_io(e, &what))?;
    let ((digest, size), outcome) = stream.finish_report();
    if let Err(e) = outcome {
        minisign_failure.get_or_insert(e.to_string());
    }
    let mut checks: Vec<CheckReport> = plan
        .minisign
        .iter()
        .map(|m| minisign_report(m, minisign_failure.take()))
        .collect();
    checks.extend(sig_report);
    Ok((digest, size, checks))
}

/// The minisign signature to check while streaming, or why it already
/// failed. A legacy signature is refused unless allowed, and a warning
/// when allowed.
fn minisign_check<'m>(
    m: &'m MinisignSetup,
    legacy: Legacy,
    warnings: &mut Vec<String>,
) -> Result<MinisignCheck<'m>, String> {
    let sig = m.sig.as_ref().map_err(Clone::clone)?;
    if !sig.is_prehashed() && legacy == Legacy::Refuse {
        return Err(format!(
            "{}: legacy (non-prehashed) minisign signature refused: re-sign with a current minisign, or pass --allow-legacy to accept it",
            m.sig_path
        ));
    }
    if !sig.is_prehashed() {
        warnings.push(format!(
            "--allow-legacy: accepting a LEGACY (non-prehashed) minisign signature ({}); its algorithm bytes are not signed",
            m.sig_path
        ));
    }
    Ok(MinisignCheck {
        key: &m.key,
        sig,
        legacy,
        what: m.sig_path.clone(),
    })
}

/// The `sigstore` check of `s`, its bundle verified by `verify`. An error
/// of `verify` itself, or of the environment (reading the artifact), is not
/// a verdict on the artifact: it is the error.
fn sigstore_check(
    s: &SigstoreSetup,
    verify: impl FnOnce(&SigstoreBundle) -> Result<Result<SigstoreOutcome>>,
) -> Result<CheckReport> {
    let res = match &s.bundle {
        Err(reason) => Err(reason.clone()),
        Ok(b) => match verify(b)? {
            Ok(outcome) => Ok(outcome),
            Err(e) if e.class() == ErrorClass::Environment => return Err(e),
            Err(e) => Err(e.to_string()),
        },
    };
    Ok(sigstore_report(&s.bundle_path, res))
}

/// Runs the Sigstore verifier over the artifact stream. A signature that
/// covers the raw message (Ed25519 managed keys) needs the whole artifact:
/// it is then read into memory, up to [`MAX_LEGACY_BYTES`], still in the
/// same single pass. The outer error is an I/O failure on the artifact.
fn verify_streamed<R: Read>(
    bundle: &SigstoreBundle,
    s: &SigstoreSetup,
    tee: &mut R,
    what: &str,
) -> Result<Result<SigstoreOutcome>> {
    if !bundle.needs_whole_artifact(&s.expect) {
        return Ok(bundle.verify(ArtifactInput::Reader(tee), &s.root, &s.expect));
    }
    let mut buf = Vec::new();
    tee.take(MAX_LEGACY_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| unwrap_io(e, what))?;
    if buf.len() as u64 > MAX_LEGACY_BYTES {
        return Ok(Err(Error::Sigstore {
            what: s.bundle_path.clone(),
            reason: format!(
                "this signature covers the raw artifact, which ferry checks only up to {MAX_LEGACY_BYTES} bytes"
            ),
        }));
    }
    Ok(bundle.verify(ArtifactInput::Bytes(&buf), &s.root, &s.expect))
}

/// A check's report from its verdict: what passed, or why not.
fn verdict(kind: &'static str, file: Option<String>, res: Result<String, String>) -> CheckReport {
    let ok = res.is_ok();
    let detail = Some(res.unwrap_or_else(|reason| reason));
    CheckReport {
        kind,
        ok,
        file,
        detail,
        sigstore: None,
    }
}

/// The `sha256` check: the digest read (or given) against `--sha256`.
fn sha256_report(want: Sha256Digest, got: Sha256Digest, shown: &str) -> Result<String, String> {
    if want == got {
        return Ok(format!("sha256 {got}"));
    }
    let what = shown.to_string();
    Err(Error::DigestMismatch {
        what,
        expected: want,
        actual: got,
    }
    .to_string())
}

/// The `minisign` check: passed unless `failure` says why not.
fn minisign_report(m: &MinisignSetup, failure: Option<String>) -> CheckReport {
    let res = failure.map_or_else(
        || Ok(format!("{}: signed by key {}", m.sig_path, m.key.id())),
        Err,
    );
    verdict("minisign", Some(m.sig_path.clone()), res)
}

/// The `sigstore` check: the signer, media type, log index and signing
/// time, or why the bundle failed.
fn sigstore_report(bundle_path: &str, res: Result<SigstoreOutcome, String>) -> CheckReport {
    let detail = res.as_ref().map_err(Clone::clone).map(|o| {
        let signer = match (&o.identity, &o.issuer) {
            (Some(id), Some(iss)) => format!("identity {id} (issuer {iss})"),
            _ => "managed key".to_string(),
        };
        format!(
            "{bundle_path}: {signer}, {}, log index {}, signed {}",
            o.media_type,
            o.log_index
                .map_or_else(|| "-".to_string(), |i| i.to_string()),
            o.signed_time.as_deref().unwrap_or("-"),
        )
    });
    CheckReport {
        sigstore: res.ok(),
        ..verdict("sigstore", Some(bundle_path.to_string()), detail)
    }
}
