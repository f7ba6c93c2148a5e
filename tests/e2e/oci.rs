//! Container images (issue 12, SPEC §3.12), the connected side: `ferry
//! sync` pulls an image pinned by a signed vendor index from Debian's
//! `docker-registry` (filled by `skopeo copy` from a layout ferry-oci
//! builds), anonymously and behind a bearer-token gate; the workspace
//! holds an OCI image layout whose root is the pinned digest, and the
//! signed bundle verifies. A registry that serves wrong bytes, another
//! manifest, a blob longer than its descriptor or an endless blob is
//! refused with exit 1 naming the blob, and nothing unverified is kept.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ferry_oci::image::{ImageSpec, build};
use ferry_oci::layout::LayoutWriter;
use ferry_oci::{Descriptor, Digest};
use ferry_tests::http::{Fault, Server};
use ferry_tests::{cmd, demo_key, have};

const REPO: &str = "novantra/onprem";
const TAG: &str = "3.2.1";

fn ferry() -> ferry_tests::Run {
    cmd("ferry").env("NO_PROXY", "127.0.0.1,localhost")
}

/// A small deterministic image: two layers and a config, under an index
/// for linux-amd64 when `with_index`.
fn image_layout(dir: &Path, with_index: bool) -> (PathBuf, Descriptor) {
    let layout = dir.join("image.oci");
    let w = LayoutWriter::create(&layout).unwrap();
    let spec = ImageSpec {
        platform: "linux-amd64".parse().unwrap(),
        layers: vec![
            vec![(
                "etc/novantra/base.txt".into(),
                ferry_tests::det_bytes(1, 40_000),
            )],
            vec![(
                "opt/novantra/onprem".into(),
                ferry_tests::det_bytes(2, 120_000),
            )],
        ],
        with_index,
    };
    let root = build(&w, &spec).unwrap();
    w.finish(&root, TAG).unwrap();
    (layout, root)
}

/// A child process killed (by its own id) when dropped.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's docker-registry on 127.0.0.1 with storage in `dir`.
fn start_registry(dir: &Path) -> (Proc, String) {
    start_registry_tls(dir, None)
}

/// The same, serving HTTPS with `(certificate, key)` when given.
fn start_registry_tls(dir: &Path, tls: Option<(&Path, &Path)>) -> (Proc, String) {
    let port = free_port();
    let config = dir.join("registry.yml");
    let mut yml = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("registry-store").display()
    );
    if let Some((cert, key)) = tls {
        yml.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ));
    }
    std::fs::write(&config, yml).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Proc(child);
    let host = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if TcpStream::connect(&host).is_ok() {
            return (proc, host);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("docker-registry did not start on {host}");
}

/// `skopeo --insecure-policy copy ARGS… FROM TO`, which must succeed.
fn skopeo_copy(args: &[&str], from: &str, to: &str) {
    ferry_tests::program("skopeo")
        .args(["--insecure-policy", "copy"])
        .args(args)
        .args([from, to])
        .run()
        .ok();
}

fn push(layout: &Path, host: &str) {
    skopeo_copy(
        &["--all", "--preserve-digests", "--dest-tls-verify=false"],
        &format!("oci:{}:{TAG}", layout.display()),
        &format!("docker://{host}/{REPO}:{TAG}"),
    );
}

