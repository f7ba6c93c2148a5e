//! `ferry-verify file` (SPEC §4): a spot check of one vendor artifact,
//! offline. Thin: the flags become a [`SpotRequest`], the check is
//! [`ferry_manifests::spot::check`] (one pass over the artifact: SHA-256,
//! minisign, Sigstore), and its report is rendered here as text or JSON.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ferry_cli::{Printer, UsageError, VerifyError};
use ferry_manifests::minisig::Legacy;
use ferry_manifests::spot::{self, SpotReport, SpotRequest, Subject};

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
      --identity \\
      https://github.com/acme/app/.github/workflows/rel.yml@refs/tags/v1 \\
      --issuer https://token.actions.githubusercontent.com
  ferry-verify file --digest sha512:0c1e… \\
      --sigstore provenance.sigstore.json --trusted-root trusted_root.json \\
      --identity-regex \\
      --identity 'https://github\\.com/acme/app/.*@refs/tags/v.*' \\
      --issuer https://token.actions.githubusercontent.com
  ferry-verify file app.tar.gz --sigstore app.sigstore.json \\
      --trusted-root trusted_root.json --pubkey cosign.pub
  ferry-verify file app.tar.gz \\
      --sigstore app.tar.gz.sigstore.json --trusted-root trusted_root.json \\
      --certificate-identity-regexp 'https://github\\.com/acme/app/.*' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com")]
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
    /// Expected certificate identity (SAN), exact unless --identity-regex
    /// (cosign's name works too).
    #[arg(
        long,
        visible_alias = "certificate-identity",
        value_name = "SAN",
        requires_all = ["sigstore", "issuer"]
    )]
    identity: Option<String>,
    /// Treat --identity as a regular expression matched against the whole SAN.
    #[arg(long, requires = "identity")]
    identity_regex: bool,
    /// Expected certificate identity as a regular expression over the
    /// whole SAN (cosign's flag: --identity REGEX --identity-regex).
    #[arg(
        long,
        value_name = "REGEX",
        conflicts_with = "identity",
        requires_all = ["sigstore", "issuer"]
    )]
    certificate_identity_regexp: Option<String>,
    /// Expected OIDC issuer of the certificate, exact (cosign's name works too).
    #[arg(
        long,
        visible_alias = "certificate-oidc-issuer",
        value_name = "ISS",
        requires = "sigstore"
    )]
    issuer: Option<String>,
}

impl FileArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let outcome = spot::check(&self.request()?)?;
        for w in &outcome.warnings {
            printer.warn(w);
        }
        render(&outcome.report, printer)
    }

    /// The flags as a request (clap has already enforced which go together).
    fn request(self) -> Result<SpotRequest> {
        if self.issuer.is_some()
            && self.identity.is_none()
            && self.certificate_identity_regexp.is_none()
        {
            return Err(UsageError(
                "--issuer goes with --identity or --certificate-identity-regexp".into(),
            )
            .into());
        }
        let subject = match (self.artifact, self.digest) {
            (Some(p), None) => Subject::File(p),
            (None, Some(d)) => Subject::Digest(d),
            _ => {
                return Err(anyhow::Error::new(UsageError(
                    "give either ARTIFACT or --digest".into(),
                )));
            }
        };
        Ok(SpotRequest {
            subject,
            sha256: self.sha256,
            minisig: self.minisig,
            pubkeys: self.pubkey,
            legacy: if self.allow_legacy {
                Legacy::Allow
            } else {
                Legacy::Refuse
            },
            sigstore: self.sigstore,
            trusted_root: self.trusted_root,
            identity_regex: self.identity_regex || self.certificate_identity_regexp.is_some(),
            identity: self.identity.or(self.certificate_identity_regexp),
            issuer: self.issuer,
        })
    }
}

/// One line per check and a summary (or the JSON document); exit 1 naming
/// every failed check when the artifact is not valid.
fn render(report: &SpotReport, printer: Printer) -> Result<()> {
    let shown = report.subject();
    for c in &report.checks {
        printer.check(
            c.ok,
            &format!("{:<8} {}", c.kind, c.detail.as_deref().unwrap_or("")),
        );
    }
    let reasons: Vec<&str> = report
        .failures()
        .map(|c| c.detail.as_deref().unwrap_or_default())
        .collect();
    printer.line(&format!(
        "{shown}: {} ({} check(s), {} failed)",
        if report.valid { "valid" } else { "NOT VALID" },
        report.checks.len(),
        reasons.len()
    ));
    printer.json(report);
    if report.valid {
        Ok(())
    } else {
        Err(anyhow::Error::new(VerifyError(format!(
            "{shown}: not valid: {}",
            reasons.join("; ")
        ))))
    }
}
