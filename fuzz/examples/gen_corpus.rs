//! Writes the seed corpus under `fuzz/corpus/<target>/` (replacing it).
//!
//! Run from the repository root:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus
//! ```
//!
//! Everything is made here from the test-only demo keys of `keys/demo/`:
//! a tiny signed bundle (as the tests' fixture: one release, notes, a
//! 64-byte artifact with its vendor minisign signature, SHA256SUMS, the
//! manifest signed by org1 and org2) packed by ferry itself as tar, tar.gz
//! and zip, and repacked by GNU tar, gzip and Info-ZIP; the signature and
//! key files; a vendor index, a mirror index, a hint feed and a
//! `published.json`; trust policies; paths and small fields. The bundles
//! are checked to verify with the fuzz targets' policy, so the fuzzer
//! starts past the signature check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::hints::{ChannelProfile, HintArtifact, HintRelease, Hints};
use ferry_manifests::manifest::FileEntry;
use ferry_manifests::minisig::{SecretKey, SignatureFile};
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::sigstore::SigstoreBundle;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::audit::Head;
use ferry_bundle::{Format, Input, PackOptions, Repair, pack, verify_bundle};
use ferry_mirror_layout::mirror::index::{
    ImportedManifest, MirrorArtifact, MirrorIndex, MirrorRelease, hints_comment, index_comment,
};
use ferry_mirror_layout::mirror::published::{Published, verify_published};
use serde_json::json;

const PRODUCT: &str = ferry_fuzz::PRODUCT;
const ARTIFACT: &str = "releases/3.2.1/no-training/novantra_3.2.1_amd64.deb";
const ARTIFACT_SIG: &str = "releases/3.2.1/no-training/novantra_3.2.1_amd64.deb.minisig";
const NOTES: &str = "releases/3.2.1/NOTES.md";
const SUMS: &str = "ferry/SHA256SUMS";
const MANIFEST: &str = "ferry/manifest.json";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/ has a parent")
        .to_path_buf()
}

fn secret(name: &str) -> SecretKey {
    SecretKey::from_file(&repo().join(format!("keys/demo/{name}.key")), None).expect("demo key")
}

fn sha(b: &[u8]) -> String {
    Sha256Digest::of(b).to_hex()
}

/// Deterministic bytes (as the tests' `det_bytes`).
fn det_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn run(cmd: &mut Command) {
    let st = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(st.success(), "{cmd:?}: {st}");
}

struct Out {
    root: PathBuf,
}

impl Out {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        write(&self.root.join(target).join(name), bytes);
    }
}

/// The signed workspace; returns the manifest bytes.
fn workspace(ws: &Path) -> Vec<u8> {
    let artifact = det_bytes(64, 64);
    let vsig = secret("vendor")
        .sign(
            &artifact[..],
            "timestamp:1790000000\tfile:novantra_3.2.1_amd64.deb\tprehashed",
        )
        .expect("vendor sign");
    let notes = b"# novantra 3.2.1\n\nBug fixes.\n".to_vec();
    let listed: Vec<(&str, Vec<u8>)> = vec![
        (NOTES, notes),
        (ARTIFACT_SIG, vsig.into_bytes()),
        (ARTIFACT, artifact),
    ];
    let mut sums = String::new();
    for (p, b) in &listed {
        write(&ws.join(p), b);
        sums.push_str(&format!("{}  {p}\n", sha(b)));
    }
    write(&ws.join(SUMS), sums.as_bytes());
    let mut files = vec![json!({"path": SUMS, "size": sums.len(), "sha256": sha(sums.as_bytes())})];
    for (p, b) in &listed {
        files.push(json!({"path": p, "size": b.len(), "sha256": sha(b)}));
    }
    let manifest = json!({
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
                "upstream": [{"kind": "minisign", "path": ARTIFACT_SIG, "key_id": secret("vendor").id().to_string()}]
            }]
        }],
        "yanks": [],
        "files": files
    });
    let mut bytes = serde_json::to_vec_pretty(&manifest).expect("json");
    bytes.push(b'\n');
    write(&ws.join(MANIFEST), &bytes);
    let comment = format!(
        "ferry-manifest product={PRODUCT} sequence=7 sha256={}",
        sha(&bytes)
    );
    for signer in ["org1", "org2"] {
        let k = secret(signer);
        let sig = k.sign(&bytes[..], &comment).expect("sign");
        write(
            &ws.join(format!("ferry/signatures/{}.minisig", k.id())),
            sig.as_bytes(),
        );
    }
    bytes
}

