//! `ferry trust new|sign|show`: write, co-sign and explain trust-chain
//! versions (SPEC §3.11, §4; docs/trust.md). The rules that decide whether
//! a version counts live in `ferry_manifests::trust`; this module only
//! writes documents and signatures and prints what a chain says.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ferry_cli::{Printer, UsageError};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::{PublicKey, SecretKey, SignatureFile};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::{Duration, Timestamp};
use ferry_manifests::trust::{
    self, Candidate, FileRef, MirrorKeys, TransferKeys, TrustDoc, VendorKeys,
};
use serde::Serialize;

use crate::output::Output;

/// The trust chain: key rotation and revocation for every host.
#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Write the next version of the chain (unsigned) from a policy or the previous version.
    New(NewArgs),
    /// Co-sign a version with a root key (writes N.KEYID.minisig beside it).
    Sign(SignArgs),
    /// Explain a chain: versions, who signed each, keys added and dropped.
    Show(ShowArgs),
}

impl TrustCommand {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        match self {
            TrustCommand::New(a) => a.run(printer),
            TrustCommand::Sign(a) => a.run(printer),
            TrustCommand::Show(a) => a.run(printer),
        }
    }
}

/// Write trust-chain version N+1. From the site's policy file (version 1)
/// it writes version 2 with the policy's keys; from N.json it copies
/// version N. Each --set replaces one field. The document is unsigned:
/// the root key holders of version N and of N+1 then run `ferry trust
/// sign` until both thresholds are met.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry trust new --from site.toml \\
      --set transfer.keys=org1.pub,org3.pub,org4.pub --out chain/2.json
  ferry trust new --from chain/2.json \\
      --set mirror.keys=mirror-2027.pub --out chain/3.json")]
pub(crate) struct NewArgs {
    /// The previous version: a trust policy (.toml, version 1) or N.json.
    #[arg(long)]
    from: PathBuf,
    /// ROLE.FIELD=VALUE: root.keys, root.threshold, vendor.minisign_keys,
    /// transfer.keys, transfer.threshold, transfer.max_validity,
    /// mirror.keys, sigstore_trusted_root (a trusted_root.json file). Keys
    /// are comma-separated .pub files or base64 lines.
    #[arg(long = "set", value_name = "ROLE.FIELD=VALUE")]
    set: Vec<String>,
    /// When this version stops counting (default: never).
    #[arg(long, value_parser = ferry_handoff_core::preflight::parse_date)]
    expires: Option<Timestamp>,
    /// The file to write: N+1.json (the name must be the version).
    #[arg(long)]
    out: PathBuf,
}

impl NewArgs {
    fn run(self, printer: Printer) -> Result<()> {
        let (doc, sha256) = new_version(&self.from, &self.set, self.expires, &self.out)?;
        printer.json(&Output::TrustNew {
            file: &self.out,
            version: doc.version,
            sha256,
        });
        printer.line(&format!(
            "trust chain version {} written: {} (sha256 {sha256}); now sign it with {} of version {}'s root keys and {} of its own (ferry trust sign)",
            doc.version,
            self.out.display(),
            previous(&self.from)?.root.threshold,
            doc.version - 1,
            doc.root.threshold
        ));
        Ok(())
    }
}

/// `ferry trust new`: version N+1 from `from` with each `--set` applied,
/// checked and written to `out` (named `<N+1>.json`).
pub(crate) fn new_version(
    from: &Path,
    sets: &[String],
    expires: Option<Timestamp>,
    out: &Path,
) -> Result<(TrustDoc, Sha256Digest)> {
    let mut doc = previous(from)?;
    doc.version += 1;
    doc.created = Timestamp::now();
    doc.expires = expires;
    doc.sigstore_trusted_root = None;
    let out_dir = ferry_durable::fsutil::parent_dir(out).to_path_buf();
    for s in sets {
        set_field(&mut doc, s, &out_dir)?;
    }
    let expected = trust::doc_name(doc.version);
    if out.file_name().and_then(|n| n.to_str()) != Some(expected.as_str()) {
        anyhow::bail!(UsageError(format!(
            "--out {}: a chain folder names each version by its number; write it as {expected}",
            out.display()
        )));
    }
    let bytes = doc.to_bytes();
    TrustDoc::parse(&bytes, &out.display().to_string())
        .map_err(|e| UsageError(format!("the new version is not valid: {e}")))?;
    ferry_durable::fsutil::write_atomic_creating(out, &bytes)?;
    Ok((doc, Sha256Digest::of(&bytes)))
}

