//! `ferry-verify file` (SPEC §4): a spot check of one vendor artifact,
//! offline. The artifact is read once; its SHA-256, a minisign signature and
//! a Sigstore bundle are all checked in that single pass.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use ferry_cli::{Printer, VerifyError};
use ferry_manifests::artifact::{MAX_LEGACY_BYTES, MinisignCheck, StreamCheck};
use ferry_manifests::digest::{BUF_SIZE, Sha256Digest};
use ferry_manifests::minisig::{Legacy, PublicKey, SignatureFile, read_small_bytes};
use ferry_manifests::policy::SigstoreIdentity;
use ferry_manifests::sigstore::{
    ArtifactInput, Expect, MAX_BUNDLE_BYTES, SanPattern, SigstoreBundle, SigstoreOutcome,
    SigstoreRoot,
};
use serde::Serialize;

use crate::file_inputs::{parse_digest, pem_key, usage};

/// Largest minisign signature or key file read.
pub(crate) const MAX_SMALL_FILE: u64 = 64 * 1024;

/// Check one vendor artifact offline: its SHA-256, a minisign signature,
/// a Sigstore bundle (keyless: expected identity and issuer; or a managed
/// PEM key). Exit 0 valid, 1 not valid (the reason names the file), 2 usage,
/// 3 missing file.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-verify file app.tar.gz --sha256 9f86d081884c7d659a2feaa0c55ad015…
  ferry-verify file app.tar.gz --minisig app.tar.gz.minisig --pubkey vendor.pub
  ferry-verify file app.tar.gz \\
      --sigstore app.tar.gz.sigstore.json --trusted-root trusted_root.json \\
      --identity https://github.com/acme/app/.github/workflows/rel.yml@refs/tags/v1 \\
      --issuer https://token.actions.githubusercontent.com
  ferry-verify file --digest sha512:0c1e… \\
      --sigstore provenance.sigstore.json --trusted-root trusted_root.json \\
      --identity-regex --identity 'https://github\\.com/acme/app/.*@refs/tags/v.*' \\
      --issuer https://token.actions.githubusercontent.com
  ferry-verify file app.tar.gz --sigstore app.sigstore.json \\
      --trusted-root trusted_root.json --pubkey cosign.pub")]
pub(crate) struct FileArgs {
    /// The artifact to check.
    #[arg(
        value_name = "ARTIFACT",
        required_unless_present = "digest",
        conflicts_with = "digest"
    )]
    artifact: Option<PathBuf>,
    /// The artifact's digest instead of the artifact (Sigstore and --sha256
    /// checks only): sha256:HEX or sha512:HEX.
    #[arg(long, value_name = "ALG:HEX")]
    digest: Option<String>,
    /// Expected SHA-256 of the artifact (64 lowercase hex digits).
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// A minisign signature of the artifact (needs --pubkey with a minisign key).
    #[arg(long, value_name = "SIG")]
    minisig: Option<PathBuf>,
    /// A public key: a minisign key (base64 `RW…`, a `.pub` file or a file
    /// holding the base64 line) for --minisig, or a PEM public key file for
    /// a managed-key Sigstore bundle. May be given twice (one of each).
    #[arg(long, value_name = "KEY")]
    pubkey: Vec<String>,
    /// Also accept a legacy (non-prehashed) minisign signature. Dangerous:
    /// legacy signatures do not cover their algorithm bytes.
    #[arg(long)]
    allow_legacy: bool,
    /// A Sigstore bundle of the artifact (`*.sigstore.json`, v0.1-v0.3).
    #[arg(long, value_name = "BUNDLE", requires = "trusted_root")]
    sigstore: Option<PathBuf>,
    /// The Sigstore `trusted_root.json` to verify the bundle against.
    #[arg(long, value_name = "ROOT", requires = "sigstore")]
    trusted_root: Option<PathBuf>,
    /// Expected certificate identity (SAN), exact unless --identity-regex.
    #[arg(long, value_name = "SAN", requires_all = ["sigstore", "issuer"])]
    identity: Option<String>,
    /// Treat --identity as a regular expression matched against the whole SAN.
    #[arg(long, requires = "identity")]
    identity_regex: bool,
    /// Expected OIDC issuer of the certificate, exact.
    #[arg(long, value_name = "ISS", requires = "identity")]
    issuer: Option<String>,
}

/// What to hash against: the file, or a given digest.
enum Subject {
    File(PathBuf),
    Digest {
        sha256: Option<[u8; 32]>,
        sha512: Option<[u8; 64]>,
        text: String,
    },
}

