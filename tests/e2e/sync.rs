//! `ferry sync` and `ferry sign` (issue 3) against a real HTTP server on
//! 127.0.0.1 that misbehaves on demand (`ferry_tests::http`).

use std::path::{Path, PathBuf};

use ferry_tests::http::{Fault, Server};
use ferry_tests::{cmd, demo_key, demo_pub, det_bytes, have, program, sha256_hex};

const AMD64: &str = "1.0.0/no-training/novantra_1.0.0_amd64.deb";
const ART_SIZE: usize = 300_000;

/// `ferry`, never through a proxy (the tests only talk to 127.0.0.1).
fn ferry() -> ferry_tests::Run {
    cmd("ferry").env("NO_PROXY", "127.0.0.1,localhost")
}

/// Says why a check was skipped (a tool is missing on this machine).
#[allow(clippy::print_stderr)]
fn skip(msg: &str) {
    eprintln!("{msg}");
}

/// The sample vendor: stable 1.0.0 and 1.2.0 (no-training and default
/// profiles, two platforms), a yanked 1.1.0, a preview-only 2.0.0-rc.1.
fn vendor_src(dir: &Path, extra_release: Option<&str>, yank_120: bool) -> PathBuf {
    let src = dir.join("vendor-src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("product.toml"), "product = \"novantra\"\n").unwrap();
    let mut releases = vec![
        ("1.0.0", "[\"stable\"]", None),
        ("1.1.0", "[\"stable\"]", Some("broken migration")),
        (
            "1.2.0",
            "[\"preview\", \"stable\"]",
            yank_120.then_some("pulled in a test"),
        ),
        ("2.0.0-rc.1", "[\"preview\"]", None),
    ];
    if let Some(v) = extra_release {
        releases.push((v, "[\"stable\"]", None));
    }
    for (seed, (version, channels, yanked)) in releases.into_iter().enumerate() {
        let d = src.join(version);
        std::fs::create_dir_all(d.join("no-training")).unwrap();
        std::fs::create_dir_all(d.join("default")).unwrap();
        let mut toml = format!("channels = {channels}\npublished = \"2026-11-01T00:00:00Z\"\n");
        if let Some(y) = yanked {
            toml.push_str(&format!("yanked = \"{y}\"\n"));
        }
        let files = [
            (
                "no-training",
                format!("novantra_{version}_amd64.deb"),
                "linux-amd64",
            ),
            (
                "no-training",
                format!("novantra_{version}_arm64.deb"),
                "linux-arm64",
            ),
            (
                "default",
                format!("novantra-full_{version}_amd64.deb"),
                "linux-amd64",
            ),
        ];
        for (i, (profile, name, platform)) in files.iter().enumerate() {
            let seed = (seed * 10 + i) as u64;
            std::fs::write(d.join(profile).join(name), det_bytes(seed, ART_SIZE + i)).unwrap();
            toml.push_str(&format!(
                "[[artifacts]]\nfile = \"{name}\"\nprofile = \"{profile}\"\nplatform = \"{platform}\"\nformat = \"deb\"\n"
            ));
        }
        std::fs::write(d.join("release.toml"), toml).unwrap();
        std::fs::write(d.join("NOTES.md"), format!("# novantra {version}\n")).unwrap();
    }
    src
}

fn build_web(dir: &Path, src: &Path) -> PathBuf {
    let web = dir.join("web");
    ferry()
        .args(["index", "build", "--from"])
        .arg_path(src)
        .args(["--key"])
        .arg_path(&demo_key("vendor"))
        .args(["--out"])
        .arg_path(&web)
        .args(["--generated", "2026-11-20T00:00:00Z"])
        .run()
        .ok();
    web
}

/// The connected side's trust policy: vendor minisign required, 2 of
/// org1/org2.
pub(crate) fn policy(dir: &Path) -> PathBuf {
    let p = dir.join("ferry-trust.toml");
    std::fs::write(
        &p,
        format!(
            "product = \"novantra\"\n\n[vendor]\nminisign_keys = [\"{}\"]\nrequire = [\"minisign\"]\n\n[transfer]\nkeys = [\"{}\", \"{}\"]\nthreshold = 2\nmax_validity = \"45d\"\n",
            demo_pub("vendor").display(),
            demo_pub("org1").display(),
            demo_pub("org2").display()
        ),
    )
    .unwrap();
    p
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    web: PathBuf,
    server: Server,
    trust: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let src = vendor_src(&dir, None, false);
    let web = build_web(&dir, &src);
    let server = Server::start(&web);
    let trust = policy(&dir);
    Setup {
        _tmp: tmp,
        dir,
        web,
        server,
        trust,
    }
}