fn check_bundle(path: &Path, must: bool) {
    let r = verify_bundle(
        &Input::Path(path.to_path_buf()),
        ferry_fuzz::policy(),
        &ferry_fuzz::opts(),
        &Repair::No,
    );
    match (&r, must) {
        (Ok(_), _) => eprintln!("verifies: {}", path.display()),
        (Err(e), false) => eprintln!("does not verify (kept as a seed): {}: {e}", path.display()),
        (Err(e), true) => panic!("{}: {e}", path.display()),
    }
}

/// Fixed modification times, for the tools that record them (Info-ZIP,
/// `gzip` with a name). The corpus still differs from run to run: minisign
/// signatures are randomised (hedged Ed25519).
fn touch_all(p: &Path) {
    run(Command::new("find")
        .arg(p)
        .args(["-exec", "touch", "-d", "@1795000000", "{}", "+"]));
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn bundles(out: &Out, tmp: &Path, ws: &Path) {
    let packed = tmp.join("packed");
    std::fs::create_dir_all(&packed).expect("mkdir");
    for (format, name) in [
        (Format::Tar, "pack.tar"),
        (Format::TarGz, "pack.tar.gz"),
        (Format::Zip, "pack.zip"),
    ] {
        let p = packed.join(name);
        pack(
            ws,
            &p,
            &PackOptions {
                format,
                split: None,
                parity: 0,
                progress: Default::default(),
            },
        )
        .expect("pack");
        check_bundle(&p, true);
    }
    out.put("tar_bundle", "pack.tar", &read(&packed.join("pack.tar")));
    out.put(
        "targz_bundle",
        "pack.tar.gz",
        &read(&packed.join("pack.tar.gz")),
    );
    out.put("zip_bundle", "pack.zip", &read(&packed.join("pack.zip")));

    // GNU tar, PAX (atime/ctime records) and plain ustar, sorted by name
    // (SHA256SUMS then comes before the manifest).
    for (fmt, name) in [("posix", "gnu-posix.tar"), ("ustar", "gnu-ustar.tar")] {
        let p = packed.join(name);
        run(Command::new("tar")
            .arg(format!("--format={fmt}"))
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--mtime=@1795000000",
                "--blocking-factor=1",
                "-cf",
            ])
            .arg(&p)
            .arg("-C")
            .arg(ws)
            .args(["ferry", "releases"]));
        check_bundle(&p, true);
        out.put("tar_bundle", name, &read(&p));
    }
    // gzip without and with a file name in the header.
    let p = packed.join("gnu-posix.tar.gz");
    let gz = Command::new("gzip")
        .args(["-n", "-9", "-c"])
        .arg(packed.join("gnu-posix.tar"))
        .output()
        .expect("gzip");
    assert!(gz.status.success());
    write(&p, &gz.stdout);
    check_bundle(&p, true);
    out.put("targz_bundle", "gnu-posix.tar.gz", &gz.stdout);
    touch_all(&packed.join("gnu-ustar.tar"));
    run(Command::new("gzip")
        .args(["-k", "-1"])
        .arg(packed.join("gnu-ustar.tar")));
    let p = packed.join("gnu-ustar.tar.gz");
    check_bundle(&p, true);
    out.put("targz_bundle", "gnu-ustar-named.tar.gz", &read(&p));

    // Info-ZIP, stored and deflated, no extra fields, no directory entries;
    // manifest first, then its signatures, then the listed files.
    let mut order: Vec<String> = vec![MANIFEST.into()];
    let mut sigs: Vec<String> = std::fs::read_dir(ws.join("ferry/signatures"))
        .expect("sigs")
        .map(|e| {
            format!(
                "ferry/signatures/{}",
                e.expect("entry").file_name().to_string_lossy()
            )
        })
        .collect();
    sigs.sort();
    order.extend(sigs);
    order.extend([SUMS, NOTES, ARTIFACT_SIG, ARTIFACT].map(String::from));
    for (level, name) in [("-0", "infozip-stored.zip"), ("-9", "infozip-deflated.zip")] {
        let p = packed.join(name);
        run(Command::new("zip")
            .current_dir(ws)
            .args(["-X", "-D", "-q", level])
            .arg(&p)
            .args(&order));
        check_bundle(&p, false);
        out.put("zip_bundle", name, &read(&p));
    }

    // Small framing-only seeds.
    out.put("tar_bundle", "end-of-archive.tar", &[0u8; 1024]);
    let mut eocd = b"PK\x05\x06".to_vec();
    eocd.resize(22, 0);
    out.put("zip_bundle", "empty.zip", &eocd);
    let gz = Command::new("sh")
        .args(["-c", "head -c 1024 /dev/zero | gzip -n -c"])
        .output()
        .expect("gzip");
    out.put("targz_bundle", "end-of-archive.tar.gz", &gz.stdout);
}

