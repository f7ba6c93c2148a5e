//! TUF metadata over every released file (SPEC §3.13), so any TUF client
//! (python-tuf, tuf-js, tough) downloads and verifies artifacts from the
//! mirror: `tuf/<n>.root.json` (and `tuf/root.json`, the newest, to
//! bootstrap a client), `tuf/<seq>.targets.json`, `tuf/<seq>.snapshot.json`
//! and `tuf/timestamp.json`, with consistent snapshots, every role signed
//! by the mirror key (Ed25519, TUF's `ed25519` scheme) over the canonical
//! JSON of `signed`. Targets are the files under `releases/`, named by
//! their mirror path. Versions of targets, snapshot and timestamp are the
//! index sequence; the root's version moves when the mirror key changes.
//! A client that trusts an older root is told by TUF to re-bootstrap after
//! a key change: the old key is not at hand to cross-sign (docs/views.md).

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use ferry_manifests::minisig::SecretKey;
use ferry_manifests::time::{Duration, Timestamp};

use super::{ViewFile, text};
use crate::error::{Error, Result};
use crate::mirror::index::MirrorIndex;

/// The TUF specification version written.
pub const SPEC_VERSION: &str = "1.0.31";
/// The TUF metadata folder.
pub const DIR: &str = "tuf";
/// How long a root stays valid.
const ROOT_DAYS: u64 = 5 * 365;
/// How long targets, snapshot and timestamp stay valid without a commit.
const ROLE_DAYS: u64 = 365;

/// Canonical JSON (OLPC, as securesystemslib and tuf-js compute it).
///
/// # Errors
/// [`Error::Refused`] if the value cannot be encoded (never for JSON values).
pub fn canonical(v: &impl Serialize) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut buf, olpc_cjson::CanonicalFormatter::new());
    v.serialize(&mut ser)
        .map_err(|e| Error::refused(DIR, format!("canonical JSON: {e}")))?;
    Ok(buf)
}

/// The TUF key object of the mirror key and its key id (SHA-256 of the
/// key object's canonical JSON).
///
/// # Errors
/// As [`canonical`].
pub fn key_object(key: &SecretKey) -> Result<(String, Value)> {
    let obj = json!({
        "keytype": "ed25519",
        "scheme": "ed25519",
        "keyval": {"public": hex::encode(key.public_key().raw())},
    });
    let id = hex::encode(Sha256::digest(canonical(&obj)?));
    Ok((id, obj))
}

/// A signed TUF document: written from a borrow of `signed` (a `json!`
/// around it copied the whole tree — for targets, one entry a mirror file:
/// 25 MB of a 10,001-file import's 69 MB heap peak, issue 17).
#[derive(serde::Serialize)]
struct SignedDoc<'a, T: Serialize> {
    signatures: [TufSignature<'a>; 1],
    signed: &'a T,
}

#[derive(serde::Serialize)]
struct TufSignature<'a> {
    keyid: &'a str,
    sig: String,
}

fn signed_file<T: Serialize>(signed: &T, key: &SecretKey, keyid: &str) -> Result<Vec<u8>> {
    let sig = key.sign_ed25519(&canonical(signed)?)?;
    let doc = SignedDoc {
        signatures: [TufSignature {
            keyid,
            sig: hex::encode(sig),
        }],
        signed,
    };
    let mut b = serde_json::to_vec_pretty(&doc)
        .map_err(|e| Error::refused(DIR, format!("cannot encode: {e}")))?;
    b.push(b'\n');
    Ok(b)
}

fn expiry(index: &MirrorIndex, days: u64) -> String {
    let t = index.generated.plus(Duration::days(days));
    match index.expires {
        Some(e) if e < t => e.to_string(),
        _ => t.to_string(),
    }
}

/// The root published now, if any: its version and whether `keyid` is
/// its only key.
fn published_root(root: &Path, keyid: &str) -> Option<(u64, bool)> {
    let bytes = std::fs::read(root.join(DIR).join("root.json")).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let signed = v.get("signed")?;
    let version = signed.get("version")?.as_u64()?;
    let keys = signed.get("keys")?.as_object()?;
    Some((version, keys.len() == 1 && keys.contains_key(keyid)))
}

