//! `ferry-handoff install` of a container image (issue 12, SPEC §3.12):
//! the image is verified from the mirror into `--to` as an OCI archive
//! that `skopeo copy oci-archive:` reads with the digest the index pins;
//! the installer gets `FERRY_IMAGE` (the mirror reference by digest) and
//! `FERRY_ARTIFACT` (the archive); a flipped byte in a blob on the mirror
//! refuses the hand-off and the installer never runs.

use std::path::{Path, PathBuf};

use ferry_tests::fixtures::{ARTIFACT, ARTIFACT_SIG};
use ferry_tests::{Output, cmd, have, program};

use super::mirror::World;
use super::oci_mirror::add_image;
use super::oci_mirror_serve::serve;

/// A mirror whose 3.2.1 is the image alone (no package beside it), under
/// a policy that requires the vendor's minisign signature (over the
/// image's root).
fn image_only_mirror() -> (World, String) {
    let w = World::new();
    let mut fx = w.workspace("ws", 7, 0);
    fx.manifest["releases"][0]["artifacts"] = serde_json::json!([]);
    fx.manifest["files"]
        .as_array_mut()
        .expect("files")
        .retain(|f| f["path"] != ARTIFACT && f["path"] != ARTIFACT_SIG);
    std::fs::remove_file(fx.root.join(ARTIFACT)).expect("rm");
    std::fs::remove_file(fx.root.join(ARTIFACT_SIG)).expect("rm");
    let root = add_image(&mut fx, "3.2.1", "no-training");
    fx.seal();
    w.import(&w.pack(&fx, "b"), &[]).ok();
    (w, root)
}

fn install(w: &World, mirror: &str, to: &Path, ran: &Path) -> Output {
    std::fs::create_dir_all(to).expect("to");
    let stub = format!("env | grep '^FERRY_' | sort > '{}'", ran.display());
    cmd("ferry-handoff")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["install", "--mirror", mirror, "--trust"])
        .arg(&w.policy)
        .args([
            "--current",
            "3.1.0",
            "--channel",
            "stable",
            "--profile",
            "no-training",
        ])
        .args(["--target", "3.2.1", "--to"])
        .arg(to)
        .args(["--exec", &stub])
        .run()
}

fn env_of(ran: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(ran)
        .expect("the installer ran")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(env: &'a [(String, String)], k: &str) -> &'a str {
    env.iter()
        .find(|(x, _)| x == k)
        .map_or_else(|| panic!("{k} not set: {env:?}"), |(_, v)| v.as_str())
}

#[test]
fn install_hands_over_a_verified_oci_archive_and_the_mirror_reference() {
    let (w, root) = image_only_mirror();
    let (_serve, host) = serve(&w);
    let to = w.path("incoming");
    let ran = w.path("installer-ran.txt");
    // check plans an image release like any other.
    let check = cmd("ferry-handoff")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args([
            "check",
            "--json",
            "--mirror",
            &format!("http://{host}/"),
            "--trust",
        ])
        .arg(&w.policy)
        .args([
            "--current",
            "3.1.0",
            "--channel",
            "stable",
            "--profile",
            "no-training",
        ])
        .args(["--platform", "linux-amd64"])
        .run();
    check.expect_code(10);
    assert_eq!(check.json()["latest"], "3.2.1");
    install(&w, &format!("http://{host}/"), &to, &ran).ok();
    let env = env_of(&ran);
    let archive = to.join("onprem-3.2.1.oci.tar");
    assert_eq!(get(&env, "FERRY_ARTIFACT"), archive.display().to_string());
    assert_eq!(
        get(&env, "FERRY_IMAGE"),
        format!("{host}/novantra/onprem@{root}")
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(to.join("handoff.json")).expect("record"))
            .expect("json");
    assert_eq!(
        record["artifact"]["image"],
        format!("{host}/novantra/onprem@{root}")
    );
    assert_eq!(record["artifact"]["format"], "oci");
    let sigs = record["artifact"]["signatures"].to_string();
    assert!(
        sigs.contains("minisign"),
        "the vendor's signature over the root: {sigs}"
    );
    // Nothing but the archive and the record (no staging left behind).
    let mut names: Vec<String> = std::fs::read_dir(&to)
        .expect("to")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["handoff.json", "onprem-3.2.1.oci.tar"]);

    if !have("skopeo") {
        eprintln!("skipped the skopeo half: skopeo is not installed (scripts/ci.sh installs it)");
        return;
    }
    let out = program("skopeo")
        .arg("inspect")
        .arg(format!("oci-archive:{}", archive.display()))
        .run();
    out.ok();
    assert_eq!(
        out.json()["Digest"],
        root.as_str(),
        "the digest the index pins"
    );
    let dest: PathBuf = w.path("loaded");
    program("skopeo")
        .args(["copy", "--dest-oci-accept-uncompressed-layers"])
        .arg(format!("oci-archive:{}", archive.display()))
        .arg(format!("oci:{}:3.2.1", dest.display()))
        .run()
        .ok();
    let hex = root.trim_start_matches("sha256:");
    assert!(dest.join("blobs/sha256").join(hex).is_file());
}

#[test]
fn a_flipped_byte_in_a_blob_refuses_the_install_and_the_installer_never_runs() {
    let (w, _) = image_only_mirror();
    let hex = w.flip_in_largest_blob(4096);
    let to = w.path("incoming");
    let ran = w.path("installer-ran.txt");
    // From the folder, and over HTTP from `serve`.
    let (_serve, host) = serve(&w);
    for mirror in [w.mirror.display().to_string(), format!("http://{host}/")] {
        let out = install(&w, &mirror, &to, &ran);
        out.expect_code(1);
        assert!(out.stderr.contains(&hex), "names the blob: {}", out.stderr);
        assert!(!ran.exists(), "the installer ran");
        let left: Vec<_> = std::fs::read_dir(&to).expect("to").collect();
        assert!(left.is_empty(), "nothing is handed over: {left:?}");
    }
}
