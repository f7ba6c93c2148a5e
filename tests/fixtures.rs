//! A signed workspace built in a test's temp directory, as `ferry sync` and
//! `ferry sign` would leave it (the bundle tree itself), with every piece
//! open to tampering; plus a raw tar builder for archive-trick fixtures.
//!
//! Keys are the labelled demo keys of `keys/demo/` (test-only).

use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::SecretKey;
use serde_json::{Value, json};

use crate::{demo_key, demo_pub, det_bytes};

/// The product of every fixture.
pub const PRODUCT: &str = "novantra";
/// A "now" inside every fixture's validity window.
pub const NOW: &str = "2026-11-21T00:00:00Z";
/// The artifact's path.
pub const ARTIFACT: &str = "releases/3.2.1/no-training/novantra_3.2.1_amd64.deb";
/// Its vendor signature's path.
pub const ARTIFACT_SIG: &str = "releases/3.2.1/no-training/novantra_3.2.1_amd64.deb.minisig";
/// The release notes' path.
pub const NOTES: &str = "releases/3.2.1/NOTES.md";
/// `ferry/SHA256SUMS`.
pub const SUMS: &str = "ferry/SHA256SUMS";
/// `ferry/manifest.json`.
pub const MANIFEST: &str = "ferry/manifest.json";

/// Loads a demo secret key.
pub fn secret(name: &str) -> SecretKey {
    SecretKey::from_file(&demo_key(name), None).expect("demo key")
}

/// The key id of a demo key, as minisign prints it.
pub fn key_id(name: &str) -> String {
    secret(name).id().to_string()
}

/// SHA-256 hex of bytes.
pub fn sha(bytes: &[u8]) -> String {
    Sha256Digest::of(bytes).to_hex()
}

/// A signed workspace.
pub struct Fixture {
    /// The workspace root (the bundle tree).
    pub root: PathBuf,
    /// The manifest, editable; [`Fixture::seal`] writes and signs it.
    pub manifest: Value,
    /// Who signs the manifest.
    pub signers: Vec<&'static str>,
}

impl Fixture {
    /// A workspace with one release (3.2.1, stable), its notes, one
    /// no-training artifact of `size` bytes with a vendor minisign
    /// signature, SHA256SUMS, and the manifest signed by org1 and org2.
    pub fn new(root: &Path, size: usize) -> Self {
        let mut f = Fixture {
            root: root.to_path_buf(),
            manifest: json!({
                "schema": "ferry.manifest/v1",
                "product": PRODUCT,
                "sequence": 7,
                "created": "2026-11-20T10:00:00Z",
                "expires": "2026-12-20T10:00:00Z",
                "source": {
                    "index_url": "https://vendor.example/novantra/index.json",
                    "index_sha256": sha(b"index"),
                    "fetched": "2026-11-20T09:00:00Z"
                },
                "selection": {"channels": ["stable"], "profiles": ["no-training"]},
                "base_state_sha256": null,
                "releases": [{
                    "version": "3.2.1",
                    "channels": ["stable"],
                    "published": "2026-11-01T00:00:00Z",
                    "supported_from": ">=2.0.0",
                    "required": false,
                    "yanked": null,
                    "advisories": [],
                    "notes": NOTES,
                    "artifacts": [{
                        "path": ARTIFACT,
                        "profile": "no-training",
                        "platform": "linux-amd64",
                        "format": "deb",
                        "upstream": [{"kind": "minisign", "path": ARTIFACT_SIG, "key_id": key_id("vendor")}]
                    }]
                }],
                "yanks": [],
                "files": []
            }),
            signers: vec!["org1", "org2"],
        };
        let artifact = det_bytes(size as u64, size);
        let sig = secret("vendor")
            .sign(
                &artifact[..],
                "timestamp:1790000000\tfile:novantra_3.2.1_amd64.deb\tprehashed",
            )
            .expect("vendor sign");
        f.put(NOTES, b"# novantra 3.2.1\n\nBug fixes.\n");
        f.put(ARTIFACT_SIG, sig.as_bytes());
        f.put(ARTIFACT, &artifact);
        f.seal();
        f
    }

    /// Writes a file into the workspace and lists it (replacing any entry).
    pub fn put(&mut self, rel: &str, bytes: &[u8]) {
        self.write_raw(rel, bytes);
        self.list(rel, bytes.len() as u64, &sha(bytes));
    }