fn root_signed(index: &MirrorIndex, version: u64, keyid: &str, key_obj: &Value) -> Value {
    let role = json!({"keyids": [keyid], "threshold": 1});
    let mut keys = Map::new();
    keys.insert(keyid.to_string(), key_obj.clone());
    json!({
        "_type": "root",
        "spec_version": SPEC_VERSION,
        "version": version,
        "expires": expiry(index, ROOT_DAYS),
        "consistent_snapshot": true,
        "keys": keys,
        "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
    })
}

/// The `signed` part of the targets role: borrowed from the index, not
/// a `serde_json::Value` (2.5 KB a target at 10,001 files, issue 17).
/// Fields in key order, so the pretty file lists them as a sorted
/// `Value` did; the signature is over canonical JSON either way.
#[derive(Debug, Serialize)]
pub struct TargetsSigned<'a> {
    #[serde(rename = "_type")]
    kind: &'static str,
    expires: String,
    spec_version: &'static str,
    targets: std::collections::BTreeMap<&'a str, Target<'a>>,
    version: u64,
}

/// One target: its length and SHA-256.
#[derive(Debug, Serialize)]
struct Target<'a> {
    hashes: Hashes<'a>,
    length: u64,
}

#[derive(Debug, Serialize)]
struct Hashes<'a> {
    #[serde(serialize_with = "display")]
    sha256: &'a ferry_manifests::digest::Sha256Digest,
}

fn display<S: serde::Serializer>(
    d: &&ferry_manifests::digest::Sha256Digest,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// The `signed` part of the targets role for `index`.
#[must_use]
pub fn targets_signed(index: &MirrorIndex) -> TargetsSigned<'_> {
    let targets = index
        .files
        .iter()
        .filter(|f| f.path.starts_with_dir("releases"))
        .map(|f| {
            (
                f.path.as_str(),
                Target {
                    hashes: Hashes { sha256: &f.sha256 },
                    length: f.size,
                },
            )
        })
        .collect();
    TargetsSigned {
        kind: "targets",
        expires: expiry(index, ROLE_DAYS),
        spec_version: SPEC_VERSION,
        targets,
        version: index.sequence,
    }
}

/// The TUF files for `index`: a new root only when none is published or
/// the mirror key changed; targets, snapshot and timestamp every time.
///
/// # Errors
/// Encoding or signing errors.
pub fn documents(root: &Path, index: &MirrorIndex, key: &SecretKey) -> Result<Vec<ViewFile>> {
    let (keyid, key_obj) = key_object(key)?;
    let mut out = Vec::new();
    let file = |path: String, bytes: Vec<u8>| -> Result<ViewFile> {
        Ok(ViewFile {
            path,
            content: text(bytes)?,
        })
    };
    match published_root(root, &keyid) {
        Some((_, true)) => {}
        other => {
            let version = other.map_or(1, |(v, _)| v + 1);
            let bytes = signed_file(&root_signed(index, version, &keyid, &key_obj), key, &keyid)?;
            out.push(file(format!("{DIR}/{version}.root.json"), bytes.clone())?);
            out.push(file(format!("{DIR}/root.json"), bytes)?);
        }
    }
    let seq = index.sequence;
    let targets = signed_file(&targets_signed(index), key, &keyid)?;
    let snapshot_signed = json!({
        "_type": "snapshot",
        "spec_version": SPEC_VERSION,
        "version": seq,
        "expires": expiry(index, ROLE_DAYS),
        "meta": {"targets.json": {"version": seq}},
    });
    let snapshot = signed_file(&snapshot_signed, key, &keyid)?;
    let timestamp_signed = json!({
        "_type": "timestamp",
        "spec_version": SPEC_VERSION,
        "version": seq,
        "expires": expiry(index, ROLE_DAYS),
        "meta": {"snapshot.json": {
            "version": seq,
            "length": snapshot.len(),
            "hashes": {"sha256": hex::encode(Sha256::digest(&snapshot))},
        }},
    });
    let timestamp = signed_file(&timestamp_signed, key, &keyid)?;
    out.push(file(format!("{DIR}/{seq}.targets.json"), targets)?);
    out.push(file(format!("{DIR}/{seq}.snapshot.json"), snapshot)?);
    out.push(file(format!("{DIR}/timestamp.json"), timestamp)?);
    Ok(out)
}

/// "Now" as TUF writes it, for tests.
#[must_use]
pub fn tuf_time(t: Timestamp) -> String {
    t.to_string()
}
