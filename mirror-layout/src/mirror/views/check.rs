//! `fsck` of the views (SPEC §3.13): each graph and CSAF document is what
//! the signed index implies, byte for byte, and signed by the mirror key
//! with its exact trusted comment; the CSAF listings agree; the TUF
//! timestamp, snapshot and targets of this index exist, are signed by the
//! mirror key and list exactly the released files.

use std::path::Path;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::KeySet;

use super::{csaf, graph, json_bytes, tuf, view_comment};
use crate::mirror::index::MirrorIndex;
use crate::mirror::read_signed;

/// Every problem found with the views of `index` (empty: all good).
#[must_use]
pub fn problems(root: &Path, index: &MirrorIndex, keys: &KeySet) -> Vec<String> {
    if !root.join(tuf::DIR).join("timestamp.json").exists() && index.releases.is_empty() {
        // A mirror no commit has written yet: no views.
        return Vec::new();
    }
    let mut out = Vec::new();
    for (path, doc) in graph::documents(index)
        .into_iter()
        .chain(csaf::documents(index))
    {
        out.extend(signed_doc_problem(root, &path, &doc, index.sequence, keys));
    }
    for l in csaf::listings(index) {
        if std::fs::read(root.join(&l.path)).ok().as_deref() != Some(l.content.as_bytes()) {
            out.push(format!(
                "{}: missing or not what the signed index implies",
                l.path
            ));
        }
    }
    out.extend(tuf_problems(root, index, keys));
    out
}

fn signed_doc_problem(
    root: &Path,
    path: &str,
    doc: &Value,
    sequence: u64,
    keys: &KeySet,
) -> Option<String> {
    let (bytes, comment) = match read_signed(&root.join(path), keys) {
        Ok(x) => x,
        Err(e) => return Some(format!("{path}: {e}")),
    };
    if json_bytes(doc, path).ok()? != bytes {
        return Some(format!("{path}: not what the signed index implies"));
    }
    if comment != view_comment(path, sequence, &Sha256Digest::of(&bytes)) {
        return Some(format!("{path}.minisig: trusted comment does not match"));
    }
    None
}

fn tuf_problems(root: &Path, index: &MirrorIndex, keys: &KeySet) -> Vec<String> {
    let seq = index.sequence;
    let mut out = Vec::new();
    for (name, kind) in [
        ("timestamp.json".to_string(), "timestamp"),
        (format!("{seq}.snapshot.json"), "snapshot"),
        (format!("{seq}.targets.json"), "targets"),
    ] {
        let path = format!("{}/{name}", tuf::DIR);
        match verified_tuf(root, &path, keys) {
            Err(e) => out.push(format!("{path}: {e}")),
            Ok(signed) => {
                if signed.get("_type").and_then(Value::as_str) != Some(kind)
                    || signed.get("version").and_then(Value::as_u64) != Some(seq)
                {
                    out.push(format!("{path}: not the {kind} of index sequence {seq}"));
                }
                if kind == "targets"
                    && signed.get("targets")
                        != serde_json::to_value(tuf::targets_signed(index))
                            .ok()
                            .as_ref()
                            .and_then(|v| v.get("targets"))
                {
                    out.push(format!(
                        "{path}: does not list exactly the released files of the signed index"
                    ));
                }
            }
        }
    }
    out
}

/// The `signed` part of a TUF file, once one of its signatures verifies
/// with a mirror key over its canonical JSON.
fn verified_tuf(root: &Path, path: &str, keys: &KeySet) -> Result<Value, String> {
    let bytes = std::fs::read(root.join(path)).map_err(|e| format!("cannot be read ({e})"))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON ({e})"))?;
    let signed = v.get("signed").cloned().ok_or("no \"signed\"")?;
    let msg = tuf::canonical(&signed).map_err(|e| e.to_string())?;
    let sigs = v
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or("no signatures")?;
    let ok = sigs.iter().any(|s| {
        let Some(sig) = s
            .get("sig")
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        keys.keys().iter().any(|k| {
            VerifyingKey::from_bytes(k.raw())
                .is_ok_and(|vk| vk.verify(&msg, &Signature::from_bytes(&sig)).is_ok())
        })
    });
    if ok {
        Ok(signed)
    } else {
        Err("no valid signature by a mirror key".into())
    }
}