    /// Writes a file without touching the manifest.
    pub fn write_raw(&self, rel: &str, bytes: &[u8]) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
    }

    /// Lists (or relists) a file in the manifest's `files`.
    pub fn list(&mut self, rel: &str, size: u64, sha256: &str) {
        let files = self.manifest["files"].as_array_mut().expect("files");
        let entry = json!({"path": rel, "size": size, "sha256": sha256});
        if let Some(e) = files.iter_mut().find(|e| e["path"] == rel) {
            *e = entry;
        } else {
            files.push(entry);
        }
    }

    /// Rewrites SHA256SUMS (first in `files`, as `ferry sign` orders them),
    /// writes the manifest and signs it with [`Fixture::signers`].
    pub fn seal(&mut self) {
        let files: Vec<Value> = self.manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|e| e["path"] != SUMS)
            .cloned()
            .collect();
        let mut sums = String::new();
        for e in &files {
            sums.push_str(&format!(
                "{}  {}\n",
                e["sha256"].as_str().expect("sha"),
                e["path"].as_str().expect("path")
            ));
        }
        self.write_raw(SUMS, sums.as_bytes());
        let mut all =
            vec![json!({"path": SUMS, "size": sums.len(), "sha256": sha(sums.as_bytes())})];
        all.extend(files);
        self.manifest["files"] = Value::Array(all);
        self.write_manifest_and_sign();
    }

    /// The manifest bytes as `ferry sign` writes them.
    pub fn manifest_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(&self.manifest).expect("json");
        b.push(b'\n');
        b
    }

    /// Writes the manifest and signs it, without touching SHA256SUMS.
    pub fn write_manifest_and_sign(&self) {
        let bytes = self.manifest_bytes();
        self.write_manifest_bytes_and_sign(&bytes);
    }

    /// Writes arbitrary manifest bytes and signs exactly those bytes, with
    /// the trusted comment bound to the manifest's product and sequence
    /// (as far as they can be read), for signed-but-bad manifests.
    pub fn write_manifest_bytes_and_sign(&self, bytes: &[u8]) {
        self.write_raw(MANIFEST, bytes);
        let dir = self.root.join("ferry/signatures");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let seq = self.manifest["sequence"].to_string();
        let comment = format!(
            "ferry-manifest product={PRODUCT} sequence={seq} sha256={}",
            sha(bytes)
        );
        for s in &self.signers {
            self.sign_as(s, bytes, &comment);
        }
    }

    /// Adds `name`'s signature over `bytes` with `comment`.
    pub fn sign_as(&self, name: &str, bytes: &[u8], comment: &str) {
        let k = secret(name);
        let sig = k.sign(bytes, comment).expect("sign");
        let p = self
            .root
            .join("ferry/signatures")
            .join(format!("{}.minisig", k.id()));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, sig).expect("write sig");
    }

    /// The expected trusted comment for the current manifest bytes.
    pub fn comment(&self) -> String {
        format!(
            "ferry-manifest product={PRODUCT} sequence={} sha256={}",
            self.manifest["sequence"],
            sha(&std::fs::read(self.root.join(MANIFEST)).expect("manifest"))
        )
    }

    /// The signature file of a demo key.
    pub fn sig_path(&self, name: &str) -> PathBuf {
        self.root
            .join("ferry/signatures")
            .join(format!("{}.minisig", key_id(name)))
    }

    /// The bundle's files in pack order, as (path, bytes): manifest,
    /// signatures (sorted), then `files` in order.
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![(
            MANIFEST.to_string(),
            std::fs::read(self.root.join(MANIFEST)).expect("manifest"),
        )];
        let mut sigs: Vec<_> = std::fs::read_dir(self.root.join("ferry/signatures"))
            .expect("sigs")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        sigs.sort();
        for s in sigs {
            let rel = format!("ferry/signatures/{s}");
            out.push((
                rel.clone(),
                std::fs::read(self.root.join(&rel)).expect("sig"),
            ));
        }
        for e in self.manifest["files"].as_array().expect("files") {
            let rel = e["path"].as_str().expect("path").to_string();
            let b = std::fs::read(self.root.join(&rel)).unwrap_or_default();
            out.push((rel, b));
        }
        out
    }
}

/// Writes a trust policy for the fixtures: vendor key, org1–org3 with
/// `threshold`, max_validity 45d, a site pinned to stable / no-training.
pub fn policy(dir: &Path, threshold: i64) -> PathBuf {
    policy_with(dir, threshold, "")
}