/// The vendor folder: one release with the image, built into a signed
/// index served on 127.0.0.1.
fn vendor(dir: &Path, layout: &Path, image: &str) -> (Server, PathBuf) {
    let src = dir.join("vendor-src");
    let rel = src.join(TAG);
    std::fs::create_dir_all(rel.join("no-training")).unwrap();
    std::fs::write(src.join("product.toml"), "product = \"novantra\"\n").unwrap();
    copy_dir(layout, &rel.join("no-training/onprem.oci"));
    std::fs::write(rel.join("NOTES.md"), "# novantra 3.2.1\n").unwrap();
    std::fs::write(
        rel.join("release.toml"),
        format!(
            "channels = [\"stable\"]\npublished = \"2026-11-01T00:00:00Z\"\n\n[[artifacts]]\nfile = \"onprem\"\nprofile = \"no-training\"\nplatform = \"linux-amd64\"\nformat = \"oci\"\nimage = \"{image}\"\ntag = \"{TAG}\"\nlayout = \"onprem.oci\"\n"
        ),
    )
    .unwrap();
    let web = dir.join("web");
    ferry()
        .args(["index", "build", "--from"])
        .arg(&src)
        .arg("--key")
        .arg(demo_key("vendor"))
        .arg("--out")
        .arg(&web)
        .args(["--generated", "2026-11-20T00:00:00Z"])
        .run()
        .ok();
    // The connected side's policy of the sync tests (vendor minisign
    // required, 2 of org1/org2).
    let policy = super::sync::policy(dir);
    (Server::start(&web), policy)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn sync(web: &Server, policy: &Path, ws: &Path, registry: &str) -> ferry_tests::Output {
    super::mirror::sync_cmd(&web.url("index.json"), policy, ws)
        .args(["--registry-http", registry, "--retries", "0"])
        .run()
}

fn tools() -> bool {
    let ok = have("skopeo") && have("docker-registry");
    if !ok {
        eprintln!(
            "skipped: the image tests need skopeo and docker-registry (scripts/ci.sh installs them)"
        );
    }
    ok
}

/// The workspace's layout: its root digest, and every blob intact (walked
/// by ferry-oci from the pinned digest).
fn check_workspace_image(ws: &Path, pinned: &Digest) {
    let dir = ws.join(format!("releases/{TAG}/no-training/onprem.oci"));
    let layout = ferry_oci::Layout::open(&dir).unwrap();
    assert_eq!(&layout.root(Some(TAG)).unwrap().digest, pinned);
    ferry_oci::walk(
        &layout,
        pinned,
        &"linux-amd64".parse().unwrap(),
        &mut ferry_oci::walk::discard,
    )
    .unwrap();
}

/// An image layout (`with_index`: an image index over its manifest) pushed
/// to a fresh `docker-registry`, a vendor index pinning it, and a
/// workspace synced from both, checked to hold the pinned image.
struct Synced {
    layout: PathBuf,
    root: Descriptor,
    _registry: Proc,
    host: String,
    web: Server,
    policy: PathBuf,
    ws: PathBuf,
}

fn synced(dir: &Path, with_index: bool) -> Synced {
    let (layout, root) = image_layout(dir, with_index);
    let (registry, host) = start_registry(dir);
    push(&layout, &host);
    let (web, policy) = vendor(dir, &layout, &format!("{host}/{REPO}"));
    let ws = dir.join("ws");
    sync(&web, &policy, &ws, &host).ok();
    check_workspace_image(&ws, &root.digest);
    Synced {
        layout,
        root,
        _registry: registry,
        host,
        web,
        policy,
        ws,
    }
}

#[test]
fn sync_pulls_an_image_by_digest_from_docker_registry_and_the_bundle_verifies() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Synced {
        layout: _layout,
        root,
        _registry,
        host,
        web,
        policy,
        ws,
    } = synced(tmp.path(), true);
    // The signature over the image's root was checked and kept beside it.
    assert!(
        ws.join(format!("releases/{TAG}/no-training/onprem.oci.minisig"))
            .is_file()
    );
    // A second sync finds everything in place.
    let again = sync(&web, &policy, &ws, &host).ok().json_or_text();
    assert!(
        again.contains("already present") || again.contains("present"),
        "{again}"
    );

    // Signed and packed, the bundle verifies: every file hashed, the image
    // walked from its pinned digest.
    for k in ["org1", "org2"] {
        ferry()
            .args(["sign", "--workspace"])
            .arg(&ws)
            .arg("--key")
            .arg(demo_key(k))
            .run()
            .ok();
    }
    let bundle = tmp.path().join("bundle.tar");
    ferry()
        .args(["pack", "--workspace"])
        .arg(&ws)
        .arg("--out")
        .arg(&bundle)
        .run()
        .ok();
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(&bundle)
        .arg("--trust")
        .arg(&policy)
        .run()
        .ok();
    // The dir carrier too (files checked in parallel, any order).
    let dir_bundle = tmp.path().join("bundle-dir");
    ferry()
        .args(["pack", "--format", "dir", "--workspace"])
        .arg(&ws)
        .arg("--out")
        .arg(&dir_bundle)
        .run()
        .ok();
    let report = cmd("ferry-verify")
        .args(["--json", "report"])
        .arg(&dir_bundle)
        .arg("--trust")
        .arg(&policy)
        .run()
        .ok()
        .json();
    // The image's provenance row is its root blob: the pinned digest,
    // with the vendor signature checked over it.
    let row = &report["artifacts"][0];
    assert_eq!(row["sha256"], root.digest.hex().as_str(), "{report}");
    assert!(
        row["checked_offline"].to_string().contains("minisign"),
        "{report}"
    );
    // inspect counts an image's bytes: every file of its layout.
    let inspected = cmd("ferry-verify")
        .args(["--json", "inspect"])
        .arg(&dir_bundle)
        .run()
        .ok()
        .json();
    let bytes = inspected["bundles"][0]["releases"][0]["bytes"]
        .as_u64()
        .unwrap();
    assert!(bytes > 160_000, "{inspected}");
}