/// One check's result, for text and JSON.
#[derive(Debug, Serialize)]
struct CheckReport {
    kind: &'static str,
    ok: bool,
    file: Option<String>,
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sigstore: Option<SigstoreOutcome>,
}

#[derive(Debug, Serialize)]
struct FileReport {
    #[serde(rename = "type")]
    kind: &'static str,
    artifact: Option<String>,
    digest: Option<String>,
    sha256: Option<String>,
    size: Option<u64>,
    valid: bool,
    checks: Vec<CheckReport>,
}

struct SigstoreSetup {
    bundle_path: String,
    bundle: std::result::Result<SigstoreBundle, String>,
    root: SigstoreRoot,
    expect: Expect,
}

struct MinisignSetup {
    sig_path: String,
    key: PublicKey,
    sig: std::result::Result<SignatureFile, String>,
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

impl FileArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        // 1. Resolve arguments (usage errors, exit 2) and load small files
        //    (missing file, exit 3) before anything is checked.
        let subject = match (&self.artifact, &self.digest) {
            (Some(p), None) => Subject::File(p.clone()),
            (None, Some(d)) => {
                let (sha256, sha512) = parse_digest(d)?;
                Subject::Digest {
                    sha256,
                    sha512,
                    text: d.clone(),
                }
            }
            _ => return Err(usage("give either ARTIFACT or --digest")),
        };
        let want_sha256 = self
            .sha256
            .as_deref()
            .map(|s| {
                s.parse::<Sha256Digest>()
                    .map_err(|e| usage(format!("--sha256: {e}")))
            })
            .transpose()?;
        let mut pem = None;
        let mut minisign_key = None;
        for k in &self.pubkey {
            if let Some(text) = pem_key(k)? {
                if pem.replace(text).is_some() {
                    return Err(usage("--pubkey: more than one PEM public key given"));
                }
            } else if minisign_key
                .replace(PublicKey::from_arg(k).map_err(|e| {
                    // A missing key file is exit 3; a malformed key, a bad flag value.
                    if e.class() == ferry_manifests::ErrorClass::Environment {
                        anyhow::Error::new(e)
                    } else {
                        usage(format!("--pubkey: {e}"))
                    }
                })?)
                .is_some()
            {
                return Err(usage("--pubkey: more than one minisign public key given"));
            }
        }
        if self.minisig.is_some() && minisign_key.is_none() {
            return Err(usage(
                "--minisig needs --pubkey with the vendor's minisign public key",
            ));
        }
        if self.minisig.is_none() && minisign_key.is_some() {
            return Err(usage("a minisign --pubkey was given without --minisig"));
        }
        if self.sigstore.is_none() && pem.is_some() {
            return Err(usage(
                "a PEM --pubkey is for a Sigstore bundle: add --sigstore and --trusted-root",
            ));
        }
        if let Subject::Digest { sha256, .. } = &subject {
            if self.minisig.is_some() {
                return Err(usage("--minisig needs the artifact itself, not --digest"));
            }
            if want_sha256.is_some() && sha256.is_none() {
                return Err(usage(
                    "--sha256 cannot be checked against a sha512 --digest",
                ));
            }
        }
        if want_sha256.is_none() && self.minisig.is_none() && self.sigstore.is_none() {
            return Err(usage(
                "nothing to check: give --sha256, --minisig with --pubkey, or --sigstore with --trusted-root",
            ));
        }
        let sigstore = match (&self.sigstore, &self.trusted_root) {
            (Some(bundle_path), Some(root_path)) => {
                let expect = match (&self.identity, &self.issuer, pem) {
                    (Some(san), Some(issuer), None) => {
                        SanPattern::new(san, self.identity_regex)
                            .map_err(|e| usage(format!("--identity: {e}")))?;
                        Expect::Identity(SigstoreIdentity {
                            san: san.clone(),
                            san_regex: self.identity_regex,
                            issuer: issuer.clone(),
                        })
                    }
                    (None, None, Some(pem)) => Expect::PublicKey(pem),
                    (Some(_), _, Some(_)) => {
                        return Err(usage(
                            "give either --identity and --issuer (keyless) or a PEM --pubkey (managed key), not both",
                        ));
                    }
                    _ => {
                        return Err(usage(
                            "--sigstore needs --identity SAN and --issuer ISS, or --pubkey KEY.pem",
                        ));
                    }
                };
                let bundle_name = bundle_path.display().to_string();
                let bytes = read_small_bytes(bundle_path, MAX_BUNDLE_BYTES);
                let bundle = match bytes {
                    Ok(b) => SigstoreBundle::parse(&b, &bundle_name).map_err(|e| e.to_string()),
                    Err(e) if e.class() == ferry_manifests::ErrorClass::Environment => {
                        return Err(e.into());
                    }
                    Err(e) => Err(e.to_string()),
                };
                Some(SigstoreSetup {
                    bundle_path: bundle_name,
                    bundle,
                    root: SigstoreRoot::from_file(root_path)?,
                    expect,
                })
            }
            _ => None,
        };
        let minisign = match (&self.minisig, minisign_key) {
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

        // 2. Check, in one pass over the artifact.
        let mut checks = Vec::new();
        let (artifact_name, sha256, size) = match &subject {
            Subject::File(path) => {
                let (d, n) = self.check_file(
                    path,
                    sigstore.as_ref(),
                    minisign.as_ref(),
                    &mut checks,
                    printer,
                )?;
                (Some(path.display().to_string()), Some(d), Some(n))
            }
            Subject::Digest { sha256, sha512, .. } => {
                if let Some(s) = &sigstore {
                    let res = match &s.bundle {
                        Err(reason) => Err(reason.clone()),
                        Ok(b) => b
                            .verify(
                                ArtifactInput::Digest {
                                    sha256: *sha256,
                                    sha512: *sha512,
                                },
                                &s.root,
                                &s.expect,
                            )
                            .map_err(|e| e.to_string()),
                    };
                    checks.push(sigstore_report(&s.bundle_path, res));
                }
                (None, sha256.map(Sha256Digest), None)
            }
        };
        let shown = artifact_name.clone().unwrap_or_else(|| match &subject {
            Subject::Digest { text, .. } => text.clone(),
            Subject::File(p) => p.display().to_string(),
        });
        if let (Some(want), Some(got)) = (want_sha256, sha256) {
            checks.insert(
                0,
                if want == got {
                    CheckReport {
                        kind: "sha256",
                        ok: true,
                        file: artifact_name.clone(),
                        detail: Some(format!("sha256 {got}")),
                        sigstore: None,
                    }
                } else {
                    CheckReport {
                        kind: "sha256",
                        ok: false,
                        file: artifact_name.clone(),
                        detail: Some(
                            ferry_manifests::Error::DigestMismatch {
                                what: shown.clone(),
                                expected: want,
                                actual: got,
                            }
                            .to_string(),
                        ),
                        sigstore: None,
                    }
                },
            );
        }

        // 3. Report.
        let failed: Vec<&CheckReport> = checks.iter().filter(|c| !c.ok).collect();
        let valid = failed.is_empty();
        for c in &checks {
            printer.line(&format!(
                "{} {:<8} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.kind,
                c.detail.as_deref().unwrap_or("")
            ));
        }
        printer.line(&format!(
            "{shown}: {} ({} check(s), {} failed)",
            if valid { "valid" } else { "NOT VALID" },
            checks.len(),
            failed.len()
        ));
        let reasons: Vec<String> = failed
            .iter()
            .map(|c| c.detail.clone().unwrap_or_default())
            .collect();
        printer.json(&FileReport {
            kind: "verify_file",
            artifact: artifact_name,
            digest: self.digest.clone(),
            sha256: sha256.map(|d| d.to_hex()),
            size,
            valid,
            checks,
        });
        if valid {
            Ok(())
        } else {
            Err(anyhow::Error::new(VerifyError(format!(
                "{shown}: not valid: {}",
                reasons.join("; ")
            ))))
        }
    }

