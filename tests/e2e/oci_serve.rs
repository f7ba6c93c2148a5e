//! ferry's read-only OCI registry (issue 12, SPEC §3.12) against a real
//! pulling client: `skopeo inspect` and `skopeo copy` from a layout the
//! test builds, byte for byte; and the HTTP answers clients rely on
//! (headers, 404 codes, 405, Range, HEAD), and damaged blobs refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_net::oci_registry::{LayoutCatalog, router};
use ferry_net::serve::StaticServer;
use ferry_tests::{have, program, sha256_hex};

use super::mirror::curl;

const REPO: &str = "novantra/onprem";

/// A small OCI image layout built by ferry-oci: config, two tar layers
/// (the second over 2 MiB, so a blob streams in several chunks) and a
/// manifest tagged `3.2.1`.
struct TestImage {
    dir: PathBuf,
    manifest: String,
    layers: Vec<String>,
}

fn build_image(dir: &Path, seed: u64) -> TestImage {
    let layers = vec![
        vec![(
            "etc/onprem.conf".into(),
            format!("seed {seed}\n").into_bytes(),
        )],
        vec![(
            "opt/onprem/bin".into(),
            ferry_tests::det_bytes(seed, 2_600_000),
        )],
    ];
    let hexes = layers
        .iter()
        .map(|files| sha256_hex(&ferry_oci::image::layer_tar(files)))
        .collect();
    let root = super::oci_mirror::write_image(dir, "3.2.1", layers);
    TestImage {
        dir: dir.to_path_buf(),
        manifest: root.digest.hex(),
        layers: hexes,
    }
}

/// The registry serving `image` as `novantra/onprem:3.2.1` (and `:latest`).
fn serve(image: &TestImage) -> StaticServer {
    let mut catalog = LayoutCatalog::new();
    let digest = format!("sha256:{}", image.manifest)
        .parse()
        .expect("digest");
    catalog
        .add_layout(REPO, &image.dir)
        .expect("layout")
        .add(REPO, &image.dir, "latest", digest)
        .expect("add");
    StaticServer::start_router(
        router(Arc::new(catalog)),
        &image.dir,
        "127.0.0.1:0".parse().expect("addr"),
    )
    .expect("start the registry")
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("an OCI error body");
    v["errors"][0]["code"].as_str().expect("code").to_string()
}

#[test]
fn skopeo_pulls_the_served_image_byte_for_byte() {
    if !have("skopeo") {
        eprintln!("skipped: skopeo is not installed (scripts/ci.sh installs it)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = build_image(&tmp.path().join("vendor.oci"), 1);
    let server = serve(&image);
    let reference = format!("docker://{}/{REPO}:3.2.1", server.addr());

    let out = program("skopeo")
        .args(["inspect", "--tls-verify=false", &reference])
        .run();
    out.ok();
    assert_eq!(
        out.json()["Digest"],
        format!("sha256:{}", image.manifest),
        "skopeo sees the served manifest's digest"
    );
    let raw = program("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &reference])
        .run();
    raw.ok();
    let stored = std::fs::read(image.dir.join("blobs/sha256").join(&image.manifest)).expect("m");
    assert_eq!(
        raw.stdout.as_bytes(),
        &stored[..],
        "the manifest is served as stored"
    );

    let dest = tmp.path().join("pulled");
    program("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-oci-accept-uncompressed-layers",
        ])
        .arg(&reference)
        .arg(format!("oci:{}:3.2.1", dest.display()))
        .run()
        .ok();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("index.json")).expect("index")).expect("j");
    assert_eq!(
        index["manifests"][0]["digest"],
        format!("sha256:{}", image.manifest),
        "the copy's manifest digest is the served one"
    );
    for hex in image.layers.iter().chain([&image.manifest]) {
        let copied = std::fs::read(dest.join("blobs/sha256").join(hex)).expect("copied blob");
        assert_eq!(sha256_hex(&copied), *hex);
    }
}