trait TextOf {
    fn json_or_text(&self) -> String;
}
impl TextOf for ferry_tests::Output {
    fn json_or_text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

#[test]
fn a_bundle_whose_image_is_not_intact_is_refused_naming_the_blob() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Synced {
        layout: _layout,
        root,
        _registry,
        host: _host,
        web: _web,
        policy,
        ws,
    } = synced(tmp.path(), false);
    // The transfer side drops a layer from the workspace (file and state):
    // the manifest it then signs is consistent, the image is not.
    let dir = ws.join(format!("releases/{TAG}/no-training/onprem.oci"));
    let l = ferry_oci::Layout::open(&dir).unwrap();
    let reached = ferry_oci::walk(
        &l,
        &root.digest,
        &"linux-amd64".parse().unwrap(),
        &mut ferry_oci::walk::discard,
    )
    .unwrap();
    let layer = reached
        .iter()
        .rfind(|r| r.role == ferry_oci::BlobRole::Layer)
        .unwrap();
    let ws2 = tmp.path().join("ws2");
    copy_dir(&ws, &ws2);
    std::fs::remove_file(dir.join(ferry_oci::layout::blob_path(&layer.digest))).unwrap();
    edit_state(&ws, |files| {
        files.retain(|f| !f["path"].as_str().unwrap().ends_with(&layer.digest.hex()));
    });
    sign_pack_verify(&ws, &policy, &tmp.path().join("bundle.tar"))
        .expect_code(1)
        .stderr_has(&[&layer.digest.hex(), "not intact"]);

    // The layout's index.json names another root than the pinned one.
    let config = reached
        .iter()
        .find(|r| r.role == ferry_oci::BlobRole::Config)
        .unwrap();
    let index = ferry_oci::layout::LayoutIndex::single(
        &Descriptor::new(ferry_oci::media::OCI_MANIFEST, config.digest, config.size),
        TAG,
    )
    .to_bytes();
    let rel = format!("releases/{TAG}/no-training/onprem.oci/index.json");
    std::fs::write(ws2.join(&rel), &index).unwrap();
    edit_state(&ws2, |files| {
        for f in files.iter_mut().filter(|f| f["path"] == rel.as_str()) {
            f["size"] = index.len().into();
            f["sha256"] = ferry_tests::sha256_hex(&index).into();
        }
    });
    sign_pack_verify(&ws2, &policy, &tmp.path().join("bundle2.tar"))
        .expect_code(1)
        .stderr_has(&[&rel, &root.digest.to_string()]);
}

fn edit_state(ws: &Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let state_path = ws.join(".ferry/state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    edit(state["files"].as_array_mut().unwrap());
    std::fs::write(&state_path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

fn sign_pack_verify(ws: &Path, policy: &Path, bundle: &Path) -> ferry_tests::Output {
    for k in ["org1", "org2"] {
        ferry()
            .args(["sign", "--workspace"])
            .arg(ws)
            .arg("--key")
            .arg(demo_key(k))
            .run()
            .ok();
    }
    ferry()
        .args(["pack", "--workspace"])
        .arg(ws)
        .arg("--out")
        .arg(bundle)
        .run()
        .ok();
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(bundle)
        .arg("--trust")
        .arg(policy)
        .run()
}

/// A gate in front of the registry: `401` with a Bearer challenge unless
/// the request carries the token `/token` hands out.
fn start_token_gate(registry: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let me = listener.local_addr().unwrap().to_string();
    let registry = registry.to_string();
    let realm = format!("http://{me}/token");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let registry = registry.clone();
            let realm = realm.clone();
            std::thread::spawn(move || {
                let _ = gate(stream, &registry, &realm);
            });
        }
    });
    me
}

