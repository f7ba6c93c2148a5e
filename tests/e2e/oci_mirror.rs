//! Container images on the mirror (issue 12, SPEC §3.12): import stores
//! each blob once under `oci/blobs/sha256/`, the signed index lists every
//! blob, fsck re-hashes them, prune keeps a blob while a kept version
//! needs it; `ferry-mirror serve` answers skopeo for the mirror's images.

use std::path::Path;

use ferry_oci::image::ImageSpec;
use ferry_oci::{Descriptor, LayoutWriter};
use ferry_tests::fixtures::{self, Fixture, sha};
use ferry_tests::{cmd, demo_key, det_bytes};
use serde_json::json;

use super::mirror::{World, derive};

/// The vendor's reference of the test image.
pub(crate) const IMAGE: &str = "registry.novantra.example/novantra/onprem";

/// The layers of version `v`: two shared by every version (a base and a
/// runtime, the second over 1 MiB), one of its own.
pub(crate) fn layers(v: &str) -> Vec<Vec<(String, Vec<u8>)>> {
    vec![
        vec![("etc/os-release".into(), b"ID=novantra-base\n".to_vec())],
        vec![("usr/lib/runtime.so".into(), det_bytes(77, 1_300_000))],
        vec![("opt/onprem/VERSION".into(), format!("{v}\n").into_bytes())],
    ]
}

/// A linux-amd64 image of `layers` written by ferry-oci as a layout at
/// `dir`, its root tagged `tag`.
pub(crate) fn write_image(
    dir: &Path,
    tag: &str,
    layers: Vec<Vec<(String, Vec<u8>)>>,
) -> Descriptor {
    let layout = LayoutWriter::create(dir).expect("layout");
    let spec = ImageSpec {
        platform: "linux-amd64".parse().expect("platform"),
        layers,
        with_index: false,
    };
    let root = ferry_oci::image::build(&layout, &spec).expect("image");
    layout.finish(&root, tag).expect("index.json");
    root
}

