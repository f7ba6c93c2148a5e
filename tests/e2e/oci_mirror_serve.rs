//! `ferry-mirror serve` as the site's registry (issue 12, SPEC §3.12):
//! skopeo pulls the mirror's images by tag and by digest, byte for byte
//! the vendor's; tags follow `<version>` / `<version>-<profile>`; the
//! status page gives pull references; a damaged blob is never served whole;
//! a default-profile image never reaches a no-training mirror.

use std::process::{Command, Stdio};

use ferry_tests::{have, program, sha256_hex};

use super::mirror::{KillOnDrop, World, curl, free_port, wait_http};
use super::oci_mirror::{add_image, two_versions_imported};

/// `ferry-mirror serve` on a free port; returns the guard and `host:port`.
pub(crate) fn serve(w: &World) -> (KillOnDrop, String) {
    let port = free_port();
    let child = Command::new(ferry_tests::bin("ferry-mirror"))
        .arg("serve")
        .arg(&w.mirror)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--no-access-log"])
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let guard = KillOnDrop(child);
    let host = format!("127.0.0.1:{port}");
    wait_http(&format!("http://{host}/healthz"));
    (guard, host)
}

#[test]
fn skopeo_pulls_the_vendors_image_from_the_mirror() {
    let w = World::new();
    let (a, b) = two_versions_imported(&w);
    let (_serve, host) = serve(&w);
    let base = format!("http://{host}/v2/novantra/onprem");

    let (s, _, body) = curl(&format!("{base}/tags/list"), &[]);
    assert_eq!(s, 200);
    let tags: serde_json::Value = serde_json::from_slice(&body).expect("tags");
    assert_eq!(
        tags["tags"],
        serde_json::json!(["3.2.1", "3.2.1-no-training", "3.3.0", "3.3.0-no-training"])
    );
    let (s, head, _) = curl(&format!("{base}/manifests/3.3.0-no-training"), &["-I"]);
    assert_eq!(s, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("docker-content-digest: {b}"))
    );
    // A blob of 3.2.1 is not one of another repository's.
    let (s, _, _) = curl(&format!("http://{host}/v2/novantra/other/blobs/{a}"), &[]);
    assert_eq!(s, 404);
    let (_, _, page) = curl(&format!("http://{host}/"), &[]);
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains(&format!("docker pull {host}/novantra/onprem:3.2.1")),
        "{page}"
    );
    assert!(page.contains(&format!("{host}/novantra/onprem@{b}")));

    if !have("skopeo") {
        eprintln!("skipped the skopeo half: skopeo is not installed (scripts/ci.sh installs it)");
        return;
    }
    let reference = format!("docker://{host}/novantra/onprem:3.2.1");
    let out = program("skopeo")
        .args(["inspect", "--tls-verify=false", &reference])
        .run();
    out.ok();
    assert_eq!(out.json()["Digest"], a.as_str());
    let dest = w.path("pulled");
    program("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-oci-accept-uncompressed-layers",
        ])
        .arg(format!("docker://{host}/novantra/onprem@{b}"))
        .arg(format!("oci:{}:pulled", dest.display()))
        .run()
        .ok();
    // The pulled manifest is the vendor's, byte for byte.
    let hex = b.trim_start_matches("sha256:");
    let pulled = std::fs::read(dest.join("blobs/sha256").join(hex)).expect("pulled manifest");
    let vendor = std::fs::read(
        w.path("ws8/releases/3.3.0/no-training/onprem.oci/blobs/sha256")
            .join(hex),
    )
    .expect("vendor manifest");
    assert_eq!(pulled, vendor);
    assert_eq!(sha256_hex(&pulled), hex);
}

#[test]
fn a_damaged_blob_on_the_mirror_is_never_served_whole() {
    let w = World::new();
    let (a, _) = two_versions_imported(&w);
    let (_serve, host) = serve(&w);
    let hex = w.flip_in_largest_blob(100);
    let url = format!("http://{host}/v2/novantra/onprem/blobs/sha256:{hex}");
    ferry_tests::http::assert_cut_short(&url);
    // A manifest is checked before it is answered.
    let m = w
        .mirror
        .join("oci/blobs/sha256")
        .join(a.trim_start_matches("sha256:"));
    let mut mb = std::fs::read(&m).expect("manifest");
    mb[5] ^= 1;
    std::fs::write(&m, &mb).expect("flip");
    let (s, _, body) = curl(
        &format!("http://{host}/v2/novantra/onprem/manifests/3.2.1"),
        &[],
    );
    assert_eq!(s, 500, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn a_default_profile_image_never_reaches_a_no_training_mirror() {
    let w = World::new();
    let mut fx = w.workspace("ws", 7, 0);
    add_image(&mut fx, "3.2.1", "default");
    fx.manifest["selection"]["profiles"] = serde_json::json!(["default", "no-training"]);
    fx.seal();
    let bundle = w.pack(&fx, "b");
    w.import(&bundle, &[])
        .expect_code(1)
        .stderr_has(&["default"]);
    let (_serve, host) = serve(&w);
    let (s, _, body) = curl(
        &format!("http://{host}/v2/novantra/onprem/manifests/3.2.1-default"),
        &[],
    );
    assert_eq!(s, 404);
    assert!(String::from_utf8_lossy(&body).contains("NAME_UNKNOWN"));
}
