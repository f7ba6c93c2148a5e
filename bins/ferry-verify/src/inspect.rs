//! `ferry-verify inspect` (SPEC §4): what a bundle or a stick holds,
//! without a policy — the first thing an operator runs on a stick from
//! elsewhere. Nothing is verified, and the output says so first.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use ferry_bundle::inspect::{Unverified, inspect};
use ferry_cli::{Printer, UsageError, human_bytes};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::time::Timestamp;
use serde::Serialize;

const WARNING: &str = "UNVERIFIED: nothing was checked (no signature, no digest, no policy); run `ferry-verify bundle PATH --trust POLICY` before trusting any of it";

/// Show what a bundle (or every bundle on a stick) says it holds: product,
/// sequence, releases, sizes, the key ids its signatures name. No policy
/// is needed and NOTHING IS VERIFIED.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ferry-verify inspect /media/usb/novantra.tar
  ferry-verify inspect /media/usb      # every bundle on the stick
  ferry-verify inspect /media/usb/novantra.tar.volumes.json --json")]
pub(crate) struct InspectArgs {
    /// A bundle (tar, tar.gz, zip, folder, first volume, volumes.json) or
    /// a folder holding bundles (a USB stick).
    path: PathBuf,
}

/// One bundle, unverified (`--json`: docs/json.md, type `inspect`).
#[derive(Debug, Serialize)]
struct Inspected {
    path: PathBuf,
    format: &'static str,
    product: String,
    sequence: u64,
    created: Timestamp,
    expires: Timestamp,
    manifest_sha256: Sha256Digest,
    signature_key_ids: Vec<String>,
    releases: Vec<Release>,
    files: usize,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct Release {
    version: String,
    channels: Vec<String>,
    artifacts: usize,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct Document<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    verified: bool,
    warning: &'static str,
    bundles: &'a [Inspected],
}

impl InspectArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let paths = bundles_in(&self.path)?;
        let mut bundles = Vec::new();
        for p in paths {
            let u = inspect(&p)?;
            bundles.push(describe(p, &u));
        }
        printer.json(&Document {
            kind: "inspect",
            verified: false,
            warning: WARNING,
            bundles: &bundles,
        });
        printer.warn(WARNING);
        for b in &bundles {
            print_text(printer, b);
        }
        Ok(())
    }
}

fn describe(path: PathBuf, u: &Unverified) -> Inspected {
    let m = &u.manifest;
    let releases = m
        .releases
        .iter()
        .map(|r| Release {
            version: r.version.to_string(),
            channels: r.channels.iter().map(ToString::to_string).collect(),
            artifacts: r.artifacts.len(),
            // An artifact's file, or every file of an image's layout.
            bytes: r
                .artifacts
                .iter()
                .flat_map(|a| {
                    m.files.iter().filter(move |f| {
                        f.path == a.path
                            || (a.is_image() && f.path.starts_with_dir(a.path.as_str()))
                    })
                })
                .map(|f| f.size)
                .sum(),
        })
        .collect();
    Inspected {
        path,
        format: u.format,
        product: m.product.to_string(),
        sequence: m.sequence,
        created: m.created,
        expires: m.expires,
        manifest_sha256: u.manifest_sha256,
        signature_key_ids: u.signatures.clone(),
        releases,
        files: m.files.len(),
        bytes: m.total_size(),
    }
}

fn print_text(printer: Printer, b: &Inspected) {
    printer.line(&format!(
        "{} ({}): {} sequence {}, created {}, expires {}; manifest sha256 {} (unverified)",
        b.path.display(),
        b.format,
        b.product,
        b.sequence,
        b.created,
        b.expires,
        b.manifest_sha256
    ));
    printer.line(&format!(
        "  signatures name key ids (not checked): {}",
        if b.signature_key_ids.is_empty() {
            "none".to_string()
        } else {
            b.signature_key_ids.join(", ")
        }
    ));
    for r in &b.releases {
        printer.line(&format!(
            "  release {} ({}): {} artifact(s), {}",
            r.version,
            r.channels.join(", "),
            r.artifacts,
            human_bytes(r.bytes)
        ));
    }
    printer.line(&format!(
        "  {} file(s), {} in all",
        b.files,
        human_bytes(b.bytes)
    ));
}

/// `path` itself when it is a bundle; else the bundles in the folder (a
/// stick): archives, first volumes' `volumes.json`, bundle folders.
fn bundles_in(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir()
        || path
            .join(ferry_manifests::manifest::MANIFEST_PATH)
            .is_file()
    {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let archive = [".tar", ".tar.gz", ".tgz", ".zip", ".volumes.json"]
                .iter()
                .any(|s| n.ends_with(s));
            (archive && p.is_file())
                || (p.is_dir() && p.join(ferry_manifests::manifest::MANIFEST_PATH).is_file())
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(UsageError(format!(
            "{}: no bundle in this folder (tar, tar.gz, zip, NAME.volumes.json, or a folder with ferry/manifest.json)",
            path.display()
        ))
        .into());
    }
    Ok(out)
}