impl Setup {
    fn sync(&self, ws: &Path, extra: &[&str]) -> ferry_tests::Output {
        ferry()
            .args(["sync", "--index", &self.server.url("index.json"), "--trust"])
            .arg_path(&self.trust)
            .args([
                "--channel",
                "stable",
                "--profile",
                "no-training",
                "--workspace",
            ])
            .arg_path(ws)
            .args(extra)
            .run()
    }
}

trait ArgPath {
    fn arg_path(self, p: &Path) -> Self;
}

impl ArgPath for ferry_tests::Run {
    fn arg_path(self, p: &Path) -> Self {
        self.args([p.as_os_str()])
    }
}

/// Every file of the workspace outside `.ferry/`, relative, sorted.
fn listing(ws: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".ferry" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    if ws.exists() {
        walk(ws, ws, &mut out);
    }
    out.sort();
    out
}

fn sign(ws: &Path, key: &str) -> ferry_tests::Output {
    ferry()
        .args(["sign", "--workspace"])
        .arg_path(ws)
        .args(["--key"])
        .arg_path(&demo_key(key))
        .run()
}

fn key_id(name: &str) -> String {
    let text = std::fs::read_to_string(demo_pub(name)).unwrap();
    text.lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string()
}

fn sha256sum_check(ws: &Path) {
    if !have("sha256sum") {
        skip("SKIP sha256sum -c: sha256sum is not installed");
        return;
    }
    program("sha256sum")
        .args(["--quiet", "--strict", "-c", "ferry/SHA256SUMS"])
        .current_dir(ws)
        .run()
        .ok();
}

fn expected_files() -> Vec<String> {
    let mut v = Vec::new();
    for version in ["1.0.0", "1.2.0"] {
        v.push(format!("releases/{version}/NOTES.md"));
        for arch in ["amd64", "arm64"] {
            let a = format!("releases/{version}/no-training/novantra_{version}_{arch}.deb");
            v.push(format!("{a}.minisig"));
            v.push(a);
        }
    }
    v.sort();
    v
}