const TOKEN: &str = "test-token-7f3a";

fn gate(mut client: TcpStream, registry: &str, realm: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut authorized = false;
    let mut first = String::new();
    reader.read_line(&mut first)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("authorization:") && h.contains(&format!("Bearer {TOKEN}")) {
            authorized = true;
        }
        if lower.starts_with("connection:") {
            continue;
        }
        head.push(h);
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    if path.starts_with("/token") {
        let ok = path.contains("scope=repository%3Anovantra%2Fonprem%3Apull")
            && path.contains("service=gate");
        let body = if ok {
            format!("{{\"access_token\":\"{TOKEN}\"}}")
        } else {
            String::new()
        };
        let status = if ok { "200 OK" } else { "403 Forbidden" };
        return write!(
            client,
            "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
    }
    if !authorized {
        return write!(
            client,
            "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"gate\",scope=\"repository:{REPO}:pull\"\r\n\r\n"
        );
    }
    let mut upstream = TcpStream::connect(registry)?;
    upstream.write_all(first.as_bytes())?;
    for h in head {
        upstream.write_all(h.as_bytes())?;
    }
    upstream.write_all(b"Connection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    upstream.read_to_end(&mut buf)?;
    client.write_all(&buf)
}

#[test]
fn sync_answers_a_bearer_token_challenge() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (layout, root) = image_layout(tmp.path(), true);
    let (_registry, host) = start_registry(tmp.path());
    push(&layout, &host);
    let gate = start_token_gate(&host);
    let (web, policy) = vendor(tmp.path(), &layout, &format!("{gate}/{REPO}"));
    let ws = tmp.path().join("ws");
    sync(&web, &policy, &ws, &gate).ok();
    check_workspace_image(&ws, &root.digest);
}

/// A registry of static files (`v2/<repo>/manifests|blobs/<digest>`) that
/// misbehaves on demand, holding the image of `layout`.
fn bad_registry(dir: &Path, layout: &Path) -> Server {
    let root = dir.join("bad-registry");
    let v2 = root.join("v2").join(REPO);
    std::fs::create_dir_all(v2.join("manifests")).unwrap();
    std::fs::create_dir_all(v2.join("blobs")).unwrap();
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = format!("sha256:{}", e.file_name().to_string_lossy());
        let bytes = std::fs::read(e.path()).unwrap();
        std::fs::write(v2.join("blobs").join(&name), &bytes).unwrap();
        if bytes.first() == Some(&b'{') {
            std::fs::write(v2.join("manifests").join(&name), &bytes).unwrap();
        }
    }
    Server::start(&root)
}

/// No file of the workspace (partial downloads included) holds bytes
/// other than its name says: every `blobs/sha256/<hex>` hashes to `<hex>`.
fn nothing_unverified(ws: &Path, blob: &Digest) {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push(e.path());
                }
            }
        }
    }
    let mut files = Vec::new();
    walk(ws, &mut files);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.contains(&blob.hex()),
            "{} kept after the refusal",
            f.display()
        );
    }
}

fn refused(layout_dir: &Path, fault: impl FnOnce(&Server, &Path) -> Digest) {
    let tmp = tempfile::tempdir().unwrap();
    let server = bad_registry(tmp.path(), layout_dir);
    let host = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let bad = fault(&server, &tmp.path().join("bad-registry/v2").join(REPO));
    let (web, policy) = vendor(tmp.path(), layout_dir, &format!("{host}/{REPO}"));
    let ws = tmp.path().join("ws");
    let out = sync(&web, &policy, &ws, &host);
    out.expect_code(1).stderr_has(&[&bad.hex()]);
    nothing_unverified(&ws, &bad);
    assert!(
        !ws.join(format!("releases/{TAG}/no-training/onprem.oci/index.json"))
            .exists()
    );
}

fn blobs_of(layout: &Path, root: &Descriptor) -> Vec<ferry_oci::Reached> {
    let l = ferry_oci::Layout::open(layout).unwrap();
    ferry_oci::walk(
        &l,
        &root.digest,
        &"linux-amd64".parse().unwrap(),
        &mut ferry_oci::walk::discard,
    )
    .unwrap()
}