fn signatures(out: &Out, ws: &Path) {
    let t = "minisign_signature";
    let mut sigs: Vec<PathBuf> = std::fs::read_dir(ws.join("ferry/signatures"))
        .expect("sigs")
        .map(|e| e.expect("entry").path())
        .collect();
    sigs.sort();
    for (i, p) in sigs.iter().enumerate() {
        out.put(t, &format!("manifest-{i}.minisig"), &read(p));
    }
    let vendor = read(&ws.join(ARTIFACT_SIG));
    out.put(t, "artifact.minisig", &vendor);
    let text = String::from_utf8(vendor).expect("utf-8");
    out.put(
        t,
        "artifact-crlf.minisig",
        text.replace('\n', "\r\n").as_bytes(),
    );
    // The same signature relabelled legacy (`Ed`): it parses, and fails.
    let lines: Vec<&str> = text.lines().collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(lines[1]).expect("base64");
    raw[..2].copy_from_slice(b"Ed");
    let legacy = format!(
        "{}\n{}\n{}\n{}\n",
        lines[0],
        b64.encode(&raw),
        lines[2],
        lines[3]
    );
    SignatureFile::parse(legacy.as_bytes(), "legacy").expect("legacy parses");
    out.put(t, "legacy.minisig", legacy.as_bytes());

    let t = "minisign_pubkey";
    let org1 = read(&repo().join("keys/demo/org1.pub"));
    out.put(t, "org1.pub", &org1);
    let vendor = String::from_utf8(read(&repo().join("keys/demo/vendor.pub"))).expect("utf-8");
    out.put(t, "vendor-bare.pub", ferry_fuzz::b64(&vendor).as_bytes());
    let mirror = String::from_utf8(read(&repo().join("keys/demo/mirror.pub"))).expect("utf-8");
    out.put(
        t,
        "mirror-crlf.pub",
        mirror.replace('\n', "\r\n").as_bytes(),
    );
}