#[test]
fn sync_takes_exactly_stable_no_training_and_sign_cosign_verify() {
    let s = setup();
    let ws = s.dir.join("ws");
    let out = s.sync(&ws, &["--json"]);
    out.ok();
    let j = out.json();
    assert_eq!(j["type"], "sync");
    assert_eq!(j["files"], 10);
    assert_eq!(listing(&ws), expected_files());
    // Nothing outside the selection was even requested.
    for r in s.server.requests() {
        assert!(
            !r.path.contains("/default/") && !r.path.contains("1.1.0") && !r.path.contains("2.0.0"),
            "unexpected request {r:?}"
        );
    }
    // Every file is the vendor's.
    for f in expected_files() {
        let rel = f.strip_prefix("releases/").unwrap();
        assert_eq!(
            std::fs::read(ws.join(&f)).unwrap(),
            std::fs::read(s.web.join(rel)).unwrap(),
            "{f}"
        );
    }

    // Re-running checks what is there and downloads nothing.
    let before = s.server.requests().len();
    let again = s.sync(&ws, &["--json"]);
    again.ok();
    assert_eq!(again.json()["downloaded"], 0);
    assert_eq!(again.json()["present"], 10);
    let artifact_requests = s.server.requests()[before..]
        .iter()
        .filter(|r| r.path.ends_with(".deb"))
        .count();
    assert_eq!(artifact_requests, 0);

    // Sign, then co-sign: one manifest, two signatures.
    sign(&ws, "org1").ok();
    let manifest = std::fs::read(ws.join("ferry/manifest.json")).unwrap();
    sha256sum_check(&ws);
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["files"][0]["path"], "ferry/SHA256SUMS");
    let paths: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        &paths[1..5],
        &[
            "releases/1.0.0/NOTES.md",
            "releases/1.0.0/no-training/novantra_1.0.0_amd64.deb.minisig",
            "releases/1.0.0/no-training/novantra_1.0.0_amd64.deb",
            "releases/1.0.0/no-training/novantra_1.0.0_arm64.deb.minisig",
        ]
    );
    assert_eq!(
        m["releases"][0]["artifacts"][0]["upstream"][0]["key_id"],
        key_id("vendor")
    );
    let co = sign(&ws, "org2");
    co.ok().stdout_has(&["co-signed"]);
    assert_eq!(
        std::fs::read(ws.join("ferry/manifest.json")).unwrap(),
        manifest
    );
    let mut sigs: Vec<String> = std::fs::read_dir(ws.join("ferry/signatures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    sigs.sort();
    let mut want = vec![
        format!("{}.minisig", key_id("org1")),
        format!("{}.minisig", key_id("org2")),
    ];
    want.sort();
    assert_eq!(sigs, want);

    if have("minisign") {
        for k in ["org1", "org2"] {
            program("minisign")
                .args(["-Vm", "ferry/manifest.json", "-x"])
                .args([format!("ferry/signatures/{}.minisig", key_id(k))])
                .args(["-p"])
                .arg_path(&demo_pub(k))
                .current_dir(&ws)
                .run()
                .ok();
        }
    } else {
        skip("SKIP minisign -Vm: the minisign CLI is not installed");
    }

    // A file changed after signing: co-signing is refused, nothing re-issued.
    let victim = ws.join("releases/1.0.0/NOTES.md");
    std::fs::write(&victim, "# altered\n").unwrap();
    sign(&ws, "org1")
        .expect_code(1)
        .stderr_has(&["releases/1.0.0/NOTES.md", "changed"]);
    assert_eq!(
        std::fs::read(ws.join("ferry/manifest.json")).unwrap(),
        manifest
    );
}

#[test]
fn sequence_increases_and_yanks_after_a_new_sync() {
    let s = setup();
    let ws = s.dir.join("ws");
    s.sync(&ws, &[]).ok();
    let first = sign(&ws, "org1");
    first.ok();
    let m1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("ferry/manifest.json")).unwrap()).unwrap();
    let seq1 = m1["sequence"].as_u64().unwrap();

    // The vendor publishes 1.3.0 and pulls 1.2.0.
    let src = vendor_src(&s.dir, Some("1.3.0"), true);
    let _ = std::fs::remove_dir_all(&s.web);
    build_web(&s.dir, &src);
    s.sync(&ws, &[]).ok();
    assert!(!ws.join("ferry").exists(), "a stale manifest was kept");
    assert!(
        !ws.join("releases/1.2.0").exists(),
        "a yanked release was kept"
    );
    assert!(
        ws.join("releases/1.3.0/no-training/novantra_1.3.0_amd64.deb")
            .exists()
    );
    sign(&ws, "org1").ok();
    let m2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("ferry/manifest.json")).unwrap()).unwrap();
    let seq2 = m2["sequence"].as_u64().unwrap();
    assert!(seq2 > seq1, "{seq2} <= {seq1}");
    assert_eq!(m2["yanks"][0]["version"], "1.2.0");
    sha256sum_check(&ws);
}

#[test]
fn dropped_connection_resumes_with_a_range_request() {
    let s = setup();
    let ws = s.dir.join("ws");
    s.server.fault(AMD64, Fault::DropAfter(100_000));
    s.sync(&ws, &["--retries", "0", "--jobs", "1"])
        .expect_code(3)
        .stderr_has(&["novantra_1.0.0_amd64.deb"]);
    let target = "releases/1.0.0/no-training/novantra_1.0.0_amd64.deb";
    assert!(
        !listing(&ws)
            .iter()
            .any(|f| f.ends_with("amd64.deb") && f.contains("1.0.0"))
    );
    let partial = ws.join(".ferry/partial").join(format!("{target}.part"));
    assert!(partial.exists(), "the partial download was not kept");

    s.sync(&ws, &["--json"]).ok();
    let ranged: Vec<_> = s
        .server
        .requests_for(AMD64)
        .into_iter()
        .filter_map(|r| r.range)
        .collect();
    assert_eq!(ranged.len(), 1, "{:?}", s.server.requests_for(AMD64));
    assert!(
        ranged[0].starts_with("bytes=") && !ranged[0].starts_with("bytes=0-"),
        "{ranged:?}"
    );
    assert_eq!(listing(&ws), expected_files());
    assert_eq!(
        sha256_hex(&std::fs::read(ws.join(target)).unwrap()),
        sha256_hex(&std::fs::read(s.web.join(AMD64)).unwrap())
    );
    sign(&ws, "org1").ok();
    sha256sum_check(&ws);

    // A server that ignores Range: a fresh download (200) replaces the
    // partial; one that answers with a wrong Content-Range: never spliced,
    // started over on the retry.
    for (case, fault) in [
        ("ignore-range", Fault::IgnoreRange),
        ("bad-range", Fault::BadContentRange),
    ] {
        let w = s.dir.join(case);
        s.server.fault(AMD64, Fault::DropAfter(120_000));
        s.sync(&w, &["--retries", "0", "--jobs", "1"])
            .expect_code(3);
        s.server.fault(AMD64, fault);
        let out = s.sync(&w, &["--json"]);
        out.ok();
        assert_eq!(out.json()["resumed"], 0, "{case}");
        assert_eq!(
            sha256_hex(&std::fs::read(w.join(target)).unwrap()),
            sha256_hex(&std::fs::read(s.web.join(AMD64)).unwrap()),
            "{case}"
        );
        s.server.clear_faults();
    }

    // Server errors are environment errors (exit 3), retried first.
    s.server.fault(AMD64, Fault::Status(500));
    let n = s.server.requests_for(AMD64).len();
    s.sync(&s.dir.join("ws500"), &["--retries", "1"])
        .expect_code(3)
        .stderr_has(&["novantra_1.0.0_amd64.deb", "500"]);
    assert_eq!(s.server.requests_for(AMD64).len() - n, 2, "one retry");
    s.server.fault(AMD64, Fault::Status(404));
    s.sync(&s.dir.join("ws404"), &[])
        .expect_code(3)
        .stderr_has(&["novantra_1.0.0_amd64.deb", "404"]);
    s.server.clear_faults();

    // Within one run, a retry resumes too.
    let ws2 = s.dir.join("ws2");
    s.server.fault(AMD64, Fault::DropAfter(50_000));
    let n = s.server.requests_for(AMD64).len();
    s.sync(&ws2, &[]).ok();
    let later = &s.server.requests_for(AMD64)[n..];
    assert!(later.iter().any(|r| r.range.is_some()), "{later:?}");
}