/// Version N (a policy file is version 1) as a document to copy.
fn previous(from: &Path) -> Result<TrustDoc> {
    if from.extension().is_some_and(|e| e == "toml") {
        let p = TrustPolicy::load(from)?;
        return TrustDoc::from_policy(&p).ok_or_else(|| {
            UsageError(format!(
                "{}: has no [root] section; a site without [root] accepts no trust-chain update",
                from.display()
            ))
            .into()
        });
    }
    let bytes = std::fs::read(from).with_context(|| format!("read {}", from.display()))?;
    Ok(TrustDoc::parse(&bytes, &from.display().to_string())?)
}

fn keys_arg(value: &str) -> Result<Vec<String>> {
    value
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|k| {
            PublicKey::from_arg(k.trim())
                .map(|k| k.base64().to_string())
                .map_err(|e| UsageError(format!("--set: key {k}: {e}")).into())
        })
        .collect()
}

fn number_arg(field: &str, value: &str) -> Result<u64> {
    value
        .parse()
        .map_err(|_| UsageError(format!("--set {field}={value}: not a number")).into())
}

fn set_field(doc: &mut TrustDoc, arg: &str, out_dir: &Path) -> Result<()> {
    let (field, value) = arg
        .split_once('=')
        .ok_or_else(|| UsageError(format!("--set {arg}: expected ROLE.FIELD=VALUE")))?;
    match field {
        "root.keys" => doc.root.keys = keys_arg(value)?,
        "root.threshold" => doc.root.threshold = number_arg(field, value)?,
        "vendor.minisign_keys" => {
            doc.vendor = Some(VendorKeys {
                minisign_keys: keys_arg(value)?,
            });
        }
        "transfer.keys" | "transfer.threshold" | "transfer.max_validity" => {
            let t = doc.transfer.get_or_insert_with(|| TransferKeys {
                keys: Vec::new(),
                threshold: 1,
                max_validity: None,
            });
            match field {
                "transfer.keys" => t.keys = keys_arg(value)?,
                "transfer.threshold" => t.threshold = number_arg(field, value)?,
                _ => {
                    t.max_validity = Some(
                        value
                            .parse::<Duration>()
                            .map_err(|e| UsageError(format!("--set {field}={value}: {e}")))?,
                    );
                }
            }
        }
        "mirror.keys" => {
            doc.mirror = Some(MirrorKeys {
                keys: keys_arg(value)?,
            });
        }
        "sigstore_trusted_root" => {
            let bytes = std::fs::read(value).with_context(|| format!("read {value}"))?;
            ferry_manifests::sigstore::SigstoreRoot::parse(&bytes, value)?;
            let rel = trust::sigstore_root_path(doc.version);
            let dest = out_dir.join(rel.trim_start_matches("trust/"));
            ferry_durable::fsutil::write_atomic_creating(&dest, &bytes)?;
            doc.sigstore_trusted_root = Some(FileRef {
                path: rel,
                sha256: Sha256Digest::of(&bytes),
            });
        }
        _ => anyhow::bail!(UsageError(format!(
            "--set {field}: unknown field (root.keys, root.threshold, vendor.minisign_keys, transfer.keys, transfer.threshold, transfer.max_validity, mirror.keys, sigstore_trusted_root)"
        ))),
    }
    Ok(())
}

/// Co-sign a trust-chain version with a root key. The signature goes
/// beside the document as N.KEYID.minisig, with the trusted comment
/// `ferry-trust product=P version=N sha256=HEX`; the version counts once
/// the threshold of the previous version's root keys and of its own have
/// signed.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry trust sign chain/2.json --key keys/root1.key
  ferry trust show chain --trust policy/site.toml")]
pub(crate) struct SignArgs {
    /// The version to sign (N.json).
    file: PathBuf,
    /// A root secret key (password from FERRY_PASSWORD or a prompt).
    #[arg(long)]
    key: PathBuf,
}

impl SignArgs {
    fn run(self, printer: Printer) -> Result<()> {
        let key = crate::password::load_secret_key(&self.key)?;
        let (version, sig_path) = sign_version(&self.file, &key)?;
        printer.json(&Output::TrustSign {
            file: &self.file,
            signature: &sig_path,
            version,
            key_id: key.id().to_string(),
        });
        printer.line(&format!(
            "trust chain version {version} signed by key {}: {}",
            key.id(),
            sig_path.display()
        ));
        Ok(())
    }
}