/// Adds image `onprem` of version `v` (a new release when the manifest
/// has none) to the workspace, every layout file listed, with the vendor's
/// minisign signature over the root's bytes; returns the root digest.
pub(crate) fn add_image(fx: &mut Fixture, v: &str, profile: &str) -> String {
    let rel = format!("releases/{v}/{profile}/onprem.oci");
    let root = write_image(&fx.root.join(&rel), v, layers(v));
    for f in walk(&fx.root.join(&rel)) {
        let bytes = std::fs::read(&f).expect("layout file");
        let p = f
            .strip_prefix(&fx.root)
            .expect("below")
            .to_string_lossy()
            .into_owned();
        fx.list(&p, bytes.len() as u64, &sha(&bytes));
    }
    let releases = fx.manifest["releases"].as_array_mut().expect("releases");
    if !releases.iter().any(|r| r["version"] == v) {
        releases.push(json!({
            "version": v, "channels": ["stable"], "published": "2026-11-10T00:00:00Z",
            "supported_from": ">=2.0.0", "required": false, "yanked": null,
            "advisories": [], "notes": format!("releases/{v}/NOTES.md"), "artifacts": []
        }));
        fx.put(
            &format!("releases/{v}/NOTES.md"),
            format!("# {v}\n").as_bytes(),
        );
    }
    let root_bytes = std::fs::read(
        fx.root
            .join(&rel)
            .join("blobs/sha256")
            .join(root.digest.hex()),
    )
    .expect("root");
    let sig = fixtures::secret("vendor")
        .sign(
            &root_bytes[..],
            "timestamp:1790000000\tfile:onprem\tprehashed",
        )
        .expect("vendor sign");
    fx.put(&format!("{rel}.minisig"), sig.as_bytes());
    let r = fx.manifest["releases"]
        .as_array_mut()
        .expect("releases")
        .iter_mut()
        .find(|r| r["version"] == v)
        .expect("release");
    r["artifacts"]
        .as_array_mut()
        .expect("artifacts")
        .push(json!({
            "path": rel, "profile": profile, "platform": "linux-amd64", "format": "oci",
            "image": IMAGE, "tag": v, "digest": root.digest.to_string(),
        "upstream": [{"kind": "minisign", "path": format!("{rel}.minisig"), "key_id": fixtures::key_id("vendor")}]
        }));
    root.digest.to_string()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Bundle 7: 3.2.1 (the fixture's deb and the image); bundle 8: the
/// same plus 3.3.0 (an image sharing two layers). Returns the two roots.
pub(crate) fn two_versions_imported(w: &World) -> (String, String) {
    let mut fx = w.workspace("ws7", 7, 0);
    let a = add_image(&mut fx, "3.2.1", "no-training");
    fx.seal();
    w.import(&w.pack(&fx, "b7"), &[]).ok();
    let mut fx8 = derive(&fx, &w.path("ws8"), 8);
    let b = add_image(&mut fx8, "3.3.0", "no-training");
    fx8.seal();
    w.import(&w.pack(&fx8, "b8"), &[]).ok();
    (a, b)
}

fn blob_files(mirror: &Path) -> Vec<String> {
    let dir = mirror.join("oci/blobs/sha256");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn dir_bytes(dir: &Path) -> u64 {
    walk(dir)
        .iter()
        .map(|p| std::fs::metadata(p).expect("meta").len())
        .sum()
}

/// fsck exits 1 naming `what`.
fn fsck_names(w: &World, what: &str) {
    let o = w.fsck();
    o.expect_code(1);
    assert!(o.stdout.contains(what) || o.stderr.contains(what), "{o:?}");
}

#[test]
fn import_stores_each_blob_once_and_the_index_covers_them() {
    let w = World::new();
    let (a, b) = two_versions_imported(&w);
    let index = w.index();
    let images: Vec<&serde_json::Value> = index["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .flat_map(|r| r["artifacts"].as_array().expect("artifacts"))
        .filter(|x| x["format"] == "oci")
        .collect();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["image"]["digest"], a.as_str());
    assert_eq!(images[1]["image"]["digest"], b.as_str());
    assert_eq!(images[0]["image"]["name"], "onprem");
    assert_eq!(images[0]["sha256"], a.trim_start_matches("sha256:"));
    // Two images of 3 layers, a config and a manifest each, two layers
    // shared: 8 blobs, each once, each listed in the signed index.
    let blobs = blob_files(&w.mirror);
    assert_eq!(blobs.len(), 8, "{blobs:?}");
    let listed: Vec<String> = index["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| {
            f["path"]
                .as_str()?
                .strip_prefix("oci/blobs/sha256/")
                .map(String::from)
        })
        .collect();
    assert_eq!(listed, blobs);
    assert!(
        !w.mirror
            .join("releases/3.2.1/no-training/onprem.oci/blobs")
            .exists()
    );
    assert!(
        w.mirror
            .join("releases/3.3.0/no-training/onprem.oci/index.json")
            .is_file()
    );
    let carried = dir_bytes(&w.path("ws7/releases/3.2.1/no-training/onprem.oci/blobs"))
        + dir_bytes(&w.path("ws8/releases/3.3.0/no-training/onprem.oci/blobs"));
    let stored = dir_bytes(&w.mirror.join("oci"));
    eprintln!("image blobs: {carried} bytes carried by two versions, {stored} stored");
    assert!(
        stored + 1_300_000 < carried,
        "shared layers are stored once"
    );
    w.fsck().ok();
    w.audit_log().ok();
    // export-state tells the connected side which blobs the mirror holds.
    let state = w.export_state("state.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    let held = state["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("oci/blobs/sha256/"))
        })
        .count();
    assert_eq!(held, 8);
    // The chain of custody names the manifest that brought each blob and
    // each image.
    let report = cmd("ferry-verify")
        .args(["report"])
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .args(["--format", "json"])
        .run();
    report.ok();
    let report = report.json();
    for f in report["files"].as_array().expect("files") {
        assert!(!f["brought_by"].is_null(), "{f}");
    }
    for a in report["artifacts"].as_array().expect("artifacts") {
        assert!(!a["brought_by"].is_null(), "{a}");
    }
}