/// As [`policy`], with extra TOML for `[vendor]` (e.g. `require = []`).
pub fn policy_with(dir: &Path, threshold: i64, vendor_extra: &str) -> PathBuf {
    let p = dir.join("ferry-trust.toml");
    let k = |n: &str| demo_pub(n).display().to_string();
    let text = format!(
        "product = \"{PRODUCT}\"\n\n[vendor]\nminisign_keys = [\"{}\"]\n{vendor_extra}\n\n[transfer]\nkeys = [\"{}\", \"{}\", \"{}\"]\nthreshold = {threshold}\nmax_validity = \"45d\"\n\n[mirror]\nkeys = [\"{}\"]\nchannels = [\"stable\"]\nprofiles = [\"no-training\"]\n",
        k("vendor"),
        k("org1"),
        k("org2"),
        k("org3"),
        k("mirror"),
    );
    std::fs::write(&p, text).expect("policy");
    p
}

/// One raw tar entry for crafted archives.
#[derive(Debug, Clone)]
pub struct Raw {
    /// The ustar name (split into prefix/name when longer than 100).
    pub name: String,
    /// The typeflag byte.
    pub typeflag: u8,
    /// The data.
    pub data: Vec<u8>,
    /// The ustar size field (default: the data's length).
    pub size: Option<u64>,
    /// PAX records for a preceding `x` header.
    pub pax: Vec<(String, String)>,
    /// Mode.
    pub mode: u32,
}

impl Raw {
    /// A regular file.
    pub fn file(name: &str, data: &[u8]) -> Self {
        Raw {
            name: name.into(),
            typeflag: b'0',
            data: data.to_vec(),
            size: None,
            pax: Vec::new(),
            mode: 0o644,
        }
    }

    /// A directory (`name/`).
    pub fn dir(name: &str) -> Self {
        Raw {
            name: format!("{name}/"),
            typeflag: b'5',
            data: Vec::new(),
            size: None,
            pax: Vec::new(),
            mode: 0o755,
        }
    }

    /// Another entry type with no data.
    pub fn special(name: &str, typeflag: u8) -> Self {
        Raw {
            name: name.into(),
            typeflag,
            data: Vec::new(),
            size: None,
            pax: Vec::new(),
            mode: 0o644,
        }
    }
}

/// A raw ustar header block, built with the `tar` crate's `Header` API.
pub fn header(name: &str, typeflag: u8, size: u64, mode: u32) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::new(typeflag));
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_795_000_000);
    h.set_size(size);
    let b = name.as_bytes();
    {
        let u = h.as_ustar_mut().expect("ustar");
        if b.len() <= 100 {
            u.name[..b.len()].copy_from_slice(b);
        } else {
            let split = (0..b.len())
                .rev()
                .find(|&i| b[i] == b'/' && i <= 155 && b.len() - i - 1 <= 100)
                .expect("name fits prefix/name");
            u.prefix[..split].copy_from_slice(&b[..split]);
            u.name[..b.len() - split - 1].copy_from_slice(&b[split + 1..]);
        }
    }
    h.set_cksum();
    *h.as_bytes()
}

/// Recomputes a raw header's checksum after byte patching.
pub fn fix_cksum(block: &mut [u8]) {
    let mut sum: u64 = 0;
    for (i, b) in block[..512].iter().enumerate() {
        sum += if (148..156).contains(&i) {
            32
        } else {
            u64::from(*b)
        };
    }
    let s = format!("{sum:06o}\0 ");
    block[148..156].copy_from_slice(s.as_bytes());
}

/// PAX records as bytes.
pub fn pax_bytes(records: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = format!(" {k}={v}\n");
        let mut len = body.len() + 1;
        while len.to_string().len() + body.len() != len {
            len += 1;
        }
        out.extend_from_slice(format!("{len}{body}").as_bytes());
    }
    out
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(512) {
        out.push(0);
    }
}

/// Builds a tar from raw entries, then the two end blocks.
pub fn tar_of(entries: &[Raw]) -> Vec<u8> {
    let mut out = tar_body(entries);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Builds the entries of a tar without the end blocks.
pub fn tar_body(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        if !e.pax.is_empty() {
            let data = pax_bytes(&e.pax);
            out.extend_from_slice(&header("PaxHeaders/x", b'x', data.len() as u64, 0o644));
            out.extend_from_slice(&data);
            pad(&mut out);
        }
        out.extend_from_slice(&header(
            &e.name,
            e.typeflag,
            e.size.unwrap_or(e.data.len() as u64),
            e.mode,
        ));
        out.extend_from_slice(&e.data);
        pad(&mut out);
    }
    out
}

/// The fixture's entries as a well-formed raw tar (with parent directories).
pub fn good_entries(f: &Fixture) -> Vec<Raw> {
    let mut out = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for (path, bytes) in f.entries() {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            let d = parts[..i].join("/");
            if dirs.insert(d.clone()) {
                out.push(Raw::dir(&d));
            }
        }
        out.push(Raw::file(&path, &bytes));
    }
    out
}

/// Writes bytes to a file.
pub fn write(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(bytes).expect("write");
}