/// Asserts the failing artifact is nowhere outside `.ferry/`, its partial
/// download is gone, and every other file there is the vendor's.
fn assert_nothing_unverified(s: &Setup, ws: &Path, rel: &str) {
    for f in listing(ws) {
        let vendor = s.web.join(f.strip_prefix("releases/").unwrap());
        assert_eq!(
            sha256_hex(&std::fs::read(ws.join(&f)).unwrap()),
            sha256_hex(&std::fs::read(&vendor).unwrap()),
            "{f} in the workspace is not the vendor's"
        );
        assert!(!f.ends_with(rel), "{f} was kept");
    }
    let partial = ws
        .join(".ferry/partial/releases")
        .join(format!("{rel}.part"));
    assert!(!partial.exists(), "{} was kept", partial.display());
}

#[test]
fn bad_bytes_sizes_and_signatures_exit_1_naming_the_artifact() {
    let name = "novantra_1.0.0_amd64.deb";
    let cases: Vec<(&str, Fault, &str)> = vec![
        ("wrong-bytes", Fault::WrongBytes, "sha256 mismatch"),
        (
            "wrong-size",
            Fault::Truncate(ART_SIZE - 10),
            "size mismatch",
        ),
        ("endless", Fault::ExtraBytes(1_000_000), "more data than"),
    ];
    let s = setup();
    for (case, fault, msg) in cases {
        let ws = s.dir.join(case);
        s.server.clear_faults();
        s.server.fault(AMD64, fault);
        s.sync(&ws, &[]).expect_code(1).stderr_has(&[name, msg]);
        assert_nothing_unverified(&s, &ws, AMD64);
    }
    s.server.clear_faults();

    // A vendor signature over other bytes.
    let sig = s.web.join(format!("{AMD64}.minisig"));
    let good = std::fs::read(&sig).unwrap();
    std::fs::copy(
        s.web
            .join("1.0.0/no-training/novantra_1.0.0_arm64.deb.minisig"),
        &sig,
    )
    .unwrap();
    let ws = s.dir.join("bad-vendor-sig");
    s.sync(&ws, &[])
        .expect_code(1)
        .stderr_has(&[name, "signature verification failed"]);
    assert_nothing_unverified(&s, &ws, AMD64);
    // A signature by a key the policy does not list.
    let other = s.dir.join("other.minisig");
    program("minisign")
        .args(["-S", "-s"])
        .arg_path(&demo_key("org3"))
        .args(["-m"])
        .arg_path(&s.web.join(AMD64))
        .args(["-x"])
        .arg_path(&other)
        .run();
    if other.exists() {
        std::fs::copy(&other, &sig).unwrap();
        let ws = s.dir.join("unknown-vendor-key");
        s.sync(&ws, &[])
            .expect_code(1)
            .stderr_has(&[name, "does not list"]);
        assert_nothing_unverified(&s, &ws, AMD64);
    }
    std::fs::write(&sig, good).unwrap();

    // The index: bad signature, missing signature.
    let isig = s.web.join("index.json.minisig");
    let good = std::fs::read(&isig).unwrap();
    std::fs::copy(&sig, &isig).unwrap();
    let ws = s.dir.join("bad-index-sig");
    s.sync(&ws, &[])
        .expect_code(1)
        .stderr_has(&["index.json", "signature verification failed"]);
    assert!(listing(&ws).is_empty());
    std::fs::write(&isig, good).unwrap();
    s.server.fault("index.json.minisig", Fault::Status(404));
    let ws = s.dir.join("missing-index-sig");
    s.sync(&ws, &[])
        .expect_code(1)
        .stderr_has(&["index.json", "missing"]);
    assert!(listing(&ws).is_empty());
    s.server.clear_faults();

    // A file already in the workspace that does not match: named, kept.
    let ws = s.dir.join("tampered");
    s.sync(&ws, &[]).ok();
    let victim = ws.join("releases").join(AMD64);
    std::fs::write(&victim, b"not the vendor's").unwrap();
    s.sync(&ws, &[])
        .expect_code(1)
        .stderr_has(&[name, "never replaces"]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"not the vendor's");

    // The same file torn by a power loss during a sync (the marker of a
    // sync whose files were not yet synced to disk is still there): not a
    // changed file but ferry's own unfinished write, downloaded again.
    assert!(
        !ws.join(".ferry/unsynced").exists(),
        "a finished sync leaves no marker"
    );
    std::fs::write(ws.join(".ferry/unsynced"), b"").unwrap();
    let torn = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &torn[..torn.len().min(3)]).unwrap();
    s.sync(&ws, &[])
        .ok()
        .stderr_has(&[name, "interrupted sync", "downloaded again"]);
    let fresh = s.dir.join("fresh");
    s.sync(&fresh, &[]).ok();
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        std::fs::read(fresh.join("releases").join(AMD64)).unwrap()
    );
    assert!(!ws.join(".ferry/unsynced").exists());
}