#[test]
fn fsck_rehashes_blobs_and_prune_keeps_the_shared_ones() {
    let w = World::new();
    two_versions_imported(&w);
    let before = blob_files(&w.mirror);
    let victim = w.mirror.join("oci/blobs/sha256").join(&before[0]);
    let good = std::fs::read(&victim).expect("blob");
    let mut bad = good.clone();
    bad[0] ^= 1;
    std::fs::write(&victim, &bad).expect("flip");
    fsck_names(&w, &format!("oci/blobs/sha256/{}", before[0]));
    // fsck --repair takes the blob from a bundle that carries it in an
    // image layout, checked against the signed index.
    let out = cmd("ferry-mirror")
        .args(["fsck"])
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--repair")
        .arg(w.path("b8.tar"))
        .run();
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("restored oci/blobs/sha256/{}", before[0])),
        "{out:?}"
    );
    assert_eq!(std::fs::read(&victim).expect("blob"), good);
    std::fs::write(w.mirror.join("oci/blobs/sha256/stray"), b"x").expect("stray");
    fsck_names(&w, "oci/blobs/sha256/stray");
    std::fs::remove_file(w.mirror.join("oci/blobs/sha256/stray")).expect("rm");

    cmd("ferry-mirror")
        .args(["prune"])
        .arg(&w.mirror)
        .args(["--keep", "1", "--key"])
        .arg(demo_key("mirror"))
        .arg("--trust")
        .arg(&w.policy)
        .run()
        .ok();
    // 3.2.1's own layer, config and manifest go; the shared two stay.
    let after = blob_files(&w.mirror);
    assert_eq!(after.len(), 5, "{after:?}");
    assert!(after.iter().all(|b| before.contains(b)));
    w.fsck().ok();
}

/// SPEC §5 rule 2 for images: an import of an image bundle killed before
/// the journal is armed leaves the mirror as before, after it as after
/// (once the next command rolled it forward); no blob is ever under its
/// final name with other bytes than its digest's.
#[test]
fn an_image_import_killed_mid_way_is_all_or_nothing() {
    use super::mirror_crash::{cp_a, index_sequence, spawn_import, wait_for_mark};
    let w = World::new();
    let mut fx = w.workspace("ws", 7, 0);
    add_image(&mut fx, "3.2.1", "no-training");
    fx.seal();
    let bundle = w.pack(&fx, "b7");
    let template = w.path("template");
    cp_a(&w.mirror, &template);
    for (i, point) in [
        "staged-4",
        "journal-armed",
        "renamed-3",
        "renames-synced",
        "index-written",
    ]
    .iter()
    .enumerate()
    {
        let m = w.path(&format!("m-{i}"));
        cp_a(&template, &m);
        let mark = w.path(&format!("mark-{i}"));
        let mut child = spawn_import(&m, &w.policy, &bundle, point, &mark);
        wait_for_mark(&mut child, &mark, point);
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        for b in blob_files(&m) {
            let bytes = std::fs::read(m.join("oci/blobs/sha256").join(&b)).expect("blob");
            assert_eq!(
                ferry_tests::sha256_hex(&bytes),
                b,
                "{point}: a blob with other bytes"
            );
        }
        super::mirror::fsck_of(&m, &w.policy).ok();
        let imported = index_sequence(&m) > 1;
        assert_eq!(
            imported,
            i > 0,
            "{point}: before arming nothing, after it everything"
        );
        assert_eq!(
            blob_files(&m).len(),
            if imported { 5 } else { 0 },
            "{point}"
        );
        super::mirror::import_cmd(&m, &w.policy, &bundle).run().ok();
        assert_eq!(blob_files(&m).len(), 5, "{point}");
        super::mirror::fsck_of(&m, &w.policy).ok();
    }
}
