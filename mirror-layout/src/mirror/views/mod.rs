//! Views for other tools (SPEC §3.13), written by every commit with the
//! index they describe: update graphs in the Cincinnati format
//! ([`graph`]), CSAF 2.0 advisories ([`csaf`]) and TUF metadata ([`tuf`]).
//! Each is a pure function of the signed index (and, for TUF, the root
//! already published), so `fsck` can recompute and compare them.
//!
//! The journal carries the rendered files (they are signed, and recovery
//! has no key); the commit writes them before the index, so a reader that
//! sees the new index finds views at least as new.

pub mod check;
pub mod csaf;
pub mod graph;
pub mod tuf;

use std::path::Path;

use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::SecretKey;

use super::index::MirrorIndex;
use crate::error::{Error, Result};

/// One file of a view, as the journal carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewFile {
    /// Path below the mirror root (under `feed/graph/`, `feed/csaf/`, `tuf/`).
    pub path: String,
    /// The bytes (UTF-8 JSON or a minisign signature).
    pub content: String,
}

/// Where views may be written (recovery refuses anything else).
pub const VIEW_PREFIXES: [&str; 3] = ["feed/graph/", "feed/csaf/", "tuf/"];

/// Whether `path` is a view path.
#[must_use]
pub fn is_view_path(path: &str) -> bool {
    VIEW_PREFIXES.iter().any(|p| path.starts_with(p))
        && ferry_manifests::path::BundlePath::new(path).is_ok()
}

/// Trusted comment of a view file's minisign signature.
#[must_use]
pub fn view_comment(path: &str, sequence: u64, sha256: &Sha256Digest) -> String {
    format!("ferry-view path={path} sequence={sequence} sha256={sha256}")
}

/// Every view file for `index`, signed with `key`. `root` is the mirror
/// (for the TUF root already published).
///
/// # Errors
/// [`Error::Refused`] for a view that cannot be rendered; signing errors.
pub fn render(root: &Path, index: &MirrorIndex, key: &SecretKey) -> Result<Vec<ViewFile>> {
    let mut out = Vec::new();
    for (path, doc) in graph::documents(index)
        .into_iter()
        .chain(csaf::documents(index))
    {
        let bytes = json_bytes(&doc, &path)?;
        let sig = key.sign(
            &bytes[..],
            &view_comment(&path, index.sequence, &Sha256Digest::of(&bytes)),
        )?;
        out.push(ViewFile {
            path: format!("{path}.minisig"),
            content: sig,
        });
        out.push(ViewFile {
            path,
            content: text(bytes)?,
        });
    }
    out.extend(csaf::listings(index));
    out.extend(tuf::documents(root, index, key)?);
    Ok(out)
}

/// The view files a reader of `index` may fetch, as they lie under
/// `root` (what `ferry-mirror publish` uploads with the documents): every
/// graph and CSAF document with its signature, the CSAF listings, and the
/// TUF metadata of this index with every root version.
#[must_use]
pub fn published_paths(root: &Path, index: &MirrorIndex) -> Vec<String> {
    let mut out = Vec::new();
    for (path, _) in graph::documents(index)
        .into_iter()
        .chain(csaf::documents(index))
    {
        out.push(format!("{path}.minisig"));
        out.push(path);
    }
    out.extend(csaf::listings(index).into_iter().map(|v| v.path));
    let seq = index.sequence;
    let newest_root = std::fs::read(root.join(tuf::DIR).join("root.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["signed"]["version"].as_u64())
        .unwrap_or(0);
    for n in 1..=newest_root {
        out.push(format!("{}/{n}.root.json", tuf::DIR));
    }
    for name in [
        "root.json".to_string(),
        format!("{seq}.targets.json"),
        format!("{seq}.snapshot.json"),
        "timestamp.json".to_string(),
    ] {
        out.push(format!("{}/{name}", tuf::DIR));
    }
    out.retain(|p| root.join(p).is_file());
    out
}

pub(crate) fn json_bytes(doc: &serde_json::Value, path: &str) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(doc)
        .map_err(|e| Error::refused(path, format!("cannot encode: {e}")))?;
    b.push(b'\n');
    Ok(b)
}

pub(crate) fn text(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::refused("view", "not UTF-8 (internal error)"))
}