#[test]
fn a_registry_serving_bad_bytes_is_refused_naming_the_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, root) = image_layout(tmp.path(), true);
    let reached = blobs_of(&layout, &root);
    let layer = reached
        .iter()
        .rfind(|r| r.role == ferry_oci::BlobRole::Layer)
        .unwrap()
        .digest;
    let config = reached
        .iter()
        .find(|r| r.role == ferry_oci::BlobRole::Config)
        .unwrap()
        .digest;

    // One wrong byte in a layer.
    refused(&layout, |_, v2| {
        let p = v2.join("blobs").join(format!("sha256:{}", layer.hex()));
        let mut b = std::fs::read(&p).unwrap();
        b[1000] ^= 1;
        std::fs::write(&p, b).unwrap();
        layer
    });
    // A manifest whose digest differs from the pinned one: the registry
    // answers the pinned digest with other (well-formed) bytes.
    refused(&layout, |_, v2| {
        let p = v2
            .join("manifests")
            .join(format!("sha256:{}", root.digest.hex()));
        let mut b = std::fs::read(&p).unwrap();
        b.extend_from_slice(b" ");
        std::fs::write(&p, b).unwrap();
        root.digest
    });
    // A blob larger than its descriptor (no Content-Length).
    refused(&layout, |s, _| {
        s.fault(
            &format!("v2/{REPO}/blobs/sha256:{}", config.hex()),
            Fault::ExtraBytes(10),
        );
        config
    });
    // An endless blob.
    refused(&layout, |s, _| {
        s.fault(
            &format!("v2/{REPO}/blobs/sha256:{}", layer.hex()),
            Fault::Endless,
        );
        layer
    });
}

#[test]
fn sync_pulls_over_https_with_ca_cert() {
    if !tools() || !have("openssl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ferry_tests::tls::private_ca(d);
    let (layout, root) = image_layout(d, true);
    let (_registry, host) = start_registry_tls(d, Some((&d.join("srv.pem"), &d.join("srv.key"))));
    push(&layout, &host);
    let (web, policy) = vendor(d, &layout, &format!("{host}/{REPO}"));
    let run = |ws: &Path, ca: bool| {
        let mut c = ferry()
            .args(["sync", "--index", &web.url("index.json"), "--trust"])
            .arg(&policy)
            .args([
                "--channel",
                "stable",
                "--profile",
                "no-training",
                "--retries",
                "0",
                "--workspace",
            ])
            .arg(ws);
        if ca {
            c = c.arg("--ca-cert").arg(d.join("ca.pem"));
        }
        c.run()
    };
    // The registry's certificate is not trusted without the CA: exit 3.
    run(&d.join("ws-no-ca"), false)
        .expect_code(3)
        .stderr_has(&["certificate not trusted", "--ca-cert"]);
    let ws = d.join("ws");
    run(&ws, true).ok();
    check_workspace_image(&ws, &root.digest);
}

#[test]
fn an_interrupted_layer_is_resumed_with_range() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, root) = image_layout(tmp.path(), false);
    let reached = blobs_of(&layout, &root);
    let layer = reached
        .iter()
        .filter(|r| r.role == ferry_oci::BlobRole::Layer)
        .max_by_key(|r| r.size)
        .unwrap();
    let server = bad_registry(tmp.path(), &layout);
    let host = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let path = format!("v2/{REPO}/blobs/sha256:{}", layer.digest.hex());
    server.fault(&path, Fault::DropAfter(50_000));
    let (web, policy) = vendor(tmp.path(), &layout, &format!("{host}/{REPO}"));
    let ws = tmp.path().join("ws");
    // The connection drops mid-layer: a network error (exit 3), the
    // verified-so-far bytes kept for a resume.
    sync(&web, &policy, &ws, &host).expect_code(3);
    sync(&web, &policy, &ws, &host).ok();
    check_workspace_image(&ws, &root.digest);
    let asked = server.requests_for(&path);
    assert_eq!(
        asked.last().unwrap().range.as_deref(),
        Some("bytes=50000-"),
        "{asked:?}"
    );
}