/// `ferry trust sign`: a signature over the version in `file`, written
/// beside it as `N.KEYID.minisig`. Returns the version and that path.
pub(crate) fn sign_version(file: &Path, key: &SecretKey) -> Result<(u64, PathBuf)> {
    let what = file.display().to_string();
    let bytes = ferry_manifests::minisig::read_small_bytes(file, trust::MAX_TRUST_BYTES)?;
    let doc = TrustDoc::parse(&bytes, &what)?;
    let sha256 = Sha256Digest::of(&bytes);
    let sig = key.sign(
        &bytes[..],
        &trust::comment(&doc.product, doc.version, &sha256),
    )?;
    let sig_path =
        ferry_durable::fsutil::parent_dir(file).join(trust::signature_name(doc.version, key.id()));
    ferry_durable::fsutil::write_atomic(&sig_path, sig.as_bytes())?;
    Ok((doc.version, sig_path))
}

/// Explain a chain folder: each version, who signed it, the keys each
/// role gained and lost. With --trust, also whether the chain applies over
/// that policy (and its state) and which version would be in force.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry trust show chain
  ferry trust show /srv/mirror/trust --trust /etc/ferry/site.toml")]
pub(crate) struct ShowArgs {
    /// A chain folder (N.json, N.KEYID.minisig, sigstore/).
    dir: PathBuf,
    /// Check the chain against this trust policy.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// The policy's trust state folder (default: POLICY.state/).
    #[arg(long, requires = "trust")]
    trust_state: Option<PathBuf>,
}

/// One version as `trust show` describes it.
#[derive(Debug, Serialize)]
pub(crate) struct ShownVersion {
    version: u64,
    sha256: Sha256Digest,
    created: Timestamp,
    expires: Option<Timestamp>,
    signed_by: Vec<String>,
    root_threshold: u64,
    changes: Vec<String>,
}

impl ShowArgs {
    fn run(self, printer: Printer) -> Result<()> {
        let candidates = trust::read_dir(&self.dir)?;
        if candidates.is_empty() {
            anyhow::bail!(UsageError(format!(
                "{}: no trust-chain version (N.json) in this folder",
                self.dir.display()
            )));
        }
        let base = match &self.trust {
            Some(p) => TrustDoc::from_policy(&TrustPolicy::load(p)?),
            None => None,
        };
        let shown = describe(&candidates, base)?;
        let verdict = match &self.trust {
            Some(p) => Some(check(p, self.trust_state.as_deref(), candidates)?),
            None => None,
        };
        printer.json(&Output::TrustShow {
            dir: &self.dir,
            versions: &shown,
            in_force: verdict,
        });
        for v in &shown {
            printer.line(&format!(
                "version {} (sha256 {}), created {}{}",
                v.version,
                v.sha256,
                v.created,
                v.expires
                    .map(|e| format!(", expires {e}"))
                    .unwrap_or_default()
            ));
            printer.line(&format!("  signed by {}", v.signed_by.join(", ")));
            for c in &v.changes {
                printer.line(&format!("  {c}"));
            }
        }
        if let Some(v) = verdict {
            printer.line(&format!("applies over the policy: version {v} in force"));
        }
        Ok(())
    }
}

fn check(policy: &Path, state: Option<&Path>, candidates: Vec<Candidate>) -> Result<u64> {
    let p = TrustPolicy::load(policy)?;
    let dir = state.map_or_else(|| trust::state::default_dir(policy), Path::to_path_buf);
    let now = Timestamp::now();
    let (p, _) = trust::state::load(&p, &dir, now)?;
    Ok(trust::apply(&p, candidates, now)?.policy.trust_version())
}

/// Each version with its signers and what changed from the one before.
fn describe(candidates: &[Candidate], base: Option<TrustDoc>) -> Result<Vec<ShownVersion>> {
    let mut out = Vec::new();
    let mut before: Option<TrustDoc> = base;
    for c in candidates {
        let doc = TrustDoc::parse(&c.bytes, &c.name)?;
        let mut signed_by: Vec<String> = c
            .signatures
            .iter()
            .filter_map(|s| SignatureFile::parse(&s.bytes, &s.name).ok())
            .map(|s| s.key_id().to_string())
            .collect();
        signed_by.sort();
        signed_by.dedup();
        out.push(ShownVersion {
            version: doc.version,
            sha256: Sha256Digest::of(&c.bytes),
            created: doc.created,
            expires: doc.expires,
            signed_by,
            root_threshold: doc.root.threshold,
            changes: trust::changes(before.as_ref(), &doc),
        });
        before = Some(doc);
    }
    Ok(out)
}