fn documents(out: &Out, tmp: &Path, manifest: &[u8]) {
    let t = "json_documents";
    out.put(t, "manifest.json", manifest);

    // A vendor index, by `ferry index build`'s code.
    let from = tmp.join("vendor");
    write(&from.join("product.toml"), b"product = \"novantra\"\n");
    write(
        &from.join("3.2.1/release.toml"),
        b"channels = [\"preview\", \"stable\"]\npublished = \"2026-11-01T00:00:00Z\"\nsupported_from = \">=2.0.0\"\n\n[[advisories]]\nid = \"NOV-2026-004\"\nseverity = \"high\"\naffected = \"<3.1.4\"\nfixed_in = \"3.1.4\"\nsummary = \"Model-import endpoint accepts unsigned archives\"\n\n[[artifacts]]\nfile = \"novantra_3.2.1_amd64.deb\"\nprofile = \"no-training\"\nplatform = \"linux-amd64\"\nformat = \"deb\"\n",
    );
    write(&from.join("3.2.1/NOTES.md"), b"# 3.2.1\n");
    write(
        &from.join("3.2.1/no-training/novantra_3.2.1_amd64.deb"),
        &det_bytes(7, 32),
    );
    let web = tmp.join("web");
    let generated: Timestamp = "2026-11-20T09:00:00Z".parse().expect("time");
    let report = ferry_manifests::vendor::build_index(&from, &web, &secret("vendor"), generated)
        .expect("index build");
    out.put(t, "release-index.json", &read(&report.index_path));

    // A mirror index and its hint feed, signed, in a published envelope.
    let name = |s: &str| Name::new(s).expect("name");
    let path = |s: &str| BundlePath::new(s).expect("path");
    let v321 = semver::Version::new(3, 2, 1);
    let artifact = det_bytes(64, 64);
    let digest = Sha256Digest::of(&artifact);
    let hints = Hints {
        schema: ferry_manifests::hints::SCHEMA.into(),
        product: name(PRODUCT),
        generated,
        sequence: 3,
        expires: None,
        channels: BTreeMap::from([(
            name("stable"),
            BTreeMap::from([(
                name("no-training"),
                ChannelProfile {
                    latest: v321.clone(),
                    versions: vec![v321.clone()],
                },
            )]),
        )]),
        releases: vec![HintRelease {
            version: v321.clone(),
            channels: vec![name("stable")],
            supported_from: Some(">=2.0.0".parse().expect("req")),
            required: false,
            yanked: None,
            notes: path(NOTES),
            artifacts: vec![HintArtifact {
                profile: name("no-training"),
                path: path(ARTIFACT),
                size: 64,
                sha256: digest,
                platform: name("linux-amd64"),
                format: name("deb"),
            }],
        }],
        advisories: Vec::new(),
    };
    let index = MirrorIndex {
        trust: Vec::new(),
        schema: ferry_mirror_layout::mirror::index::SCHEMA.into(),
        product: name(PRODUCT),
        channels: vec![name("stable")],
        profiles: vec![name("no-training")],
        sequence: 3,
        manifest_sequence: 7,
        generated,
        expires: None,
        audit_head: Head {
            seq: 3,
            sha256: Sha256Digest::of(b"audit"),
        },
        releases: vec![MirrorRelease {
            version: v321,
            channels: vec![name("stable")],
            published: "2026-11-01T00:00:00Z".parse().expect("time"),
            supported_from: None,
            required: false,
            yanked: None,
            advisories: Vec::new(),
            notes: path(NOTES),
            artifacts: vec![MirrorArtifact {
                path: path(ARTIFACT),
                profile: name("no-training"),
                platform: name("linux-amd64"),
                format: name("deb"),
                size: 64,
                sha256: digest,
                upstream: Vec::new(),
                image: None,
            }],
        }],
        manifests: vec![ImportedManifest {
            sha256: Sha256Digest::of(manifest),
            sequence: 7,
            imported: generated,
            signers: vec![secret("org1").id().to_string()],
        }],
        files: vec![FileEntry {
            path: path(ARTIFACT),
            size: 64,
            sha256: digest,
        }],
    };
    let hb = hints.to_bytes();
    let ib = index.to_bytes();
    let mirror = secret("mirror");
    let p = name(PRODUCT);
    let hs = mirror
        .sign(&hb[..], &hints_comment(&p, 3, &Sha256Digest::of(&hb)))
        .expect("sign");
    let is = mirror
        .sign(&ib[..], &index_comment(&p, 3, &Sha256Digest::of(&ib)))
        .expect("sign");
    let env = Published::new(
        std::str::from_utf8(&ib).expect("utf-8"),
        &is,
        std::str::from_utf8(&hb).expect("utf-8"),
        &hs,
    )
    .to_bytes();
    verify_published(&env, ferry_fuzz::mirror_keys(), "published.json").expect("verifies");
    out.put(t, "hints.json", &hb);
    out.put(t, "mirror-index.json", &ib);
    out.put(t, "published.json", &env);
    out.put(
        t,
        "small.json",
        br#"{"schema": "ferry.fuzz/v1", "a": [1, -2.5e3, true, null, "\u00e9"], "b": {}}"#,
    );
}