    /// Streams the file once through the SHA-256 / minisign check and, if
    /// asked, the Sigstore verifier.
    fn check_file(
        &self,
        path: &Path,
        sigstore: Option<&SigstoreSetup>,
        minisign: Option<&MinisignSetup>,
        checks: &mut Vec<CheckReport>,
        printer: Printer,
    ) -> Result<(Sha256Digest, u64)> {
        let what = path.display().to_string();
        let file = ferry_manifests::input::open_regular(path)
            .map_err(|e| ferry_manifests::Error::io(path, "open", e))?;
        let legacy = if self.allow_legacy {
            Legacy::Allow
        } else {
            Legacy::Refuse
        };
        // A minisign signature that cannot even be set up is a failed check,
        // not a reason to skip the others.
        let mut minisign_failure = None;
        let mut mini_checks = Vec::new();
        if let Some(m) = minisign {
            match &m.sig {
                Err(reason) => minisign_failure = Some(reason.clone()),
                Ok(sig) if !sig.is_prehashed() && legacy == Legacy::Refuse => {
                    minisign_failure = Some(format!(
                        "{}: legacy (non-prehashed) minisign signature refused: re-sign with a current minisign, or pass --allow-legacy to accept it",
                        m.sig_path
                    ));
                }
                Ok(sig) => {
                    if !sig.is_prehashed() {
                        printer.warn(&format!(
                            "--allow-legacy: accepting a LEGACY (non-prehashed) minisign signature ({}); its algorithm bytes are not signed",
                            m.sig_path
                        ));
                    }
                    mini_checks.push(MinisignCheck {
                        key: &m.key,
                        sig,
                        legacy,
                        what: m.sig_path.clone(),
                    });
                }
            }
        }
        // A legacy signature needs the whole file in memory: cap the stream
        // at the file's size so StreamCheck can refuse a file too large.
        let limit = if mini_checks.iter().any(|c| !c.sig.is_prehashed()) {
            file.metadata()
                .map_err(|e| ferry_manifests::Error::io(path, "stat", e))?
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
        let mut sig_report = None;
        if let Some(s) = sigstore {
            let res = match &s.bundle {
                Err(reason) => Err(reason.clone()),
                Ok(b) => match verify_streamed(b, s, &mut tee, &what)? {
                    Ok(outcome) => Ok(outcome),
                    // An I/O error on the artifact is not a verdict on it.
                    Err(e) if e.class() == ferry_manifests::ErrorClass::Environment => {
                        return Err(e.into());
                    }
                    Err(e) => Err(e.to_string()),
                },
            };
            sig_report = Some(sigstore_report(&s.bundle_path, res));
        }
        // Whatever the Sigstore verifier left unread still goes through the
        // SHA-256 and minisign check.
        io::copy(&mut tee, &mut io::sink())
            .map_err(|e| ferry_manifests::digest::unwrap_io(e, &what))?;
        let ((digest, size), outcome) = stream.finish_report();
        if let Err(e) = outcome {
            minisign_failure.get_or_insert(e.to_string());
        }
        if let Some(m) = minisign {
            checks.push(match minisign_failure {
                None => CheckReport {
                    kind: "minisign",
                    ok: true,
                    file: Some(m.sig_path.clone()),
                    detail: Some(format!("{}: signed by key {}", m.sig_path, m.key.id())),
                    sigstore: None,
                },
                Some(reason) => CheckReport {
                    kind: "minisign",
                    ok: false,
                    file: Some(m.sig_path.clone()),
                    detail: Some(reason),
                    sigstore: None,
                },
            });
        }
        checks.extend(sig_report);
        Ok((digest, size))
    }
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
) -> Result<std::result::Result<SigstoreOutcome, ferry_manifests::Error>> {
    if !bundle.needs_whole_artifact(&s.expect) {
        return Ok(bundle.verify(ArtifactInput::Reader(tee), &s.root, &s.expect));
    }
    let mut buf = Vec::new();
    tee.take(MAX_LEGACY_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ferry_manifests::digest::unwrap_io(e, what))?;
    if buf.len() as u64 > MAX_LEGACY_BYTES {
        return Ok(Err(ferry_manifests::Error::Sigstore {
            what: s.bundle_path.clone(),
            reason: format!(
                "this signature covers the raw artifact, which ferry checks only up to {MAX_LEGACY_BYTES} bytes"
            ),
        }));
    }
    Ok(bundle.verify(ArtifactInput::Bytes(&buf), &s.root, &s.expect))
}

fn sigstore_report(
    bundle_path: &str,
    res: std::result::Result<SigstoreOutcome, String>,
) -> CheckReport {
    match res {
        Ok(o) => {
            let signer = match (&o.identity, &o.issuer) {
                (Some(id), Some(iss)) => format!("identity {id} (issuer {iss})"),
                _ => "managed key".to_string(),
            };
            let detail = format!(
                "{bundle_path}: {signer}, {}, log index {}, signed {}",
                o.media_type,
                o.log_index
                    .map_or_else(|| "-".to_string(), |i| i.to_string()),
                o.signed_time.as_deref().unwrap_or("-"),
            );
            CheckReport {
                kind: "sigstore",
                ok: true,
                file: Some(bundle_path.to_string()),
                detail: Some(detail),
                sigstore: Some(o),
            }
        }
        Err(reason) => CheckReport {
            kind: "sigstore",
            ok: false,
            file: Some(bundle_path.to_string()),
            detail: Some(reason),
            sigstore: None,
        },
    }
}