#[test]
fn config_file_with_flags_overriding() {
    let s = setup();
    let cfg = s.dir.join("ferry.toml");
    std::fs::write(
        &cfg,
        format!(
            "index = \"{}\"\ntrust = \"ferry-trust.toml\"\nchannel = \"stable\"\nprofile = [\"no-training\"]\nworkspace = \"from-config\"\njobs = 2\n",
            s.server.url("index.json")
        ),
    )
    .unwrap();
    ferry()
        .args(["sync", "--config"])
        .arg_path(&cfg)
        .args(["--platform", "linux-arm64"])
        .run()
        .ok();
    let files = listing(&s.dir.join("from-config"));
    assert_eq!(files.len(), 6, "{files:?}");
    assert!(files.iter().all(|f| !f.contains("amd64")), "{files:?}");
    ferry()
        .args(["sync", "--config"])
        .arg_path(&cfg)
        .args(["--bogus"])
        .run()
        .expect_code(2);
    std::fs::write(&cfg, "indexx = \"x\"\n").unwrap();
    ferry()
        .args(["sync", "--config"])
        .arg_path(&cfg)
        .run()
        .expect_code(2)
        .stderr_has(&["indexx"]);
}

#[test]
fn https_with_a_private_ca() {
    if !have("openssl") {
        skip("SKIP https_with_a_private_ca: the openssl CLI is not installed");
        return;
    }
    let s = setup();
    let d = &s.dir;
    ferry_tests::tls::private_ca(d);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("-cert")
        .arg(d.join("srv.pem"))
        .arg("-key")
        .arg(d.join("srv.key"))
        .current_dir(&s.web)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "openssl s_server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("https://127.0.0.1:{port}/index.json");
    let run = |ws: &str, ca: bool| {
        let mut c = ferry()
            .args(["sync", "--index", &url, "--trust"])
            .arg_path(&s.trust)
            .args([
                "--channel",
                "stable",
                "--profile",
                "no-training",
                "--jobs",
                "1",
                "--workspace",
            ])
            .arg_path(&d.join(ws));
        if ca {
            c = c.args(["--ca-cert"]).arg_path(&d.join("ca.pem"));
        }
        c.run()
    };
    let without = run("ws-no-ca", false);
    let with = run("ws-ca", true);
    let _ = child.kill();
    let _ = child.wait();
    without.expect_code(3).stderr_has(&["TLS", "--ca-cert"]);
    assert!(listing(&d.join("ws-no-ca")).is_empty());
    with.ok();
    assert_eq!(listing(&d.join("ws-ca")), expected_files());
}