fn sigstore(out: &Out) {
    let t = "sigstore_bundle";
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = b64.encode(Sha256Digest::of(b"artifact").0);
    let sig = b64.encode([7u8; 64]);
    let cert = b64.encode(b"not a certificate");
    let message = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": cert},
            "tlogEntries": [{
                "logIndex": "12345",
                "logId": {"keyId": b64.encode([1u8; 32])},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": "1790000000",
                "inclusionPromise": {"signedEntryTimestamp": sig},
                "canonicalizedBody": b64.encode(b"{}")
            }]
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": digest},
            "signature": sig
        }
    });
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "novantra_3.2.1_amd64.deb", "digest": {"sha512": "00".repeat(64)}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {}
    });
    let dsse = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "vendor-key"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": b64.encode(statement.to_string()),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": sig, "keyid": ""}]
        }
    });
    for (n, v) in [
        ("message.sigstore.json", message),
        ("dsse.sigstore.json", dsse),
    ] {
        let bytes = serde_json::to_vec_pretty(&v).expect("json");
        match SigstoreBundle::parse(&bytes, n) {
            Ok(_) => eprintln!("parses: {n}"),
            Err(e) => eprintln!("does not parse (kept as a seed): {n}: {e}"),
        }
        out.put(t, n, &bytes);
    }
}

fn policies(out: &Out) {
    let t = "trust_policy";
    let text = ferry_fuzz::policy_text();
    out.put(t, "inline-keys.toml", text.as_bytes());
    out.put(
        t,
        "key-paths.toml",
        b"product = \"novantra\"\n\n[vendor]\nminisign_keys = [\"keys/vendor.pub\"]\nrequire = []\n\n[transfer]\nkeys = [\"keys/org1.pub\", \"keys/org2.pub\"]\nthreshold = 1\n",
    );
    let vendor = String::from_utf8(read(&repo().join("keys/demo/vendor.pub"))).expect("utf-8");
    out.put(
        t,
        "sigstore.toml",
        format!(
            "product = \"novantra\"\n\n[vendor]\nminisign_keys = [\"{}\"]\nrequire = [\"minisign\", \"sigstore\"]\nallow_legacy_minisign = true\nsigstore_trusted_root = \"trusted_root.json\"\n\n[[vendor.sigstore_identity]]\nsan = \"^https://github.com/novantra/.*$\"\nsan_regex = true\nissuer = \"https://token.actions.githubusercontent.com\"\n",
            ferry_fuzz::b64(&vendor)
        )
        .as_bytes(),
    );
    out.put(t, "product-only.toml", b"product = \"novantra\"\n");
}

fn strings(out: &Out) {
    let t = "bundle_path";
    for (i, s) in [
        ARTIFACT,
        "ferry/manifest.json\nferry/signatures/ABCDEF0123456789.minisig\nFerry/Manifest.json",
        "releases/../etc/passwd",
        "a/b/c\na/b\nA/B/C",
        "CON.txt/x.",
        "x/",
    ]
    .iter()
    .enumerate()
    {
        out.put(t, &format!("path-{i}"), s.as_bytes());
    }
    let t = "text_fields";
    for (i, s) in [
        "45d",
        "90s",
        "2026-11-20T10:00:00Z",
        "9999-12-31T23:59:59Z",
        "novantra",
        "0123456789ABCDEF",
        &sha(b"x"),
    ]
    .iter()
    .enumerate()
    {
        out.put(t, &format!("field-{i}"), s.as_bytes());
    }
}

fn main() {
    let root = repo().join("fuzz/corpus");
    let _ = std::fs::remove_dir_all(&root);
    let out = Out { root };
    let tmp = tempfile::tempdir().expect("tempdir");
    let ws = tmp.path().join("ws");
    let manifest = workspace(&ws);
    touch_all(&ws);
    bundles(&out, tmp.path(), &ws);
    signatures(&out, &ws);
    documents(&out, tmp.path(), &manifest);
    sigstore(&out);
    policies(&out);
    strings(&out);
    eprintln!("corpus written to {}", out.root.display());
}
