//! Issue 5: every item of ATTACKS.md groups A, B and C that applies to a
//! bundle, each with a fixture the test builds itself. A rejection means
//! exit 1, the reason named on stderr, and nothing written anywhere (the
//! whole temp dir, holding the workspace, the bundles and a canary
//! `outside/`, is snapshotted before and compared after).
//!
//! Not applicable to bundle verification (see the issue note): A7
//! (per-artifact rollback needs the mirror's history: the mirror import's
//! job), A14 (no key-rotation documents: trust roots are local policy),
//! B7(a) and C11 (multi-bundle and TOCTOU concerns of the mirror import;
//! verification writes nothing and reads each byte once), B18 (modes are
//! ignored, never applied: tested as accepted), D (storage faults).

use std::path::{Path, PathBuf};

use ferry_tests::fixtures::{self, ARTIFACT, ARTIFACT_SIG, MANIFEST, NOTES, NOW, Raw, SUMS};
use ferry_tests::{cmd, det_bytes};

use crate::bundle::World;

// ---------------------------------------------------------------- helpers

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64d(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim().bytes() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|&x| x == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn b64e(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                out.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Edits a minisig file: line index → new line.
fn edit_sig(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    f(&mut lines);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Edits the decoded bytes of line `i` of a minisig file.
fn edit_sig_bytes(path: &Path, i: usize, f: impl FnOnce(&mut Vec<u8>)) {
    edit_sig(path, |l| {
        let mut b = b64d(&l[i]);
        f(&mut b);
        l[i] = b64e(&b);
    });
}

fn tar_of_fixture(w: &World) -> Vec<Raw> {
    fixtures::good_entries(&w.fx)
}

fn pos(entries: &[Raw], name: &str) -> usize {
    entries
        .iter()
        .position(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name}"))
}

/// Builds a tar of the (possibly tampered) workspace by hand (`ferry
/// pack` refuses many of these) and expects refusal, from a file and
/// from stdin.
#[track_caller]
fn reject_packed(w: &World, needles: &[&str]) {
    let n = format!(
        "t{}.tar",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let e = tar_of_fixture(w);
    w.reject_tar(&n, &fixtures::tar_of(&e), needles);
}

/// The offset of the local header of `name` in a zip.
fn local_header(b: &[u8], name: &str) -> usize {
    let mut i = 0;
    while let Some(p) = b[i..].windows(4).position(|x| x == b"PK\x03\x04") {
        let h = i + p;
        let n = usize::from(u16::from_le_bytes([b[h + 26], b[h + 27]]));
        if &b[h + 30..h + 30 + n] == name.as_bytes() {
            return h;
        }
        i = h + 4;
    }
    panic!("no local header for {name}");
}

/// Signs raw manifest bytes as sequence 7 with org1 and org2.
fn sign_raw(w: &World, bytes: &[u8]) {
    let comment = format!(
        "ferry-manifest product=novantra sequence=7 sha256={}",
        fixtures::sha(bytes)
    );
    w.fx.write_raw(MANIFEST, bytes);
    let dir = w.fx.root.join("ferry/signatures");
    let _ = std::fs::remove_dir_all(&dir);
    for s in ["org1", "org2"] {
        w.fx.sign_as(s, bytes, &comment);
    }
}

fn good_still_verifies(w: &World) {
    let fresh = World::new();
    let tar = fresh.pack("good.tar", &[]);
    fresh.verify(&tar, &[]).ok();
    let _ = w;
}

// ---------------------------------------------------------------- A

#[test]
fn a01_unsigned_or_wrongly_signed_manifest() {
    // (a) one byte changed after signing.
    let w = World::new();
    let mut m = std::fs::read(w.fx.root.join(MANIFEST)).unwrap();
    let i = m.windows(4).position(|x| x == b"deb\"").unwrap();
    m[i] = b'r';
    w.fx.write_raw(MANIFEST, &m);
    reject_packed(
        &w,
        &["0 valid signature(s) by distinct trusted keys, 2 required"],
    );
    // (b) signed only by keys the policy does not trust.
    let mut w = World::new();
    w.fx.signers = vec!["vendor", "mirror"];
    w.fx.write_manifest_and_sign();
    reject_packed(&w, &["is not trusted by this policy", "2 required"]);
    // (c) no signature at all (crafted: pack refuses to pack it).
    let w = World::new();
    let mut e = tar_of_fixture(&w);
    e.retain(|r| !r.name.starts_with("ferry/signatures"));
    w.reject_tar("c.tar", &fixtures::tar_of(&e), &["no signatures"]);
    // (d) org1's key id on a signature made by org2.
    let w = World::new();
    let org1 = fixtures::key_id("org1");
    let sig2 = std::fs::read(w.fx.sig_path("org2")).unwrap();
    std::fs::write(w.fx.sig_path("org1"), &sig2).unwrap();
    let id1 = b64d(
        std::fs::read_to_string(ferry_tests::demo_pub("org1"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
    )[2..10]
        .to_vec();
    edit_sig_bytes(&w.fx.sig_path("org1"), 1, |b| {
        b[2..10].copy_from_slice(&id1)
    });
    reject_packed(&w, &["1 valid signature(s)", &org1]);
    good_still_verifies(&w);
}

#[test]
fn a02_key_compromise_below_threshold() {
    let mut w = World::new();
    w.fx.signers = vec!["org1"];
    w.fx.write_manifest_and_sign();
    reject_packed(
        &w,
        &["1 valid signature(s) by distinct trusted keys, 2 required"],
    );
    // org1 plus a right-length garbage signature for org2.
    let garbage = format!(
        "untrusted comment: x\n{}\ntrusted comment: {}\n{}\n",
        b64e(
            &[
                &b"ED"[..],
                &b64d(
                    std::fs::read_to_string(ferry_tests::demo_pub("org2"))
                        .unwrap()
                        .lines()
                        .nth(1)
                        .unwrap()
                )[2..10],
                &[7u8; 64]
            ]
            .concat()
        ),
        w.fx.comment(),
        b64e(&[9u8; 64])
    );
    std::fs::write(w.fx.sig_path("org2"), garbage).unwrap();
    reject_packed(&w, &["1 valid signature(s)", "2 required"]);
    // Threshold 3 with two signatures.
    let w = World::new();
    let p3 = fixtures::policy(w.tmp.path(), 3);
    let tar = w.pack("b.tar", &[]);
    let before = ferry_tests::snapshot(w.tmp.path());
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&tar)
        .arg("--trust")
        .arg(&p3)
        .args(["--now", NOW])
        .run()
        .expect_code(1)
        .stderr_has(&["2 valid signature(s) by distinct trusted keys, 3 required"]);
    ferry_tests::assert_unchanged(w.tmp.path(), &before);
}

#[test]
fn a03_one_key_counted_twice() {
    // (a) the same signature under two names.
    let mut w = World::new();
    w.fx.signers = vec!["org1"];
    w.fx.write_manifest_and_sign();
    let s = std::fs::read(w.fx.sig_path("org1")).unwrap();
    std::fs::write(
        w.fx.root.join("ferry/signatures/0000000000000000.minisig"),
        &s,
    )
    .unwrap();
    reject_packed(&w, &["1 valid signature(s)", "already counted"]);
    // (b) two different valid signature files from org1.
    edit_sig(
        &w.fx.root.join("ferry/signatures/0000000000000000.minisig"),
        |l| {
            l[0] = "untrusted comment: a second, different file".into();
        },
    );
    reject_packed(&w, &["1 valid signature(s)", "already counted"]);
    // (c) the same public key under two key ids in the trust store: refused
    // when the policy loads (exit 2), before any bundle is read.
    let w = World::new();
    let pub1 = std::fs::read_to_string(ferry_tests::demo_pub("org1")).unwrap();
    let mut raw = b64d(pub1.lines().nth(1).unwrap());
    raw[2..10].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let twin = w.path("twin.pub");
    std::fs::write(&twin, format!("untrusted comment: twin\n{}\n", b64e(&raw))).unwrap();
    let text = std::fs::read_to_string(&w.policy).unwrap().replace(
        &format!(
            "\"{}\"]\nthreshold",
            ferry_tests::demo_pub("org3").display()
        ),
        &format!("\"{}\"]\nthreshold", twin.display()),
    );
    std::fs::write(&w.policy, text).unwrap();
    let tar = w.pack("b.tar", &[]);
    w.verify(&tar, &[])
        .expect_code(2)
        .stderr_has(&["same public key", "two key ids"]);
}

#[test]
fn a04_degenerate_threshold_is_a_configuration_error() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    for t in ["0", "-1", "4", "2.0", "\"2\""] {
        let text = std::fs::read_to_string(&w.policy).unwrap();
        let text = text
            .lines()
            .map(|l| {
                if l.starts_with("threshold") {
                    format!("threshold = {t}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let p = w.path(&format!("p{}.toml", t.len()));
        std::fs::write(&p, text).unwrap();
        cmd("ferry-verify")
            .args(["bundle"])
            .arg(&tar)
            .arg("--trust")
            .arg(&p)
            .args(["--now", NOW])
            .run()
            .expect_code(2)
            .stderr_has(&["threshold"]);
    }
}

#[test]
fn a05_junk_signatures_beside_a_met_threshold_are_ignored() {
    let w = World::new();
    // Junk for trusted org3, and a signature by an unknown key.
    std::fs::write(w.fx.sig_path("org3"), "untrusted comment: junk\nAAAA\n").unwrap();
    let m = std::fs::read(w.fx.root.join(MANIFEST)).unwrap();
    w.fx.sign_as("vendor", &m, &w.fx.comment());
    let tar = w.pack("b.tar", &[]);
    let out = w.verify(&tar, &[]);
    out.ok()
        .stdout_has(&["ignored", "is not trusted by this policy"]);
}

fn state(w: &World, product: &str, seq: u64, sha: Option<&str>) -> String {
    let p = w.path("state.json");
    let sha = sha.map_or("null".to_string(), |s| format!("\"{s}\""));
    std::fs::write(&p, format!("{{\"schema\": \"ferry.verify-state/v1\", \"product\": \"{product}\", \"sequence\": {seq}, \"manifest_sha256\": {sha}}}")).unwrap();
    p.display().to_string()
}

#[test]
fn a06_rollback_and_equivocation() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    let sha = fixtures::sha(&std::fs::read(w.fx.root.join(MANIFEST)).unwrap());
    let s = state(&w, "novantra", 8, None);
    w.reject_with(
        &tar,
        &["--state", &s],
        &["sequence 7 is older than sequence 8", "rollback"],
    );
    let s = state(&w, "novantra", 7, Some(&fixtures::sha(b"other")));
    w.reject_with(&tar, &["--state", &s], &["equivocation"]);
    let s = state(&w, "novantra", 7, Some(&sha));
    w.verify(&tar, &["--state", &s]).ok();
    let s = state(&w, "novantra", 6, None);
    w.verify(&tar, &["--state", &s]).ok();
    let s = state(&w, "other", 6, None);
    w.verify(&tar, &["--state", &s])
        .expect_code(2)
        .stderr_has(&["state file"]);
}

#[test]
fn a08_huge_sequence_does_not_overflow() {
    let mut w = World::new();
    w.fx.manifest["sequence"] = serde_json::json!(u64::MAX);
    w.fx.write_manifest_and_sign();
    let tar = w.pack("b.tar", &[]);
    let s = state(&w, "novantra", u64::MAX, None);
    w.verify(&tar, &["--state", &s])
        .ok()
        .stdout_has(&["sequence 18446744073709551615"]);
}

#[test]
fn a09_freeze_expired_and_overlong_validity() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    // expires == now is expired; one second past too.
    w.reject_with(
        &tar,
        &["--now", "2026-12-20T10:00:00Z"],
        &["expired at 2026-12-20T10:00:00Z"],
    );
    w.reject_with(&tar, &["--now", "2026-12-20T10:00:01Z"], &["expired"]);
    w.verify(&tar, &["--now", "2026-12-20T09:59:59Z"]).ok();
    let mut w = World::new();
    w.fx.manifest["expires"] = serde_json::json!("2027-01-20T10:00:00Z");
    w.fx.write_manifest_and_sign();
    reject_packed(&w, &["max_validity 45d"]);
}

#[test]
fn a10_mix_and_match() {
    // (a) the manifest's digest is another build's (v4) while the bundle
    // carries these bytes.
    let mut w = World::new();
    let other = det_bytes(4, 300 * 1024 + 17);
    w.fx.list(ARTIFACT, other.len() as u64, &fixtures::sha(&other));
    w.fx.seal();
    reject_packed(&w, &[ARTIFACT, "sha256 mismatch"]);
    // (b) two manifests in one bundle.
    let w = World::new();
    let mut e = tar_of_fixture(&w);
    let m = e[pos(&e, MANIFEST)].clone();
    let at = pos(&e, SUMS);
    e.insert(at, m);
    w.reject_tar("b.tar", &fixtures::tar_of(&e), &["second manifest"]);
    // (c) a volume from another bundle.
    let w = World::new();
    w.pack("v.tar", &["--split", "64K"]);
    let w2 = World::with_size(300 * 1024 + 99);
    w2.pack("v.tar", &["--split", "64K"]);
    std::fs::copy(w2.path("v.tar.002"), w.path("v.tar.002")).unwrap();
    w.reject(&w.path("v.tar.000"), &["v.tar.002: sha256 mismatch"]);
    // ... or another bundle's volumes.json over these volumes.
    let w = World::new();
    w.pack("v.tar", &["--split", "64K"]);
    std::fs::copy(w2.path("v.tar.volumes.json"), w.path("v.tar.volumes.json")).unwrap();
    w.reject(&w.path("v.tar.000"), &["v.tar.00"]);
    // (d) another product's manifest.
    let mut w = World::new();
    w.fx.manifest["product"] = serde_json::json!("othername");
    let b = w.fx.manifest_bytes();
    sign_raw(&w, &b);
    w.fx.manifest["product"] = serde_json::json!("novantra");
    reject_packed(&w, &["product \"othername\" is not the policy's product"]);
}

#[test]
fn a11_wrong_software() {
    // (a) an artifact's bytes swapped for another listed file's.
    let w = World::new();
    let mut e = tar_of_fixture(&w);
    let a = pos(&e, ARTIFACT);
    let mut swapped = e[pos(&e, NOTES)].data.clone();
    swapped.resize(e[a].data.len(), b' ');
    e[a].data = swapped;
    w.reject_tar(
        "a.tar",
        &fixtures::tar_of(&e),
        &[ARTIFACT, "sha256 mismatch"],
    );
    // (b) a preview-channel manifest at a stable-pinned site; a default
    // profile at a no-training site.
    let mut w = World::new();
    w.fx.manifest["selection"]["channels"] = serde_json::json!(["preview"]);
    w.fx.manifest["releases"][0]["channels"] = serde_json::json!(["preview"]);
    w.fx.write_manifest_and_sign();
    reject_packed(&w, &["release 3.2.1", "pinned channels [stable]"]);
    let mut w = World::new();
    let a2 = "releases/3.2.1/default/novantra_3.2.1_amd64.deb";
    let bytes = det_bytes(5, 1000);
    let sig = fixtures::secret("vendor").sign(&bytes[..], "file").unwrap();
    w.fx.put(&format!("{a2}.minisig"), sig.as_bytes());
    w.fx.put(a2, &bytes);
    w.fx.manifest["selection"]["profiles"] = serde_json::json!(["no-training", "default"]);
    w.fx.manifest["releases"][0]["artifacts"].as_array_mut().unwrap().push(serde_json::json!({
        "path": a2, "profile": "default", "platform": "linux-amd64", "format": "deb",
        "upstream": [{"kind": "minisign", "path": format!("{a2}.minisig"), "key_id": fixtures::key_id("vendor")}]}));
    w.fx.seal();
    reject_packed(&w, &[a2, "pinned profiles [no-training]"]);
    // (c) a vendor signature made for other bytes.
    let mut w = World::new();
    let sig = fixtures::secret("vendor")
        .sign(&b"other release"[..], "file:novantra_3.2.1_amd64.deb")
        .unwrap();
    w.fx.put(ARTIFACT_SIG, sig.as_bytes());
    w.fx.seal();
    reject_packed(&w, &[ARTIFACT, "vendor signature", "verification failed"]);
}

#[test]
fn a12_endless_data() {
    // (a) a manifest entry larger than the document cap: refused from the
    // header, before reading (the data is not even there).
    let w = World::new();
    let mut body = fixtures::header(MANIFEST, b'0', 129 * 1024 * 1024, 0o644).to_vec();
    body.extend_from_slice(&[b' '; 4096]);
    w.reject_tar("big.tar", &body, &["larger than the 134217728-byte limit"]);
    // (b) an artifact one byte longer than declared.
    let mut e = tar_of_fixture(&w);
    let a = pos(&e, ARTIFACT);
    e[a].data.push(0);
    w.reject_tar(
        "long.tar",
        &fixtures::tar_of(&e),
        &[ARTIFACT, "size mismatch"],
    );
    // (c) a FIFO given as the bundle: refused, no hang.
    let fifo = w.path("fifo");
    ferry_tests::program("mkfifo").arg(&fifo).run().ok();
    w.reject(&fifo, &["not a regular file"]);
    // A missing bundle is an environment error.
    w.verify(&w.path("nope.tar"), &[]).expect_code(3);
}

#[test]
fn a13_extraneous_files() {
    let w = World::new();
    let mut e = tar_of_fixture(&w);
    e.push(Raw::file("releases/3.2.1/no-training/extra.so", b"evil"));
    w.reject_tar(
        "x.tar",
        &fixtures::tar_of(&e),
        &["extra.so", "not listed in the manifest"],
    );
    // Directory bundle: an extra file, an extra empty directory.
    let d = w.pack("d", &["--format", "dir"]);
    std::fs::write(d.join("releases/3.2.1/extra.so"), b"evil").unwrap();
    w.reject(&d, &["extra.so", "not listed"]);
    std::fs::remove_file(d.join("releases/3.2.1/extra.so")).unwrap();
    std::fs::create_dir(d.join("releases/empty")).unwrap();
    w.reject(&d, &["releases/empty", "not the parent of a listed file"]);
    std::fs::remove_dir(d.join("releases/empty")).unwrap();
    w.verify(&d, &[]).ok();
    // A listed file missing.
    let mut e = tar_of_fixture(&w);
    e.retain(|r| r.name != NOTES);
    w.reject_tar(
        "m.tar",
        &fixtures::tar_of(&e),
        &[NOTES, "missing from the bundle"],
    );
}

#[test]
fn a15_type_confusion() {
    // Signatures over the manifest bytes with another document type's
    // trusted comment never count.
    let w = World::new();
    let m = std::fs::read(w.fx.root.join(MANIFEST)).unwrap();
    for s in ["org1", "org2"] {
        w.fx.sign_as(
            s,
            &m,
            &format!(
                "ferry-receipt product=novantra sequence=7 sha256={}",
                fixtures::sha(&m)
            ),
        );
    }
    reject_packed(&w, &["0 valid signature(s)", "trusted comment"]);
    // A vendor artifact signature offered as a manifest signature.
    let w = World::new();
    std::fs::copy(w.fx.root.join(ARTIFACT_SIG), w.fx.sig_path("org2")).unwrap();
    reject_packed(&w, &["1 valid signature(s)"]);
}

#[test]
fn a16_a_good_bundle_verifies_after_rejections() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    let mut bad = std::fs::read(&tar).unwrap();
    let n = bad.len();
    bad[n / 2] ^= 1;
    let bp = w.path("bad.tar");
    std::fs::write(&bp, &bad).unwrap();
    for _ in 0..3 {
        w.verify(&bp, &[]).expect_code(1);
    }
    w.verify(&tar, &[]).ok();
}

// ---------------------------------------------------------------- B

fn insert_after_sums(e: &mut Vec<Raw>, r: Raw) {
    let at = pos(e, SUMS) + 1;
    e.insert(at, r);
}

#[test]
fn b01_b02_b03_traversal_absolute_and_windows_names() {
    let w = World::new();
    for (i, name) in [
        "../../evil.txt",
        "releases/../../evil.txt",
        "./releases/x",
        "releases/./x",
        "/etc/evil.txt",
        "///etc/evil",
        "releases\\..\\evil.txt",
        "C:evil",
        "releases/3.2.1/evil.txt:stream",
    ]
    .iter()
    .enumerate()
    {
        let mut e = tar_of_fixture(&w);
        insert_after_sums(&mut e, Raw::file(name, b"evil"));
        w.reject_tar(
            &format!("t{i}.tar"),
            &fixtures::tar_of(&e),
            &["unsafe path"],
        );
    }
    // Windows device names and trailing dots are not listed files.
    for (i, name) in ["releases/CON", "releases/3.2.1/evil.txt."]
        .iter()
        .enumerate()
    {
        let mut e = tar_of_fixture(&w);
        insert_after_sums(&mut e, Raw::file(name, b"evil"));
        w.reject_tar(&format!("w{i}.tar"), &fixtures::tar_of(&e), &["releases/"]);
    }
    // The same in a zip.
    let z = w.pack("b.zip", &["--format", "zip"]);
    let mut b = std::fs::read(&z).unwrap();
    let to = b"../../../../../evil.txt";
    assert_eq!(NOTES.len(), to.len());
    let lh = local_header(&b, NOTES);
    b[lh + 30..lh + 30 + to.len()].copy_from_slice(to);
    let mut i = 0;
    while let Some(p) = b[i..].windows(4).position(|x| x == b"PK\x01\x02") {
        let c = i + p;
        let n = usize::from(u16::from_le_bytes([b[c + 28], b[c + 29]]));
        if &b[c + 46..c + 46 + n] == NOTES.as_bytes() {
            b[c + 46..c + 46 + n].copy_from_slice(to);
        }
        i = c + 4;
    }
    let zp = w.path("trav.zip");
    std::fs::write(&zp, &b).unwrap();
    w.reject(&zp, &["unsafe path"]);
}

#[test]
fn b04_b05_b06_links() {
    let w = World::new();
    for (i, (t, link)) in [
        (b'2', "/tmp/outside"),
        (b'2', ".."),
        (b'1', "/etc/passwd"),
        (b'1', "../outside.txt"),
    ]
    .iter()
    .enumerate()
    {
        let mut e = tar_of_fixture(&w);
        let mut l = Raw::special("releases/lnk", *t);
        l.name = "releases/lnk".into();
        insert_after_sums(&mut e, Raw::file("releases/lnk/pwned.txt", b"x"));
        insert_after_sums(&mut e, l);
        let mut bytes = fixtures::tar_of(&e);
        // Put the link target into the linkname field.
        let hdr = bytes
            .windows(12)
            .position(|x| x == b"releases/lnk")
            .unwrap();
        let hdr = hdr - hdr % 512;
        bytes[hdr + 157..hdr + 157 + link.len()].copy_from_slice(link.as_bytes());
        fixtures::fix_cksum(&mut bytes[hdr..hdr + 512]);
        let what = if *t == b'2' {
            "a symbolic link"
        } else {
            "a hard link"
        };
        w.reject_tar(
            &format!("l{i}.tar"),
            &bytes,
            &[what, "only regular files and directories"],
        );
    }
    // B5: symlink d, then directory d.
    let mut e = tar_of_fixture(&w);
    insert_after_sums(&mut e, Raw::dir("releases/d"));
    insert_after_sums(&mut e, Raw::special("releases/d", b'2'));
    w.reject_tar("b5.tar", &fixtures::tar_of(&e), &["a symbolic link"]);
    // Zip symlink entry.
    let zp = zip_of_fixture(
        &w,
        "sym.zip",
        zip::write::SimpleFileOptions::default(),
        |z| {
            z.add_symlink(
                "releases/lnk",
                "/tmp/outside",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        },
    );
    w.reject(&zp, &["releases/lnk", "symbolic link"]);
    // Directory bundle with a symlink.
    let d = w.pack("d", &["--format", "dir"]);
    std::os::unix::fs::symlink(w.path("outside"), d.join("releases/lnk")).unwrap();
    w.reject(&d, &["releases/lnk", "symbolic link"]);
}

#[test]
fn b08_duplicate_entries() {
    let w = World::new();
    let mut e = tar_of_fixture(&w);
    let a = e[pos(&e, ARTIFACT)].clone();
    e.push(a);
    w.reject_tar(
        "dup.tar",
        &fixtures::tar_of(&e),
        &[ARTIFACT, "listed twice"],
    );
    let mut e = tar_of_fixture(&w);
    let d = e[pos(&e, "releases/")].clone();
    e.push(d);
    w.reject_tar(
        "dupd.tar",
        &fixtures::tar_of(&e),
        &["directory listed twice"],
    );
    // Zip: two entries with one name (renamed by byte patching).
    let zp = zip_of_fixture(
        &w,
        "dup.zip",
        zip::write::SimpleFileOptions::default(),
        |z| {
            z.start_file(
                "releases/3.2.1/NOTES.mX",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            std::io::Write::write_all(z, b"evil").unwrap();
        },
    );
    let mut b = std::fs::read(&zp).unwrap();
    while let Some(p) = b.windows(8).position(|x| x == b"NOTES.mX") {
        b[p..p + 8].copy_from_slice(b"NOTES.md");
    }
    std::fs::write(&zp, &b).unwrap();
    w.reject(&zp, &["same name"]);
}

fn zip_bytes(w: &World) -> Vec<u8> {
    let z = w.pack("base.zip", &["--format", "zip"]);
    let b = std::fs::read(&z).unwrap();
    std::fs::remove_file(&z).unwrap();
    b
}

#[test]
fn b09_b10_b11_zip_framing() {
    let w = World::new();
    let good = zip_bytes(&w);
    // B9: local name differs from the central name (same length).
    let mut b = good.clone();
    let lh = local_header(&b, NOTES);
    let p = lh + 30;
    b[p + NOTES.len() - 1] = b'x';
    let zp = w.path("b9.zip");
    std::fs::write(&zp, &b).unwrap();
    w.reject(&zp, &["disagree on the name"]);
    // B9: local compression method differs.
    let mut b = good.clone();
    let lh = p - 30;
    assert_eq!(&b[lh..lh + 4], b"PK\x03\x04");
    b[lh + 8] = 8;
    std::fs::write(&zp, &b).unwrap();
    w.reject(&zp, &["refused"]);
    // B10: prepended bytes, trailing bytes, two zips concatenated, a comment.
    let mut pre = b"MZ".to_vec();
    pre.extend_from_slice(&[0x90; 98]);
    pre.extend_from_slice(&good);
    std::fs::write(&zp, &pre).unwrap();
    w.reject(&zp, &["b9.zip"]);
    let mut trail = good.clone();
    trail.extend_from_slice(b"trailing");
    std::fs::write(&zp, &trail).unwrap();
    w.reject(&zp, &["refused"]);
    let mut cat = good.clone();
    cat.extend_from_slice(&good);
    std::fs::write(&zp, &cat).unwrap();
    w.reject(&zp, &["refused"]);
    let mut com = good.clone();
    let n = com.len();
    com[n - 2] = 3;
    com.extend_from_slice(b"hey");
    std::fs::write(&zp, &com).unwrap();
    w.reject(&zp, &["comment"]);
    // B11: a central record pointing at another entry's local header.
    let mut b = good.clone();
    let cds: Vec<usize> = b
        .windows(4)
        .enumerate()
        .filter(|(_, x)| *x == b"PK\x01\x02")
        .map(|(i, _)| i)
        .collect();
    let off1 = b[cds[1] + 42..cds[1] + 46].to_vec();
    b[cds[2] + 42..cds[2] + 46].copy_from_slice(&off1);
    std::fs::write(&zp, &b).unwrap();
    w.reject(&zp, &["refused"]);
    // The untouched zip still verifies.
    std::fs::write(&zp, &good).unwrap();
    w.verify(&zp, &[]).ok();
}

#[test]
fn b12_b13_lying_and_huge_sizes() {
    let w = World::new();
    // A deflated zip bomb entry whose declared size matches the manifest
    // but which expands further: capped at the declared size.
    let zp = w.path("bomb.zip");
    {
        let f = std::fs::File::create(&zp).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (path, bytes) in w.fx.entries() {
            z.start_file(path.clone(), o).unwrap();
            if path == ARTIFACT {
                std::io::Write::write_all(&mut z, &vec![0u8; 8 * 1024 * 1024]).unwrap();
            } else {
                std::io::Write::write_all(&mut z, &bytes).unwrap();
            }
        }
        z.finish().unwrap();
    }
    w.reject(&zp, &[ARTIFACT, "size mismatch"]);
    // A tar.gz of 64 MiB of zeros under the artifact's name: refused from
    // the header (size), without inflating it.
    let mut e = tar_of_fixture(&w);
    let a = pos(&e, ARTIFACT);
    e[a].data = vec![0u8; 64 * 1024 * 1024];
    let tar = fixtures::tar_of(&e);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gzb = gz.finish().unwrap();
    w.reject_tar("bomb.tar.gz", &gzb, &[ARTIFACT, "size mismatch"]);
    // B13: a base-256 size of 2^62 and an 8 GiB octal size.
    let mut e = tar_of_fixture(&w);
    e.truncate(pos(&e, ARTIFACT));
    let mut body = fixtures::tar_body(&e);
    let mut h = fixtures::header(ARTIFACT, b'0', 0, 0o644);
    h[124] = 0x80;
    h[124 + 4] = 0x40;
    fixtures::fix_cksum(&mut h);
    body.extend_from_slice(&h);
    body.extend_from_slice(&[0u8; 512]);
    w.reject_tar("b256.tar", &body, &["base-256"]);
    let mut body = fixtures::tar_body(&e);
    body.extend_from_slice(&fixtures::header(ARTIFACT, b'0', 0o777_7777_7777, 0o644));
    body.extend_from_slice(&[0u8; 512]);
    w.reject_tar("huge.tar", &body, &[ARTIFACT, "size mismatch"]);
}

#[test]
fn b14_pax_ustar_desynchronisation() {
    let w = World::new();
    let base = tar_of_fixture(&w);
    let n = pos(&base, NOTES);
    // (a) TARmageddon: ustar size 0, PAX size 1024, smuggled header inside.
    let mut e = base.clone();
    let mut smuggled = fixtures::header("releases/smuggled.txt", b'0', 5, 0o644).to_vec();
    smuggled.extend_from_slice(b"evil\n");
    smuggled.resize(1024, 0);
    e[n].pax = vec![("size".into(), "1024".into())];
    e[n].size = Some(0);
    let mut body = fixtures::tar_body(&e[..n]);
    let pax = fixtures::pax_bytes(&e[n].pax);
    body.extend_from_slice(&fixtures::header(
        "PaxHeaders/x",
        b'x',
        pax.len() as u64,
        0o644,
    ));
    body.extend_from_slice(&pax);
    body.resize(body.len().div_ceil(512) * 512, 0);
    body.extend_from_slice(&fixtures::header(NOTES, b'0', 0, 0o644));
    body.extend_from_slice(&smuggled);
    body.extend_from_slice(&fixtures::tar_of(&e[n + 1..]));
    w.reject_tar(
        "a.tar",
        &body,
        &["PAX size 1024 disagrees with the ustar size 0"],
    );
    // (b) ustar 512, PAX 1024.
    let mut e = base.clone();
    e[n].pax = vec![("size".into(), "1024".into())];
    e[n].data.resize(512, b' ');
    w.reject_tar(
        "b.tar",
        &fixtures::tar_of(&e),
        &["PAX size 1024 disagrees with the ustar size 512"],
    );
    // (c) malformed records, duplicate keys, unknown keys, PAX then a link.
    for (i, (recs, needle)) in [
        (b"99 path=releases/x\n".to_vec(), "malformed PAX header"),
        (b"12 path=x\n".to_vec(), "malformed PAX header"),
        (b"17 pathreleases/x\n".to_vec(), "malformed PAX header"),
        (
            fixtures::pax_bytes(&[("size".into(), "1".into()), ("size".into(), "1".into())]),
            "given twice",
        ),
        (
            fixtures::pax_bytes(&[("linkpath".into(), "/etc".into())]),
            "not accepted in a bundle",
        ),
        (
            fixtures::pax_bytes(&[("hdrcharset".into(), "BINARY".into())]),
            "not accepted in a bundle",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = fixtures::tar_body(&base[..n]);
        body.extend_from_slice(&fixtures::header(
            "PaxHeaders/x",
            b'x',
            recs.len() as u64,
            0o644,
        ));
        body.extend_from_slice(&recs);
        body.resize(body.len().div_ceil(512) * 512, 0);
        body.extend_from_slice(&fixtures::tar_of(&base[n..]));
        w.reject_tar(&format!("c{i}.tar"), &body, &[needle]);
    }
    let mut body = fixtures::tar_body(&base[..n]);
    let recs = fixtures::pax_bytes(&[("path".into(), NOTES.into())]);
    body.extend_from_slice(&fixtures::header(
        "PaxHeaders/x",
        b'x',
        recs.len() as u64,
        0o644,
    ));
    body.extend_from_slice(&recs);
    body.resize(body.len().div_ceil(512) * 512, 0);
    body.extend_from_slice(&fixtures::tar_of(&[Raw::special("releases/l", b'2')]));
    w.reject_tar(
        "pl.tar",
        &body,
        &["PAX header not followed by a regular file"],
    );
}

#[test]
fn b15_long_and_overriding_names() {
    let w = World::new();
    let base = tar_of_fixture(&w);
    let n = pos(&base, NOTES);
    // (a) a 6000-byte PAX path.
    let mut e = base.clone();
    let long = "a/".repeat(3000) + "f";
    e.insert(
        n,
        Raw {
            pax: vec![("path".into(), long)],
            ..Raw::file("x", b"x")
        },
    );
    e[n].name = String::new();
    w.reject_tar("a.tar", &fixtures::tar_of(&e), &["longer than 1024 bytes"]);
    // (b) GNU long names.
    let mut e = base.clone();
    e.insert(
        n,
        Raw {
            data: b"releases/evil\0".to_vec(),
            ..Raw::special("././@LongLink", b'L')
        },
    );
    w.reject_tar("b.tar", &fixtures::tar_of(&e), &["GNU long-name header"]);
    // (c) a PAX path that differs from the ustar name.
    let mut e = base.clone();
    e[n].pax = vec![("path".into(), "releases/3.2.1/OTHER.md".into())];
    w.reject_tar(
        "c.tar",
        &fixtures::tar_of(&e),
        &["PAX path and the ustar name disagree"],
    );
    // (d) a 300-byte component.
    let mut e = base.clone();
    e.insert(
        n,
        Raw {
            pax: vec![("path".into(), format!("releases/{}", "x".repeat(300)))],
            ..Raw::file("", b"x")
        },
    );
    w.reject_tar("d.tar", &fixtures::tar_of(&e), &["unsafe path"]);
}

#[test]
fn b16_b17_sparse_and_non_regular_types() {
    let w = World::new();
    let base = tar_of_fixture(&w);
    let n = pos(&base, NOTES);
    for (i, (t, what)) in [
        (b'S', "GNU sparse file"),
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "FIFO"),
        (b'7', "contiguous file"),
        (b'V', "GNU volume header"),
        (b'M', "GNU multi-volume continuation"),
        (b'Z', "unknown entry type"),
        (b'g', "global PAX header"),
        (b'K', "GNU long-name header"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = base.clone();
        e.insert(n, Raw::special("releases/dev", t));
        w.reject_tar(
            &format!("t{i}.tar"),
            &fixtures::tar_of(&e),
            &[what, "only regular files and directories"],
        );
    }
    // PAX 1.0 sparse: typeflag 0 with GNU.sparse.* keys.
    let mut e = base.clone();
    e[n].pax = vec![("GNU.sparse.realsize".into(), "107374182400".into())];
    w.reject_tar("sp.tar", &fixtures::tar_of(&e), &["sparse file"]);
}

#[test]
fn b18_modes_and_owners_are_ignored_never_applied() {
    let w = World::new();
    let mut e = tar_of_fixture(&w);
    for r in &mut e {
        r.mode = if r.typeflag == b'5' { 0o1777 } else { 0o4755 };
    }
    let p = w.path("suid.tar");
    fixtures::write(&p, &fixtures::tar_of(&e));
    // Verification writes nothing, so there is no mode to apply; the
    // bundle's content is what was signed.
    let before = ferry_tests::snapshot(w.tmp.path());
    w.verify(&p, &[]).ok();
    ferry_tests::assert_unchanged(w.tmp.path(), &before);
}

#[test]
fn b19_b20_collisions_nul_and_encodings() {
    let w = World::new();
    let base = tar_of_fixture(&w);
    let n = pos(&base, NOTES) + 1;
    // Case variant of a listed file; non-ASCII names.
    for (i, (name, needle)) in [
        ("releases/3.2.1/notes.md", "not listed"),
        ("releases/3.2.1/NOTES.MD", "not listed"),
        ("releases/caf\u{e9}.txt", "unsafe path"),
        ("releases/.g\u{200c}it", "unsafe path"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = base.clone();
        e.insert(n, Raw::file(name, b"x"));
        w.reject_tar(&format!("c{i}.tar"), &fixtures::tar_of(&e), &[needle]);
    }
    // A NUL inside the name field with a second name after it; bytes that
    // are not UTF-8.
    for (i, bad) in [
        &b"releases/good.txt\0evil.exe"[..],
        &b"releases/\xff.txt"[..],
    ]
    .iter()
    .enumerate()
    {
        let mut body = fixtures::tar_body(&base[..n]);
        let mut h = fixtures::header("releases/placeholder", b'0', 1, 0o644);
        h[..100].fill(0);
        h[..bad.len()].copy_from_slice(bad);
        fixtures::fix_cksum(&mut h);
        body.extend_from_slice(&h);
        let mut data = [0u8; 512];
        data[0] = b'x';
        body.extend_from_slice(&data);
        body.extend_from_slice(&fixtures::tar_of(&base[n..]));
        w.reject_tar(&format!("n{i}.tar"), &body, &["not NUL-terminated UTF-8"]);
    }
}

#[test]
fn b21_stream_framing() {
    let w = World::new();
    let tar = std::fs::read(w.pack("b.tar", &[])).unwrap();
    let gz = std::fs::read(w.pack("b.tar.gz", &["--format", "tar.gz"])).unwrap();
    // gzip: a second member; garbage after the trailer; a bad CRC; bad ISIZE.
    let mut two = gz.clone();
    two.extend_from_slice(&gz);
    w.reject_tar("two.tar.gz", &two, &["data after the gzip member"]);
    let mut g = gz.clone();
    g.extend_from_slice(b"garbage");
    w.reject_tar("g.tar.gz", &g, &["data after the gzip member"]);
    for (i, at) in [8usize, 3].iter().enumerate() {
        let mut c = gz.clone();
        let k = c.len() - at;
        c[k] ^= 0xff;
        w.reject_tar(&format!("crc{i}.tar.gz"), &c, &["gzip"]);
    }
    // tar: non-zero data after the end blocks; end blocks missing;
    // truncated inside an entry.
    let mut t = tar.clone();
    t.extend_from_slice(b"hidden");
    w.reject_tar("trail.tar", &t, &["data after the end of the archive"]);
    let mut t = tar.clone();
    t.truncate(tar.len() - 1024);
    w.reject_tar("noend.tar", &t, &["without its end-of-archive blocks"]);
    let mut t = tar.clone();
    t.truncate(tar.len() - 1024 - 2000);
    w.reject_tar("trunc.tar", &t, &["truncated"]);
    // A concatenated second archive after the first one's end.
    let mut t = tar.clone();
    t.extend_from_slice(&tar);
    w.reject_tar("cat.tar", &t, &["data after the end of the archive"]);
    // A single end block followed by data.
    let mut t = tar.clone();
    t.truncate(tar.len() - 512);
    t.extend_from_slice(&[1u8; 512]);
    w.reject_tar("half.tar", &t, &["end-of-archive marker"]);
}

#[test]
fn b22_split_volume_tricks() {
    let w = World::new();
    w.pack("v.tar", &["--split", "64K"]);
    let v = |i: usize| w.path(&format!("v.tar.{i:03}"));
    let orig: Vec<Vec<u8>> = (0..5).map(|i| std::fs::read(v(i)).unwrap()).collect();
    // (a) missing.
    std::fs::remove_file(v(1)).unwrap();
    w.reject(&v(0), &["v.tar.001: missing"]);
    // (b) out of order (swapped names): named by digest, ordered by the JSON.
    std::fs::write(v(1), &orig[2]).unwrap();
    std::fs::write(v(2), &orig[1]).unwrap();
    w.reject(&v(0), &["v.tar.001: sha256 mismatch"]);
    // (d) a duplicated volume.
    std::fs::write(v(1), &orig[0]).unwrap();
    std::fs::write(v(2), &orig[2]).unwrap();
    w.reject(&v(0), &["v.tar.001: sha256 mismatch"]);
    std::fs::write(v(1), &orig[1]).unwrap();
    // (f) the last volume truncated by one byte, or zero-filled at the tail.
    let last = (0..1000).take_while(|i| v(*i).exists()).last().unwrap();
    let lb = std::fs::read(v(last)).unwrap();
    std::fs::write(v(last), &lb[..lb.len() - 1]).unwrap();
    let name = format!("v.tar.{last:03}");
    w.reject(&v(0), &[&name, "size mismatch"]);
    let mut z = lb.clone();
    z[..600].fill(0);
    assert_ne!(z, lb);
    std::fs::write(v(last), &z).unwrap();
    w.reject(&v(0), &[&name]);
    std::fs::write(v(last), &lb).unwrap();
    // A volumes.json naming a path instead of a file name.
    let j = std::fs::read_to_string(w.path("v.tar.volumes.json")).unwrap();
    std::fs::write(
        w.path("v.tar.volumes.json"),
        j.replace("\"v.tar.001\"", "\"../outside/canary.txt\""),
    )
    .unwrap();
    w.reject(&v(0), &["not a plain file name"]);
    std::fs::write(w.path("v.tar.volumes.json"), &j).unwrap();
    w.verify(&v(0), &[]).ok();
}

// ---------------------------------------------------------------- C

#[test]
fn c01_legacy_algorithm_flip() {
    // Manifest signatures flipped to legacy never count.
    let w = World::new();
    for s in ["org1", "org2"] {
        edit_sig_bytes(&w.fx.sig_path(s), 1, |b| b[1] = b'd');
    }
    reject_packed(&w, &["0 valid signature(s)", "legacy"]);
    // A vendor signature flipped to legacy is refused (policy refuses legacy).
    let mut w = World::new();
    edit_sig_bytes(&w.fx.root.join(ARTIFACT_SIG), 1, |b| b[1] = b'd');
    let sig = std::fs::read(w.fx.root.join(ARTIFACT_SIG)).unwrap();
    w.fx.put(ARTIFACT_SIG, &sig);
    w.fx.seal();
    reject_packed(&w, &["legacy"]);
}

#[test]
fn c02_trusted_and_untrusted_comments() {
    // (a) trusted comment edited: not counted.
    let w = World::new();
    edit_sig(&w.fx.sig_path("org2"), |l| {
        l[2] = l[2].replace("sequence=7", "sequence=9")
    });
    reject_packed(&w, &["1 valid signature(s)"]);
    // (b) trusted-comment and global-signature lines swapped between two
    // valid signatures.
    let w = World::new();
    let s1 = std::fs::read_to_string(w.fx.sig_path("org1")).unwrap();
    edit_sig(&w.fx.sig_path("org2"), |l| {
        let o: Vec<&str> = s1.lines().collect();
        l[3] = o[3].to_string();
    });
    reject_packed(&w, &["1 valid signature(s)"]);
    // (c) untrusted comment edited: still verifies, and is never shown as
    // a fact.
    let w = World::new();
    edit_sig(&w.fx.sig_path("org1"), |l| {
        l[0] = "untrusted comment: sequence=999 trust me".into()
    });
    let tar = w.pack("b.tar", &[]);
    let out = w.verify(&tar, &[]);
    out.ok();
    assert!(!out.stdout.contains("trust me"));
}

#[test]
fn c03_c04_key_id_and_malleability() {
    // Key id zeroed.
    let w = World::new();
    edit_sig_bytes(&w.fx.sig_path("org2"), 1, |b| b[2..10].fill(0));
    reject_packed(&w, &["1 valid signature(s)"]);
    // S + L in the global signature.
    let w = World::new();
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    edit_sig_bytes(&w.fx.sig_path("org2"), 3, |b| {
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(b[32 + i]) + u16::from(L[i]) + carry;
            b[32 + i] = v as u8;
            carry = v >> 8;
        }
    });
    reject_packed(&w, &["1 valid signature(s)"]);
}

#[test]
fn c05_weak_keys_in_the_policy_are_refused() {
    let w = World::new();
    let tar = w.pack("b.tar", &[]);
    let mut identity = vec![b'E', b'd', 1, 2, 3, 4, 5, 6, 7, 8, 1];
    identity.extend_from_slice(&[0u8; 31]);
    let weak = w.path("weak.pub");
    std::fs::write(
        &weak,
        format!("untrusted comment: weak\n{}\n", b64e(&identity)),
    )
    .unwrap();
    let text = std::fs::read_to_string(&w.policy).unwrap().replace(
        &format!(
            "\"{}\"]\nthreshold",
            ferry_tests::demo_pub("org3").display()
        ),
        &format!("\"{}\"]\nthreshold", weak.display()),
    );
    std::fs::write(&w.policy, text).unwrap();
    w.verify(&tar, &[]).expect_code(2).stderr_has(&["weak"]);
}

#[test]
fn c06_malformed_signature_files() {
    for (i, edit) in [
        Box::new(|l: &mut Vec<String>| {
            let mut b = b64d(&l[1]);
            b.pop();
            l[1] = b64e(&b);
        }) as Box<dyn Fn(&mut Vec<String>)>,
        Box::new(|l: &mut Vec<String>| {
            l.pop();
        }),
        Box::new(|l: &mut Vec<String>| l.push("extra".into())),
        Box::new(|l: &mut Vec<String>| l[2] = l[2].replace("trusted comment: ", "")),
        Box::new(|l: &mut Vec<String>| l[2] = format!("trusted comment: {}", "x".repeat(1 << 20))),
        Box::new(|l: &mut Vec<String>| l[2] = format!("{}\u{1b}[2J", l[2])),
        Box::new(|l: &mut Vec<String>| l[0] = format!("\u{feff}{}", l[0])),
        Box::new(|l: &mut Vec<String>| l[2] = format!("{}\rx", l[2])),
    ]
    .into_iter()
    .enumerate()
    {
        let w = World::new();
        edit_sig(&w.fx.sig_path("org2"), |l| edit(l));
        let e = tar_of_fixture(&w);
        w.reject_tar(
            &format!("s{i}.tar"),
            &fixtures::tar_of(&e),
            &["ferry/signatures/"],
        );
    }
    // CRLF conversion is benign.
    let w = World::new();
    let s = std::fs::read_to_string(w.fx.sig_path("org2")).unwrap();
    std::fs::write(w.fx.sig_path("org2"), s.replace('\n', "\r\n")).unwrap();
    let tar = w.pack("crlf.tar", &[]);
    w.verify(&tar, &[]).ok();
}

#[test]
fn c07_c08_c09_signed_but_ambiguous_json() {
    let w0 = World::new();
    let text = String::from_utf8(w0.fx.manifest_bytes()).unwrap();
    for (i, (bad, needle)) in [
        (
            text.replacen(
                "\"sequence\": 7,",
                "\"sequence\": 7,\n  \"sequence\": 1,",
                1,
            ),
            "duplicate",
        ),
        (
            text.replacen("\"sequence\": 7,", "\"sequence\": 7.0,", 1),
            "sequence",
        ),
        (
            text.replacen("\"sequence\": 7,", "\"sequence\": \"7\",", 1),
            "sequence",
        ),
        (
            text.replacen("\"sequence\": 7,", "\"sequence\": -7,", 1),
            "sequence",
        ),
        (format!("\u{feff}{text}"), "manifest.json"),
        (format!("{text}{{}}"), "manifest.json"),
        (
            text.replacen("\"schema\":", "\"evil\": 1,\n  \"schema\":", 1),
            "evil",
        ),
        (
            text.replacen(
                "\"created\": \"2026-11-20T10:00:00Z\"",
                "\"created\": \"2026-11-20T10:00:00\"",
                1,
            ),
            "created",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        assert_ne!(bad, text, "case {i} did not apply");
        let w = &w0;
        sign_raw(w, bad.as_bytes());
        // pack parses the manifest too; build the tar by hand.
        let e = tar_of_fixture(w);
        w.reject_tar(&format!("j{i}.tar"), &fixtures::tar_of(&e), &[needle]);
    }
}

#[test]
fn c10_signature_over_other_bytes() {
    // Bytes appended after signing: signatures fail.
    let w = World::new();
    let mut m = std::fs::read(w.fx.root.join(MANIFEST)).unwrap();
    m.extend_from_slice(b"\n{\"evil\":1}");
    w.fx.write_raw(MANIFEST, &m);
    let e = tar_of_fixture(&w);
    w.reject_tar("a.tar", &fixtures::tar_of(&e), &["0 valid signature(s)"]);
    // Signed with trailing content: the same bytes are parsed, and refused.
    let w = World::new();
    sign_raw(&w, &m);
    let e = tar_of_fixture(&w);
    w.reject_tar("b.tar", &fixtures::tar_of(&e), &["manifest.json"]);
}

#[test]
fn c12_c13_weak_digests_and_fail_open_paths() {
    for (i, (edit, needle)) in [("upper", "sha256"), ("short", "sha256"), ("nosize", "size")]
        .into_iter()
        .enumerate()
    {
        let mut w = World::new();
        let f = &mut w.fx.manifest["files"][1];
        match edit {
            "upper" => {
                f["sha256"] = serde_json::json!(f["sha256"].as_str().unwrap().to_uppercase())
            }
            "short" => f["sha256"] = serde_json::json!(&f["sha256"].as_str().unwrap()[1..]),
            _ => {
                f.as_object_mut().unwrap().remove("size");
            }
        }
        let b = w.fx.manifest_bytes();
        sign_raw(&w, &b);
        let e = tar_of_fixture(&w);
        w.reject_tar(&format!("d{i}.tar"), &fixtures::tar_of(&e), &[needle]);
    }
    // An empty signature file; a manifest truncated mid-object (signed).
    let w = World::new();
    std::fs::write(w.fx.sig_path("org2"), b"").unwrap();
    reject_packed(&w, &["1 valid signature(s)"]);
    let w = World::new();
    let m = w.fx.manifest_bytes();
    sign_raw(&w, &m[..m.len() / 2]);
    let e = tar_of_fixture(&w);
    w.reject_tar("t.tar", &fixtures::tar_of(&e), &["manifest.json"]);
}

// ---------------------------------------------------------------- SPEC §3.6 order

#[test]
fn entry_order_rules() {
    let w = World::new();
    let base = tar_of_fixture(&w);
    // A file before the manifest.
    let mut e = base.clone();
    let n = e.remove(pos(&e, NOTES));
    e.insert(0, n);
    w.reject_tar(
        "o1.tar",
        &fixtures::tar_of(&e),
        &["the first file of a bundle must be ferry/manifest.json"],
    );
    // A signature after another file (three signers, so the threshold
    // would still be met without it).
    let mut w3 = World::new();
    w3.fx.signers = vec!["org1", "org2", "org3"];
    w3.fx.write_manifest_and_sign();
    let mut e = tar_of_fixture(&w3);
    let sig = e
        .iter()
        .position(|r| r.name.starts_with("ferry/signatures/") && r.typeflag == b'0')
        .unwrap();
    let s = e.remove(sig);
    e.push(s);
    w3.reject_tar(
        "o2.tar",
        &fixtures::tar_of(&e),
        &["must come right after ferry/manifest.json"],
    );
    // An upstream signature after its artifact is allowed (SPEC §3.6, any
    // order) but still checked: one over other bytes, listed by a signed
    // manifest, is refused when it arrives, naming the artifact.
    let mut wb = World::new();
    let forged = fixtures::secret("vendor")
        .sign(
            &b"other bytes"[..],
            "timestamp:1790000000\tfile:novantra_3.2.1_amd64.deb\tprehashed",
        )
        .unwrap();
    wb.fx.put(ARTIFACT_SIG, forged.as_bytes());
    wb.fx.seal();
    let mut e = tar_of_fixture(&wb);
    let s = e.remove(pos(&e, ARTIFACT_SIG));
    e.push(s);
    wb.reject_tar(
        "o3.tar",
        &fixtures::tar_of(&e),
        &[ARTIFACT, "vendor signature", "verification failed"],
    );
    // A directory entry that is no file's parent, before the manifest.
    let mut e = base.clone();
    e.insert(0, Raw::dir("releases"));
    w.reject_tar(
        "o4.tar",
        &fixtures::tar_of(&e),
        &["not the parent of a listed file"],
    );
    // SHA256SUMS that disagrees with the manifest (signed): refused.
    let mut w = World::new();
    w.fx.seal();
    w.fx.write_raw(SUMS, b"0000000000000000000000000000000000000000000000000000000000000000  releases/3.2.1/NOTES.md\n");
    let sums = std::fs::read(w.fx.root.join(SUMS)).unwrap();
    w.fx.list(SUMS, sums.len() as u64, &fixtures::sha(&sums));
    w.fx.write_manifest_and_sign();
    reject_packed(&w, &["ferry/SHA256SUMS"]);
}

/// B10/B17 in zip: a directory entry (name ending in `/`) that carries
/// data. The tar reader refuses "a directory entry with data"; the zip
/// carrier must not let unverified bytes ride along in a bundle that then
/// verifies as clean.
#[test]
fn b10_zip_directory_entry_carrying_data() {
    let w = World::new();
    for method in [
        zip::CompressionMethod::Stored,
        zip::CompressionMethod::Deflated,
    ] {
        let o = zip::write::SimpleFileOptions::default().compression_method(method);
        let zp = zip_of_fixture(&w, "dirdata.zip", o, |z| {
            // "releases" is a parent of listed files, so the directory
            // itself is allowed; its data is not.
            z.start_file("releases/", o).unwrap();
            std::io::Write::write_all(z, b"#!/bin/sh\necho unverified payload\n").unwrap();
        });
        w.reject(&zp, &["releases", "directory entry with data"]);
    }
    // The same zip without the payload verifies.
    let o = zip::write::SimpleFileOptions::default();
    let zp = zip_of_fixture(&w, "dirdata.zip", o, |z| {
        z.add_directory("releases/", o).unwrap();
    });
    w.verify(&zp, &[]).ok();
}

/// A12/B22: `volumes.json` is not signed, so its parity geometry is
/// attacker-controlled. A `shard_size` far beyond the volumes must be
/// refused when the file is read, not drive `--repair` through ~2^60
/// stripes of Reed–Solomon work (an endless verification).
#[test]
fn b22_parity_geometry_in_volumes_json_is_checked() {
    let w = World::new();
    w.pack("v.tar", &["--split", "64K", "--parity", "1"]);
    let json = w.path("v.tar.volumes.json");
    let j = std::fs::read_to_string(&json).unwrap();
    let v1 = w.path("v.tar.001");
    let orig = std::fs::read(&v1).unwrap();
    let mut bad = orig.clone();
    bad[100] ^= 1;
    std::fs::write(&v1, &bad).unwrap();
    let start = j.find("\"shard_size\": ").expect("shard_size") + "\"shard_size\": ".len();
    let end = start + j[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
    for (i, size) in ["1152921504606846976", "65537", "131072"]
        .iter()
        .enumerate()
    {
        std::fs::write(&json, format!("{}{size}{}", &j[..start], &j[end..])).unwrap();
        let rd = w.path(&format!("rebuilt-{i}"));
        let t = std::time::Instant::now();
        w.reject_with(
            &json,
            &["--repair", "--repair-dir", rd.to_str().unwrap()],
            &["v.tar.volumes.json", "shard_size"],
        );
        assert!(t.elapsed().as_secs() < 30, "took {:?}", t.elapsed());
    }
    // Restored, the same damage is repaired.
    std::fs::write(&json, &j).unwrap();
    let rd = w.path("rebuilt-ok");
    w.verify(&json, &["--repair", "--repair-dir", rd.to_str().unwrap()])
        .ok();
    std::fs::write(&v1, &orig).unwrap();
}

/// B10/B13: a zip64 end-of-central-directory record declaring its own size
/// as 2^64-1. The bounds arithmetic must refuse it, not overflow (a panic
/// in a checked build, a wrapped comparison otherwise).
#[test]
fn b13_zip64_end_record_with_overflowing_size() {
    let w = World::new();
    let good = zip_bytes(&w);
    let eocd = good.len() - 22;
    let le32 = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let (cd_size, cd_off) = (le32(&good, eocd + 12), le32(&good, eocd + 16));
    for declared in [u64::MAX, u64::MAX - 11, 44] {
        let mut b = good[..eocd].to_vec();
        let z_off = b.len() as u64;
        let mut z = vec![0u8; 56];
        z[..4].copy_from_slice(&0x0606_4b50u32.to_le_bytes());
        z[4..12].copy_from_slice(&declared.to_le_bytes());
        z[12..14].copy_from_slice(&45u16.to_le_bytes());
        z[14..16].copy_from_slice(&45u16.to_le_bytes());
        let n = u64::from(u16::from_le_bytes([good[eocd + 10], good[eocd + 11]]));
        z[24..32].copy_from_slice(&n.to_le_bytes());
        z[32..40].copy_from_slice(&n.to_le_bytes());
        z[40..48].copy_from_slice(&u64::from(cd_size).to_le_bytes());
        z[48..56].copy_from_slice(&u64::from(cd_off).to_le_bytes());
        b.extend_from_slice(&z);
        let mut loc = vec![0u8; 20];
        loc[..4].copy_from_slice(&0x0706_4b50u32.to_le_bytes());
        loc[8..16].copy_from_slice(&z_off.to_le_bytes());
        loc[16..20].copy_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&loc);
        let mut e = good[eocd..].to_vec();
        e[12..20].fill(0xFF);
        b.extend_from_slice(&e);
        let zp = w.path("z64.zip");
        std::fs::write(&zp, &b).unwrap();
        if declared == 44 {
            // The well-formed zip64 tail: the arithmetic accepts it and the
            // rest of the framing rules decide.
            let out = w.verify(&zp, &[]);
            assert!(!out.stderr.contains("zip64 end record"), "{}", out.stderr);
        } else {
            w.reject(&zp, &["z64.zip", "zip64 end record"]);
        }
        std::fs::remove_file(&zp).unwrap();
    }
}

/// B14/B20: the PAX `mtime` record is accepted (other writers emit it),
/// but only as a time. As a free-form value it is up to 64 KiB of bytes no
/// digest covers riding along in a verified bundle, which the reader
/// otherwise refuses (non-zero padding, data after the end).
#[test]
fn b14_pax_mtime_must_be_a_time() {
    let w = World::new();
    let base = tar_of_fixture(&w);
    let n = pos(&base, NOTES);
    for (i, v) in [
        "#!/bin/sh echo smuggled payload".to_string(),
        "A".repeat(60 * 1024),
        "1e9".into(),
        "1732147200.".into(),
        String::new(),
    ]
    .iter()
    .enumerate()
    {
        let mut e = base.clone();
        e[n].pax = vec![("mtime".into(), v.clone())];
        w.reject_tar(&format!("mt{i}.tar"), &fixtures::tar_of(&e), &["mtime"]);
    }
    // Times as GNU tar and others write them still verify.
    for (i, v) in ["1732147200", "1732147200.123456789", "-1", "0"]
        .iter()
        .enumerate()
    {
        let mut e = base.clone();
        e[n].pax = vec![("mtime".into(), (*v).to_string())];
        let p = w.path(&format!("mtok{i}.tar"));
        fixtures::write(&p, &fixtures::tar_of(&e));
        w.verify(&p, &[]).ok();
    }
}

/// B10 in zip: per-entry comments and extra fields are bytes no digest
/// covers (`ferry pack` writes neither). The archive comment is already
/// refused; an entry's comment, or an extra field other than zip64 sizes,
/// in the local header or only in the central directory, must be too.
#[test]
fn b10_zip_entry_comments_and_extra_fields() {
    let w = World::new();
    let payload = b"#!/bin/sh\necho unverified payload\n".repeat(100);
    for (i, case) in ["comment", "local extra", "central extra"]
        .iter()
        .enumerate()
    {
        let zp = w.path(&format!("x{i}.zip"));
        {
            let f = std::fs::File::create(&zp).unwrap();
            let mut z = zip::ZipWriter::new(f);
            for (path, bytes) in w.fx.entries() {
                let mut o = zip::write::FullFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored);
                if path == NOTES {
                    match *case {
                        "comment" => {
                            o = o.with_file_comment(String::from_utf8(payload.clone()).unwrap());
                        }
                        "local extra" => o.add_extra_field(0x6666, &payload, false).unwrap(),
                        _ => o.add_extra_field(0x6666, &payload, true).unwrap(),
                    }
                }
                z.start_file(path.clone(), o).unwrap();
                std::io::Write::write_all(&mut z, &bytes).unwrap();
            }
            z.finish().unwrap();
        }
        let b = std::fs::read(&zp).unwrap();
        assert!(
            b.windows(payload.len()).any(|x| x == payload.as_slice()),
            "case {case} did not apply"
        );
        w.reject(&zp, &[NOTES, "hidden data"]);
    }
    // zip64 size records (what `ferry pack` writes for files of 4 GiB and
    // more) are still accepted.
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let zp = zip_of_fixture(&w, "z64.zip", o, |_| {});
    let b = std::fs::read(&zp).unwrap();
    let lh = local_header(&b, NOTES);
    assert!(
        u16::from_le_bytes([b[lh + 28], b[lh + 29]]) > 0,
        "no zip64 record"
    );
    w.verify(&zp, &[]).ok();
}

/// B21: the gzip header's optional fields. `ferry pack` writes none; the
/// `gzip` tool writes a file name. An extra field or a comment (each up
/// to 64 KiB), or a "file name" that long, is bytes no digest covers.
#[test]
fn b21_gzip_header_fields_carrying_data() {
    let w = World::new();
    let tar = std::fs::read(w.pack("b.tar", &[])).unwrap();
    let payload = "echo unverified payload; ".repeat(400);
    let gz = |b: flate2::GzBuilder| {
        let mut e = b.mtime(0).write(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &tar).unwrap();
        e.finish().unwrap()
    };
    for (i, (b, needle)) in [
        (
            flate2::GzBuilder::new().extra(payload.as_bytes()),
            "extra field",
        ),
        (
            flate2::GzBuilder::new().comment(payload.as_bytes()),
            "comment",
        ),
        (
            flate2::GzBuilder::new().filename(payload.as_bytes()),
            "file name",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        w.reject_tar(&format!("h{i}.tar.gz"), &gz(b), &["gzip header", needle]);
    }
    // What `gzip b.tar` writes still verifies.
    let p = w.path("named.tar.gz");
    std::fs::write(&p, gz(flate2::GzBuilder::new().filename("b.tar"))).unwrap();
    w.verify(&p, &[]).ok();
}

/// B22/A10: a `volumes.json` whose volume digests all match (it is not
/// signed: anyone can recompute them) but whose `manifest_sha256` names
/// another manifest is refused by the cross-check, by name.
#[test]
fn b22_volumes_json_naming_another_manifest() {
    let w = World::new();
    w.pack("v.tar", &["--split", "64K"]);
    let json = w.path("v.tar.volumes.json");
    let j = std::fs::read_to_string(&json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let real = v["manifest_sha256"].as_str().unwrap().to_string();
    let other = fixtures::sha(b"another manifest");
    assert_ne!(real, other);
    std::fs::write(&json, j.replace(&real, &other)).unwrap();
    w.reject(&json, &["v.tar.volumes.json", "belongs to another bundle"]);
    std::fs::write(&json, &j).unwrap();
    w.verify(&json, &[]).ok();
}

/// A zip at `name` holding every fixture entry (with options `o`), then
/// whatever `extra` adds.
fn zip_of_fixture(
    w: &World,
    name: &str,
    o: zip::write::SimpleFileOptions,
    extra: impl FnOnce(&mut zip::ZipWriter<std::fs::File>),
) -> PathBuf {
    let zp = w.path(name);
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zp).unwrap());
    for (path, bytes) in w.fx.entries() {
        z.start_file(path, o).unwrap();
        std::io::Write::write_all(&mut z, &bytes).unwrap();
    }
    extra(&mut z);
    z.finish().unwrap();
    zp
}