#[test]
fn sync_pulls_a_docker_schema2_image() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (layout, _) = image_layout(d, false);
    let (_registry, host) = start_registry(d);
    // The registry holds the image as Docker schema 2 (skopeo converts);
    // the vendor's layout is that image, digests preserved.
    skopeo_copy(
        &["--format", "v2s2", "--dest-tls-verify=false"],
        &format!("oci:{}:{TAG}", layout.display()),
        &format!("docker://{host}/{REPO}:{TAG}"),
    );
    let docker_layout = d.join("docker.oci");
    skopeo_copy(
        &["--preserve-digests", "--src-tls-verify=false"],
        &format!("docker://{host}/{REPO}:{TAG}"),
        &format!("oci:{}:{TAG}", docker_layout.display()),
    );
    let root = ferry_oci::Layout::open(&docker_layout)
        .unwrap()
        .root(Some(TAG))
        .unwrap()
        .clone();
    assert_eq!(root.media_type, ferry_oci::media::DOCKER_MANIFEST);
    let (web, policy) = vendor(d, &docker_layout, &format!("{host}/{REPO}"));
    let ws = d.join("ws");
    sync(&web, &policy, &ws, &host).ok();
    check_workspace_image(&ws, &root.digest);
    // A workspace file changed since is never replaced silently.
    let manifest = ws.join(format!(
        "releases/{TAG}/no-training/onprem.oci/blobs/sha256/{}",
        root.digest.hex()
    ));
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes.push(b'\n');
    std::fs::write(&manifest, &bytes).unwrap();
    sync(&web, &policy, &ws, &host)
        .expect_code(1)
        .stderr_has(&[&root.digest.hex(), "never replaces it silently"]);
    assert_eq!(std::fs::read(&manifest).unwrap(), bytes);
}

#[test]
fn an_oci_archive_is_read_by_skopeo_with_the_pinned_digest() {
    if !have("skopeo") {
        eprintln!("skipped: needs skopeo (scripts/ci.sh installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (layout, root) = image_layout(tmp.path(), true);
    let archive = tmp.path().join(format!("onprem-{TAG}.oci.tar"));
    let file = std::fs::File::create(&archive).unwrap();
    let l = ferry_oci::Layout::open(&layout).unwrap();
    ferry_oci::archive::write_archive(
        &l,
        &root.digest,
        &"linux-amd64".parse().unwrap(),
        TAG,
        std::io::BufWriter::new(file),
        &archive,
    )
    .unwrap();
    let out_dir = tmp.path().join("copied");
    skopeo_copy(
        &["--all", "--preserve-digests"],
        &format!("oci-archive:{}:{TAG}", archive.display()),
        &format!("oci:{}:{TAG}", out_dir.display()),
    );
    let copied = ferry_oci::Layout::open(&out_dir).unwrap();
    assert_eq!(copied.root(Some(TAG)).unwrap().digest, root.digest);
    ferry_oci::walk(
        &copied,
        &root.digest,
        &"linux-amd64".parse().unwrap(),
        &mut ferry_oci::walk::discard,
    )
    .unwrap();
}

#[test]
fn an_index_size_that_disagrees_with_the_registry_is_refused_before_any_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, root) = image_layout(tmp.path(), false);
    let server = bad_registry(tmp.path(), &layout);
    let host = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (web, policy) = vendor(tmp.path(), &layout, &format!("{host}/{REPO}"));
    // The vendor signs an index whose size is one byte off.
    let web_dir = tmp.path().join("web");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(web_dir.join("index.json")).unwrap()).unwrap();
    let size = index["releases"][0]["artifacts"][0]["size"]
        .as_u64()
        .unwrap();
    index["releases"][0]["artifacts"][0]["size"] = (size + 1).into();
    let bytes = serde_json::to_vec(&index).unwrap();
    let sig = ferry_tests::fixtures::secret("vendor")
        .sign(
            &bytes[..],
            "timestamp:1795000000\tfile:index.json\tproduct:novantra",
        )
        .unwrap();
    std::fs::write(web_dir.join("index.json"), &bytes).unwrap();
    std::fs::write(web_dir.join("index.json.minisig"), sig).unwrap();
    let ws = tmp.path().join("ws");
    sync(&web, &policy, &ws, &host)
        .expect_code(1)
        .stderr_has(&[&root.digest.to_string(), &format!("{}", size + 1)]);
    let layers: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/blobs/"))
        .collect();
    assert!(layers.is_empty(), "no blob is fetched: {layers:?}");
}