#[test]
fn answers_the_read_side_of_the_distribution_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let image = build_image(&tmp.path().join("vendor.oci"), 2);
    let server = serve(&image);
    let base = format!("http://{}/v2/", server.addr());

    let (s, head, _) = curl(&base, &[]);
    assert_eq!(s, 200);
    assert_eq!(
        header(&head, "docker-distribution-api-version"),
        Some("registry/2.0")
    );

    let (s, head, body) = curl(&format!("{base}{REPO}/manifests/3.2.1"), &["-I"]);
    assert_eq!((s, body.len()), (200, 0), "HEAD: headers only");
    let manifest_len = std::fs::metadata(image.dir.join("blobs/sha256").join(&image.manifest))
        .expect("m")
        .len();
    assert_eq!(
        header(&head, "content-type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    assert_eq!(
        header(&head, "content-length"),
        Some(manifest_len.to_string().as_str())
    );
    let digest = format!("sha256:{}", image.manifest);
    assert_eq!(
        header(&head, "docker-content-digest"),
        Some(digest.as_str())
    );
    // By digest, the colon escaped as some clients send it.
    let (s, _, body) = curl(
        &format!("{base}{REPO}/manifests/sha256%3A{}", image.manifest),
        &[],
    );
    assert_eq!((s, sha256_hex(&body)), (200, image.manifest.clone()));

    let (s, _, body) = curl(&format!("{base}{REPO}/tags/list"), &[]);
    assert_eq!(s, 200);
    let tags: serde_json::Value = serde_json::from_slice(&body).expect("tags");
    assert_eq!(
        tags,
        serde_json::json!({"name": REPO, "tags": ["3.2.1", "latest"]})
    );
    let (_, head, body) = curl(&format!("{base}{REPO}/tags/list?n=1"), &[]);
    let page: serde_json::Value = serde_json::from_slice(&body).expect("tags");
    assert_eq!(page["tags"], serde_json::json!(["3.2.1"]));
    assert!(header(&head, "link").is_some_and(|l| l.contains("last=3.2.1")));

    let layer = &image.layers[1];
    let blob = format!("{base}{REPO}/blobs/sha256:{layer}");
    let (s, head, body) = curl(&blob, &[]);
    assert_eq!((s, sha256_hex(&body)), (200, layer.clone()));
    assert_eq!(
        header(&head, "docker-content-digest"),
        Some(format!("sha256:{layer}").as_str())
    );
    let (s, head, body) = curl(&blob, &["-r", "1000-1999"]);
    assert_eq!((s, body.len()), (206, 1000));
    assert!(header(&head, "content-range").is_some_and(|r| r.starts_with("bytes 1000-1999/")));
    let (s, head, body) = curl(&blob, &["-I"]);
    assert_eq!((s, body.len()), (200, 0));
    assert!(header(&head, "content-length").is_some_and(|l| l.parse::<u64>().unwrap() > 2_600_000));
    assert_eq!(curl(&blob, &["-r", "999999999-"]).0, 416);
}

#[test]
fn unknown_names_and_writes_get_oci_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let image = build_image(&tmp.path().join("vendor.oci"), 3);
    let server = serve(&image);
    let base = format!("http://{}/v2/", server.addr());
    let zero = "0".repeat(64);
    for (path, status, code) in [
        ("novantra/other/manifests/3.2.1", 404, "NAME_UNKNOWN"),
        ("novantra/onprem/manifests/9.9.9", 404, "MANIFEST_UNKNOWN"),
        (
            &format!("{REPO}/manifests/sha256:{zero}") as &str,
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            &format!("{REPO}/manifests/sha256:{}", image.layers[1]),
            404,
            "MANIFEST_UNKNOWN",
        ),
        (&format!("{REPO}/blobs/sha256:{zero}"), 404, "BLOB_UNKNOWN"),
        (
            &format!("novantra/x/blobs/sha256:{}", image.layers[0]),
            404,
            "NAME_UNKNOWN",
        ),
        ("novantra/other/tags/list", 404, "NAME_UNKNOWN"),
        (&format!("{REPO}/blobs/sha256:ABC"), 400, "DIGEST_INVALID"),
        ("Novantra/onprem/tags/list", 400, "NAME_INVALID"),
    ] {
        let (s, head, body) = curl(&format!("{base}{path}"), &[]);
        assert_eq!((s, error_code(&body).as_str()), (status, code), "{path}");
        assert_eq!(header(&head, "content-type"), Some("application/json"));
    }
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let (s, head, body) = curl(&format!("{base}{REPO}/blobs/uploads/"), &["-X", method]);
        assert_eq!(
            (s, error_code(&body).as_str()),
            (405, "UNSUPPORTED"),
            "{method}"
        );
        assert_eq!(header(&head, "allow"), Some("GET, HEAD"));
    }
}

#[test]
fn damaged_blobs_are_never_served_as_valid() {
    let tmp = tempfile::tempdir().expect("tmp");
    let image = build_image(&tmp.path().join("vendor.oci"), 4);
    let server = serve(&image);
    let base = format!("http://{}/v2/{REPO}/", server.addr());
    let flip = |hex: &str, at: usize| {
        let p = image.dir.join("blobs/sha256").join(hex);
        let mut b = std::fs::read(&p).expect("blob");
        b[at] ^= 1;
        std::fs::write(&p, b).expect("write");
    };
    // A manifest is hashed before it is answered.
    flip(&image.manifest, 10);
    let (s, _, body) = curl(&format!("{base}manifests/3.2.1"), &[]);
    assert_eq!(s, 500);
    assert!(String::from_utf8_lossy(&body).contains("damaged"));
    flip(&image.manifest, 10); // mended: the layers are next
    assert_eq!(curl(&format!("{base}manifests/3.2.1"), &[]).0, 200);
    // A layer flipped in its first chunk (of three), and a small one:
    // the body stops short of its length, so no client holds the blob.
    flip(&image.layers[1], 5);
    flip(&image.layers[0], 600);
    for layer in &image.layers {
        let blob = format!("{base}blobs/sha256:{layer}");
        ferry_tests::http::assert_cut_short(&blob);
    }
    if have("skopeo") {
        let dest = tmp.path().join("pulled");
        let out = program("skopeo")
            .args(["copy", "--retry-times=0", "--src-tls-verify=false"])
            .arg(format!(
                "docker://{}/{REPO}@sha256:{}",
                server.addr(),
                image.manifest
            ))
            .arg(format!("oci:{}:x", dest.display()))
            .run();
        assert_ne!(out.code, 0, "skopeo refuses: {}", out.stderr);
        assert!(!dest.join("index.json").exists(), "skopeo got no image");
    }
}
