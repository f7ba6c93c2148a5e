//! SPEC §3.6 (changed, issue 10): after the manifest and its signatures,
//! files may come in any order, still in one pass. A bundle repacked from
//! the `dir` carrier by GNU tar (names sorted: an artifact before its
//! `.minisig`, `ferry/SHA256SUMS` before the manifest) verifies and
//! imports; zip and tar.gz with the signature last do too.

use std::path::Path;

use ferry_tests::cmd;
use ferry_tests::fixtures::{ARTIFACT, ARTIFACT_SIG, NOW};

use crate::bundle::World;

/// GNU tar over a `dir` bundle, names sorted, in a POSIX format (ferry's
/// reader takes ustar and PAX, never GNU's own headers).
fn gnu_tar_sorted(dir: &Path, out: &Path, gzip: bool) {
    gnu_tar_sorted_as(dir, out, gzip, "ustar");
}

fn gnu_tar_sorted_as(dir: &Path, out: &Path, gzip: bool, format: &str) {
    let mut c = std::process::Command::new("tar");
    c.arg("--sort=name")
        .arg(format!("--format={format}"))
        .arg("--owner=0")
        .arg("--group=0")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(dir);
    c.arg(if gzip { "-czf" } else { "-cf" }).arg(out);
    c.args(["ferry", "releases"]);
    assert!(c.status().unwrap().success(), "GNU tar");
}

fn listing(tar: &Path) -> Vec<String> {
    let o = std::process::Command::new("tar")
        .arg("-tf")
        .arg(tar)
        .output()
        .unwrap();
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn import(w: &World, bundle: &Path) -> ferry_tests::Output {
    let mirror = w.path("mirror");
    if !mirror.exists() {
        cmd("ferry-mirror")
            .arg("init")
            .arg(&mirror)
            .args([
                "--product",
                "novantra",
                "--channel",
                "stable",
                "--profile",
                "no-training",
            ])
            .arg("--key")
            .arg(ferry_tests::demo_key("mirror"))
            .run()
            .ok();
    }
    cmd("ferry-mirror")
        .arg("import")
        .arg(bundle)
        .arg("--mirror")
        .arg(&mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--key")
        .arg(ferry_tests::demo_key("mirror"))
        .args(["--now", NOW])
        .run()
}

#[test]
fn a_dir_bundle_repacked_by_gnu_tar_verifies_and_imports() {
    let w = World::new();
    let dir = w.pack("bdir", &["--format", "dir"]);
    let tar = w.path("sorted.tar");
    gnu_tar_sorted(&dir, &tar, false);
    let names = listing(&tar);
    let at = |n: &str| {
        names
            .iter()
            .position(|x| x.trim_end_matches('/') == n)
            .unwrap()
    };
    assert!(at(ARTIFACT) < at(ARTIFACT_SIG), "{names:?}");
    assert!(
        at("ferry/SHA256SUMS") < at("ferry/manifest.json"),
        "{names:?}"
    );
    w.verify(&tar, &[])
        .ok()
        .stdout_has(&["verified:", "checked after the artifact"]);
    import(&w, &tar).ok().stdout_has(&["imported manifest"]);
    // The same as tar.gz, and as PAX.
    let tgz = w.path("sorted.tar.gz");
    gnu_tar_sorted(&dir, &tgz, true);
    w.verify(&tgz, &[]).ok();
    let pax = w.path("sorted-pax.tar");
    gnu_tar_sorted_as(&dir, &pax, false, "posix");
    w.verify(&pax, &[]).ok();
}

#[test]
fn a_zip_with_the_signature_last_verifies() {
    let w = World::new();
    let dir = w.pack("bdir", &["--format", "dir"]);
    if !ferry_tests::have("zip") {
        eprintln!("SKIPPED: zip is not installed");
        return;
    }
    let zip = w.path("last.zip");
    // manifest, signatures, SHA256SUMS, then the artifact, then its .minisig
    let sig_dir: Vec<String> = std::fs::read_dir(dir.join("ferry/signatures"))
        .unwrap()
        .map(|e| {
            format!(
                "ferry/signatures/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    let mut order = vec!["ferry/manifest.json".to_string()];
    order.extend(sig_dir);
    order.extend(
        [
            "ferry/SHA256SUMS",
            "releases/3.2.1/NOTES.md",
            ARTIFACT,
            ARTIFACT_SIG,
        ]
        .map(String::from),
    );
    let st = std::process::Command::new("zip")
        .arg("-X")
        .arg("-q")
        .arg("-D")
        .arg(&zip)
        .args(&order)
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    w.verify(&zip, &[])
        .ok()
        .stdout_has(&["checked after the artifact"]);
}

/// A vendor signature after its artifact that does not match is refused
/// when it arrives, naming the artifact; a manifest after another file
/// (not SHA256SUMS) is still refused.
#[test]
fn order_is_free_but_nothing_is_unchecked() {
    let w = World::new();
    let dir = w.pack("bdir", &["--format", "dir"]);
    // Tamper the artifact in the tree: its digest fails whatever the order.
    let tar = w.path("bad.tar");
    let p = dir.join(ARTIFACT);
    let mut b = std::fs::read(&p).unwrap();
    b[10] ^= 1;
    std::fs::write(&p, &b).unwrap();
    gnu_tar_sorted(&dir, &tar, false);
    w.reject(&tar, &[ARTIFACT, "sha256 mismatch"]);
    // The manifest after a release file.
    let tar2 = w.path("late-manifest.tar");
    let st = std::process::Command::new("tar")
        .arg("--format=ustar")
        .arg("-C")
        .arg(&dir)
        .args(["-cf"])
        .arg(&tar2)
        .args(["releases/3.2.1/NOTES.md", "ferry"])
        .status()
        .unwrap();
    assert!(st.success());
    w.reject(
        &tar2,
        &["the first file of a bundle must be ferry/manifest.json"],
    );
}
