//! Issue 6: `ferry-mirror` import, its refusals, serving, pruning,
//! `pack --since`, and `ferry-verify audit-log`.

use std::path::{Path, PathBuf};

use ferry_tests::fixtures::{self, Fixture, NOW};
use ferry_tests::{Output, assert_unchanged, cmd, demo_key, det_bytes, snapshot};
use serde_json::json;

/// A test's world: a temp dir with the policy and an initialised mirror.
pub(crate) struct World {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) policy: PathBuf,
    pub(crate) mirror: PathBuf,
}

impl World {
    /// A mirror holding 1.0.0, 1.1.0 and 1.2.0, imported from one bundle
    /// made with the real sync, sign (2 of 3) and pack.
    pub(crate) fn with_three_versions_imported() -> Self {
        let w = World::new();
        let ws = w.path("ws");
        sync_versions(&w, "a", &["1.0.0", "1.1.0", "1.2.0"], &ws);
        sign_ws(&ws, "org1", None).ok();
        sign_ws(&ws, "org2", None).ok();
        let full = w.path("full.tar");
        pack_ws(&ws, &full).ok();
        w.import_now(&full).ok();
        w
    }

    /// `ferry-mirror import` of `bundle` with the mirror key, on the real
    /// clock (bundles from the real `ferry sign` are dated now).
    pub(crate) fn import_now(&self, bundle: &Path) -> ferry_tests::Output {
        cmd("ferry-mirror")
            .args(["import"])
            .arg(bundle)
            .arg("--mirror")
            .arg(&self.mirror)
            .arg("--trust")
            .arg(&self.policy)
            .arg("--key")
            .arg(demo_key("mirror"))
            .run()
    }

    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mirror = tmp.path().join("mirror");
        Self::at(tmp, mirror)
    }

    /// A world whose mirror lives at `mirror` (e.g. on a small filesystem).
    pub(crate) fn at(tmp: tempfile::TempDir, mirror: PathBuf) -> Self {
        let policy = fixtures::policy(tmp.path(), 2);
        cmd("ferry-mirror")
            .args(["init"])
            .arg(&mirror)
            .args([
                "--product",
                "novantra",
                "--channel",
                "stable",
                "--profile",
                "no-training",
                "--key",
            ])
            .arg(demo_key("mirror"))
            .run()
            .ok();
        World {
            tmp,
            policy,
            mirror,
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// A signed workspace `name` with manifest `sequence` and `extra`
    /// additional no-training artifacts (each with its vendor signature).
    pub(crate) fn workspace(&self, name: &str, sequence: u64, extra: usize) -> Fixture {
        workspace(&self.path(name), sequence, extra)
    }

    /// Packs a workspace into `<name>.tar`.
    pub(crate) fn pack(&self, fx: &Fixture, name: &str) -> PathBuf {
        let p = self.path(&format!("{name}.tar"));
        pack_ws(&fx.root, &p).ok();
        p
    }

    pub(crate) fn import(&self, bundle: &Path, extra: &[&str]) -> Output {
        import_cmd(&self.mirror, &self.policy, bundle)
            .args(extra)
            .run()
    }

    pub(crate) fn fsck(&self) -> Output {
        fsck_of(&self.mirror, &self.policy)
    }

    pub(crate) fn audit_log(&self) -> Output {
        audit_log_of(&self.mirror, &self.policy)
    }

    /// `ferry-mirror export-state` of the world's mirror into `name`
    /// (which must succeed); returns the file's path.
    pub(crate) fn export_state(&self, name: &str) -> PathBuf {
        let state = self.path(name);
        cmd("ferry-mirror")
            .args(["export-state"])
            .arg(&self.mirror)
            .arg("--out")
            .arg(&state)
            .run()
            .ok();
        state
    }

    /// Flips the byte at `at` in the largest image blob the mirror's index
    /// lists (under `oci/`); returns the blob's SHA-256 hex.
    pub(crate) fn flip_in_largest_blob(&self, at: usize) -> String {
        let index = self.index();
        let blob = index["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|f| f["path"].as_str().is_some_and(|p| p.starts_with("oci/")))
            .max_by_key(|f| f["size"].as_u64())
            .expect("a blob");
        let path = self.mirror.join(blob["path"].as_str().expect("path"));
        let mut bytes = std::fs::read(&path).expect("blob");
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).expect("flip");
        blob["sha256"].as_str().expect("sha256").to_string()
    }

    pub(crate) fn index(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.mirror.join("index.json")).expect("index"))
            .expect("index json")
    }
}

/// `ferry-mirror fsck MIRROR --trust POLICY`.
pub(crate) fn fsck_of(mirror: &Path, policy: &Path) -> Output {
    cmd("ferry-mirror")
        .args(["fsck"])
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .run()
}

/// `ferry-verify audit-log` with the signed index as anchor.
pub(crate) fn audit_log_of(mirror: &Path, policy: &Path) -> Output {
    cmd("ferry-verify")
        .args(["audit-log"])
        .arg(mirror.join("audit/log.jsonl"))
        .arg("--index")
        .arg(mirror.join("index.json"))
        .arg("--trust")
        .arg(policy)
        .run()
}

/// `ferry-mirror import BUNDLE --mirror M --trust P --key mirror.key --now NOW`.
/// `ferry pack` of a signed workspace into a tar.
pub(crate) fn pack_ws(ws: &Path, out: &Path) -> ferry_tests::Output {
    ferry()
        .args(["pack", "--workspace"])
        .arg(ws)
        .arg("--out")
        .arg(out)
        .run()
}

pub(crate) fn import_cmd(mirror: &Path, policy: &Path, bundle: &Path) -> ferry_tests::Run {
    import_cmd_at(mirror, policy, bundle).args(["--now", NOW])
}

/// `ferry-mirror import` without `--now` (the caller gives one, or not).
pub(crate) fn import_cmd_at(mirror: &Path, policy: &Path, bundle: &Path) -> ferry_tests::Run {
    cmd("ferry-mirror")
        .args(["import"])
        .arg(bundle)
        .arg("--mirror")
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .arg("--key")
        .arg(demo_key("mirror"))
}

/// A copy of `base` at `root` (same vendor files, byte for byte) with
/// manifest `sequence`, re-signed.
pub(crate) fn derive(base: &Fixture, root: &Path, sequence: u64) -> Fixture {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&base.root)
        .arg(root)
        .status()
        .expect("cp");
    assert!(st.success());
    let mut fx = Fixture {
        root: root.to_path_buf(),
        manifest: base.manifest.clone(),
        signers: base.signers.clone(),
    };
    fx.manifest["sequence"] = json!(sequence);
    fx.seal();
    fx
}

/// See [`World::workspace`].
pub(crate) fn workspace(root: &Path, sequence: u64, extra: usize) -> Fixture {
    let mut fx = Fixture::new(root, 40 * 1024 + 3);
    fx.manifest["sequence"] = json!(sequence);
    for i in 0..extra {
        let name = format!("novantra-addon-{i}_3.2.1_amd64.deb");
        let path = format!("releases/3.2.1/no-training/{name}");
        let data = det_bytes(1000 + i as u64, 1024 + i * 7);
        let sig = fixtures::secret("vendor")
            .sign(
                &data[..],
                &format!("timestamp:1790000000\tfile:{name}\tprehashed"),
            )
            .expect("vendor sign");
        fx.put(&format!("{path}.minisig"), sig.as_bytes());
        fx.put(&path, &data);
        fx.manifest["releases"][0]["artifacts"]
            .as_array_mut()
            .expect("artifacts")
            .push(json!({
                "path": path,
                "profile": "no-training",
                "platform": "linux-amd64",
                "format": "deb",
                "upstream": [{"kind": "minisign", "path": format!("{path}.minisig"), "key_id": fixtures::key_id("vendor")}]
            }));
    }
    fx.seal();
    fx
}

#[test]
fn import_then_fsck_and_audit_log_pass() {
    let w = World::new();
    let fx = w.workspace("ws", 7, 2);
    let bundle = w.pack(&fx, "b7");
    w.import(&bundle, &[])
        .ok()
        .stdout_has(&["imported manifest", "3.2.1", "10 file(s) added"]);
    w.fsck().ok().stdout_has(&["0 problem(s)"]);
    w.audit_log()
        .ok()
        .stdout_has(&["2 entries chained", "matches the signed index"]);
    cmd("ferry-mirror")
        .args(["status"])
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .run()
        .ok()
        .stdout_has(&[
            "stable/no-training: latest 3.2.1",
            "last import",
            "manifest sequence 7",
        ]);
    let idx = w.index();
    assert_eq!(idx["sequence"], 2);
    assert_eq!(idx["manifest_sequence"], 7);
    assert_eq!(idx["releases"][0]["version"], "3.2.1");
    assert_eq!(idx["releases"][0]["artifacts"].as_array().unwrap().len(), 3);
    let log = std::fs::read_to_string(w.mirror.join("audit/log.jsonl")).unwrap();
    assert!(
        log.lines()
            .nth(1)
            .unwrap()
            .contains("\"action\":\"import\""),
        "{log}"
    );
    // The manifest and its signatures are kept for audit.
    let msha = idx["manifests"][0]["sha256"].as_str().unwrap();
    assert!(
        w.mirror
            .join(format!("manifests/{msha}/manifest.json"))
            .is_file()
    );
    assert_eq!(
        std::fs::read_dir(w.mirror.join(format!("manifests/{msha}/signatures")))
            .unwrap()
            .count(),
        2
    );
    assert!(w.mirror.join(fixtures::ARTIFACT).is_file());
    // Nothing left in staging or the commit folder.
    for d in [".ferry/staging", ".ferry/commit"] {
        let n = std::fs::read_dir(w.mirror.join(d)).map_or(0, Iterator::count);
        assert_eq!(n, 0, "{d} not empty");
    }
    // A broken chain is refused, by ferry-verify, fsck, and a new import
    // (before anything is written).
    let log_path = w.mirror.join("audit/log.jsonl");
    std::fs::write(&log_path, log.replace("\"import\"", "\"prune\"")).unwrap();
    w.audit_log().expect_code(1);
    w.fsck().expect_code(1);
    let before = snapshot(&w.mirror);
    let mut fx8 = derive(&fx, &w.path("ws8"), 8);
    fx8.seal();
    w.import(&w.pack(&fx8, "b8"), &[])
        .expect_code(1)
        .stderr_has(&["audit/log.jsonl", "run ferry-mirror fsck"]);
    assert_unchanged(&w.mirror, &before);
}

/// Moves the fixture's artifact to the `default` profile.
fn to_default_profile(fx: &mut Fixture) {
    let data = std::fs::read(fx.root.join(fixtures::ARTIFACT)).unwrap();
    let sig = std::fs::read(fx.root.join(fixtures::ARTIFACT_SIG)).unwrap();
    std::fs::remove_dir_all(fx.root.join("releases/3.2.1/no-training")).unwrap();
    let files: Vec<serde_json::Value> = fx.manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["path"].as_str().unwrap().contains("/no-training/"))
        .cloned()
        .collect();
    fx.manifest["files"] = json!(files);
    let art = fixtures::ARTIFACT.replace("no-training", "default");
    let art_sig = fixtures::ARTIFACT_SIG.replace("no-training", "default");
    fx.put(&art_sig, &sig);
    fx.put(&art, &data);
    let a = &mut fx.manifest["releases"][0]["artifacts"][0];
    a["path"] = json!(art);
    a["profile"] = json!("default");
    a["upstream"][0]["path"] = json!(art_sig);
    fx.manifest["selection"]["profiles"] = json!(["default"]);
    fx.seal();
}

#[test]
fn reimport_is_a_noop_and_refusals_leave_the_mirror_unchanged() {
    let w = World::new();
    let ws7 = w.workspace("ws7", 7, 1);
    let b7 = w.pack(&ws7, "b7");
    w.import(&b7, &[]).ok();
    // The same manifest again (same bundle), then a newer manifest that
    // carries the same files (only its manifest is added).
    let before = snapshot(&w.mirror);
    w.import(&b7, &[])
        .ok()
        .stdout_has(&["is already on the mirror; nothing to do"]);
    assert_unchanged(&w.mirror, &before);
    let b8 = w.pack(&derive(&ws7, &w.path("ws8"), 8), "b8");
    w.import(&b8, &[])
        .ok()
        .stdout_has(&["3 file(s) added", "5 already present"]);
    w.fsck().ok();
    let before = snapshot(&w.mirror);

    // An older sequence: rollback.
    let b6 = w.pack(&derive(&ws7, &w.path("ws6"), 6), "b6");
    w.import(&b6, &[])
        .expect_code(1)
        .stderr_has(&["sequence 6 is older than sequence 8", "rollback refused"]);
    assert_unchanged(&w.mirror, &before);

    // The same sequence with other bytes: equivocation (ATTACKS A6).
    let mut fx = derive(&ws7, &w.path("ws8b"), 8);
    fx.manifest["created"] = json!("2026-11-20T11:00:00Z");
    fx.seal();
    let b8b = w.pack(&fx, "b8b");
    w.import(&b8b, &[])
        .expect_code(1)
        .stderr_has(&["equivocation refused"]);
    assert_unchanged(&w.mirror, &before);

    // The same path with other bytes.
    let mut fx = derive(&ws7, &w.path("ws9"), 9);
    fx.put(fixtures::ARTIFACT, b"other bytes");
    fx.seal();
    let b9 = w.pack(&fx, "b9");
    w.import(&b9, &[]).expect_code(1).stderr_has(&[
        fixtures::ARTIFACT,
        "is already on the mirror with other bytes",
        "a version's files never change",
    ]);
    assert_unchanged(&w.mirror, &before);

    // A default-profile bundle into a no-training mirror: refused by the
    // policy's pins, and by the mirror's own profiles when the policy has none.
    let mut fx = w.workspace("ws10", 10, 0);
    to_default_profile(&mut fx);
    let b10 = w.pack(&fx, "b10");
    w.import(&b10, &[])
        .expect_code(1)
        .stderr_has(&["profile \"default\"", "pinned profiles"]);
    assert_unchanged(&w.mirror, &before);
    let text = std::fs::read_to_string(&w.policy)
        .unwrap()
        .replace("profiles = [\"no-training\"]\n", "");
    let loose = w.path("loose-trust.toml");
    std::fs::write(&loose, text).unwrap();
    import_cmd(&w.mirror, &loose, &b10)
        .run()
        .expect_code(1)
        .stderr_has(&[
            "profile \"default\"",
            "this mirror's profiles [no-training]",
        ]);
    assert_unchanged(&w.mirror, &before);

    // A wrong signing key is refused before anything is read.
    cmd("ferry-mirror")
        .args(["import"])
        .arg(&b8)
        .arg("--mirror")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--key")
        .arg(demo_key("org1"))
        .run()
        .expect_code(1)
        .stderr_has(&["pass the mirror's own --key"]);
    assert_unchanged(&w.mirror, &before);
    w.fsck().ok();
    w.audit_log().ok().stdout_has(&["3 entries chained"]);
}

#[test]
fn yanks_in_a_newer_manifest_mark_releases_yanked() {
    let w = World::new();
    let ws7 = w.workspace("ws7", 7, 0);
    w.import(&w.pack(&ws7, "b7"), &[]).ok();
    let mut fx = derive(&ws7, &w.path("ws8"), 8);
    fx.manifest["yanks"] = json!([{"version": "3.2.1", "reason": "data loss on upgrade"}]);
    fx.seal();
    w.import(&w.pack(&fx, "b8"), &[])
        .ok()
        .stdout_has(&["marked yanked: 3.2.1"]);
    let idx = w.index();
    assert_eq!(
        idx["releases"][0]["yanked"]["reason"],
        "data loss on upgrade"
    );
    let feed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.mirror.join("feed/hints.json")).unwrap()).unwrap();
    assert_eq!(
        feed["channels"],
        json!({}),
        "a yanked release is nobody's latest"
    );
    w.fsck().ok();
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `curl -s -i` (optionally `-I` / `-X` / `-r`): (status, headers, body).
pub(crate) fn curl(url: &str, extra: &[&str]) -> (u16, String, Vec<u8>) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-i", "--noproxy", "*", "--max-time", "10"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl");
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, body)
}

pub(crate) fn wait_http(url: &str) {
    let start = std::time::Instant::now();
    while curl(url, &[]).0 != 200 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{url} never answered 200"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// nginx's master (its workers run as another user): SIGTERM, so that it
/// stops its workers, then wait.
pub(crate) struct StopOnDrop(std::process::Child);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) struct KillOnDrop(pub(crate) std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fetches the index, the feed and a byte range of an artifact from
/// `base` and verifies them against the mirror key and the file on disk.
fn fetch_and_verify(w: &World, base: &str) {
    use ferry_mirror_layout::mirror::{verify_hints_bytes, verify_index_bytes};
    let policy = ferry_manifests::policy::TrustPolicy::load(&w.policy).expect("policy");
    let keys = &policy.mirror().expect("[mirror]").keys;
    let get = |p: &str| {
        let (s, _, b) = curl(&format!("{base}{p}"), &[]);
        assert_eq!(s, 200, "{base}{p}");
        b
    };
    let index = verify_index_bytes(
        &get("index.json"),
        &get("index.json.minisig"),
        keys,
        "index.json",
    )
    .expect("index verifies");
    assert_eq!(index.sequence, 2);
    let hints = verify_hints_bytes(
        &get("feed/hints.json"),
        &get("feed/hints.json.minisig"),
        keys,
        "feed/hints.json",
    )
    .expect("feed verifies");
    assert_eq!(hints.sequence, 2);
    let art = index.releases[0].artifacts[0].path.as_str().to_string();
    let on_disk = std::fs::read(w.mirror.join(&art)).unwrap();
    let (s, head, body) = curl(&format!("{base}{art}"), &["-r", "1000-4999"]);
    assert_eq!(s, 206, "{head}");
    assert_eq!(body, on_disk[1000..5000], "range bytes differ");
    assert!(head.to_ascii_lowercase().contains("etag:"), "{head}");
    assert_eq!(curl(&format!("{base}.ferry/lock"), &[]).0, 404);
}

#[test]
fn served_by_ferry_and_by_nginx_the_same_bytes_verify() {
    let w = World::new();
    let mut fx = w.workspace("ws", 7, 0);
    fx.manifest["releases"][0]["advisories"] = json!([{
        "id": "NOV-2026-004", "severity": "high", "affected": "<3.2.1",
        "fixed_in": "3.2.1", "summary": "auth bypass <script>alert(1)</script>"
    }]);
    fx.seal();
    w.import(&w.pack(&fx, "b7"), &[]).ok();

    // ferry-mirror serve.
    let port = free_port();
    let _serve = KillOnDrop(
        std::process::Command::new(ferry_tests::bin("ferry-mirror"))
            .arg("serve")
            .arg(&w.mirror)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let base = format!("http://127.0.0.1:{port}/");
    wait_http(&format!("{base}healthz"));
    fetch_and_verify(&w, &base);
    let (s, head, body) = curl(&format!("{base}{}", fixtures::ARTIFACT), &["-I"]);
    assert_eq!(s, 200, "{head}");
    assert!(body.is_empty());
    assert!(head.to_ascii_lowercase().contains("etag: \""), "{head}");
    assert_eq!(curl(&format!("{base}index.json"), &["-X", "POST"]).0, 405);
    assert_eq!(curl(&format!("{base}index.json"), &["-X", "DELETE"]).0, 405);
    assert_eq!(curl(&format!("{base}.ferry/staging/"), &[]).0, 404);
    assert_eq!(curl(&format!("{base}%2Eferry/lock"), &[]).0, 404);
    assert_eq!(curl(&format!("{base}.%66erry/lock"), &[]).0, 404);
    assert_eq!(
        curl(&format!("{base}releases/../.ferry/lock"), &["--path-as-is"]).0,
        404
    );
    let (s, _, body) = curl(&format!("{base}healthz"), &[]);
    assert_eq!((s, body), (200, b"ok\n".to_vec()));
    // The status page: versions, advisories (escaped), sequence, last import.
    let (s, _, body) = curl(&base, &[]);
    assert_eq!(s, 200);
    let html = String::from_utf8(body).unwrap();
    for needle in [
        "novantra mirror",
        "<td class=\"latest\">3.2.1</td>",
        "NOV-2026-004",
        "auth bypass &lt;script&gt;alert(1)&lt;/script&gt;",
        "<b id=\"sequence\">2</b>",
        "Last import: ",
    ] {
        assert!(
            html.contains(needle),
            "status page lacks {needle:?}:\n{html}"
        );
    }
    assert!(
        !html.contains("<script>"),
        "unescaped text on the status page"
    );
    // A broken signature: /healthz says so.
    let sig = w.mirror.join("index.json.minisig");
    let good = std::fs::read(&sig).unwrap();
    std::fs::write(&sig, b"untrusted comment: x\nbroken\n").unwrap();
    assert_eq!(curl(&format!("{base}healthz"), &[]).0, 503);
    std::fs::write(&sig, good).unwrap();

    // Stock nginx on the same directory.
    if !ferry_tests::have("nginx") {
        eprintln!(
            "SKIPPED the nginx half: nginx is not installed (scripts/ci.sh installs nginx-light)"
        );
        return;
    }
    let (_nginx, base) = nginx_serving(&w, "nginx");
    fetch_and_verify(&w, &base);
}

/// Stock nginx serving `w.mirror` as its own unprivileged user (SPEC §3.7:
/// what ferry publishes is world-readable), on a free port; returns the
/// process (killed on drop) and the base URL, once it answers.
pub(crate) fn nginx_serving(w: &World, tag: &str) -> (StopOnDrop, String) {
    use std::os::unix::fs::PermissionsExt;
    let port = free_port();
    let conf_dir = w.path(tag);
    for d in ["", "body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(conf_dir.join(d)).unwrap();
    }
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    // As root, nginx's workers run as www-data (Debian's stock user), which
    // must reach the mirror: the test's temp folder (0700 by tempfile) is
    // opened to it; the mirror's own modes are ferry's.
    let user = if !is_root {
        String::new()
    } else if std::process::Command::new("id")
        .arg("www-data")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        "user www-data;\n".into()
    } else {
        "user nobody;\n".into()
    };
    std::fs::set_permissions(w.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = conf_dir.display();
    let conf = format!(
        "{user}daemon off;\nworker_processes 1;\nerror_log {c}/error.log;\npid {c}/nginx.pid;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {c}/body;\n  proxy_temp_path {c}/proxy;\n  fastcgi_temp_path {c}/fastcgi;\n  uwsgi_temp_path {c}/uwsgi;\n  scgi_temp_path {c}/scgi;\n  types {{ application/json json; }}\n  default_type application/octet-stream;\n  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    location ~ /\\.ferry {{ return 404; }}\n  }}\n}}\n",
        root = w.mirror.display(),
    );
    let conf_path = conf_dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = StopOnDrop(
        std::process::Command::new("nginx")
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(&conf_dir)
            .arg("-e")
            .arg(conf_dir.join("error.log"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx"),
    );
    let base = format!("http://127.0.0.1:{port}/");
    wait_http(&format!("{base}index.json"));
    (child, base)
}

/// A vendor source folder for `ferry index build`: `versions`, stable,
/// one no-training amd64 artifact each.
fn vendor_src(dir: &Path, versions: &[&str]) -> PathBuf {
    super::mirror_rules::vendor_src(dir, versions, &[])
}

pub(crate) fn ferry() -> ferry_tests::Run {
    cmd("ferry").env("NO_PROXY", "127.0.0.1,localhost")
}

/// `ferry index build` of the vendor folder `src` into the web root `web`
/// (signed by the demo vendor key), dated `generated`.
pub(crate) fn index_build(src: &Path, web: &Path, generated: &str) {
    ferry()
        .args(["index", "build", "--from"])
        .arg(src)
        .arg("--key")
        .arg(demo_key("vendor"))
        .arg("--out")
        .arg(web)
        .args(["--generated", generated])
        .run()
        .ok();
}

/// `ferry sync` of stable / no-training from `index_url` into `ws`.
pub(crate) fn sync_cmd(index_url: &str, policy: &Path, ws: &Path) -> ferry_tests::Run {
    ferry()
        .args(["sync", "--index", index_url, "--trust"])
        .arg(policy)
        .args([
            "--channel",
            "stable",
            "--profile",
            "no-training",
            "--workspace",
        ])
        .arg(ws)
}

/// `ferry-handoff check` of `mirror` (a folder or URL) on stable /
/// no-training from `current`.
pub(crate) fn handoff_check(
    mirror: impl AsRef<std::ffi::OsStr>,
    policy: &Path,
    current: &str,
) -> ferry_tests::Run {
    cmd("ferry-handoff")
        .args(["check", "--mirror"])
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .args([
            "--current",
            current,
            "--channel",
            "stable",
            "--profile",
            "no-training",
        ])
}

/// Signs `ws` by org1 and org2 (threshold 2) and packs it into `out`.
pub(crate) fn sign_and_pack(ws: &Path, out: &Path) {
    sign_ws(ws, "org1", None).ok();
    sign_ws(ws, "org2", None).ok();
    pack_ws(ws, out).ok();
}

/// Builds a signed vendor index for `versions`, serves it, syncs `ws`.
pub(crate) fn sync_versions(w: &World, tag: &str, versions: &[&str], ws: &Path) {
    let src = vendor_src(&w.path(&format!("src-{tag}")), versions);
    let web = w.path(&format!("web-{tag}"));
    index_build(&src, &web, "2026-11-20T00:00:00Z");
    let server = ferry_tests::http::Server::start(&web);
    sync_cmd(&server.url("index.json"), &w.policy, ws)
        .run()
        .ok();
}

pub(crate) fn sign_ws(ws: &Path, key: &str, since: Option<&Path>) -> Output {
    let mut c = ferry()
        .args(["sign", "--workspace"])
        .arg(ws)
        .arg("--key")
        .arg(demo_key(key));
    if let Some(s) = since {
        c = c.arg("--since").arg(s);
    }
    c.run()
}

/// Paths inside a tar bundle.
fn tar_listing(p: &Path) -> Vec<String> {
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(p)
        .output()
        .expect("tar");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn pack_since_the_exported_state_carries_only_what_the_mirror_lacks() {
    let w = World::new();
    // First transfer: 1.0.0, full bundle, by the real sync/sign/pack.
    let ws = w.path("ws");
    sync_versions(&w, "a", &["1.0.0"], &ws);
    sign_ws(&ws, "org1", None).ok();
    sign_ws(&ws, "org2", None).ok();
    let full = w.path("full.tar");
    pack_ws(&ws, &full).ok();
    let import = |b: &Path| w.import_now(b);
    import(&full).ok();
    let state = w.path("mirror-state.json");
    cmd("ferry-mirror")
        .args(["export-state"])
        .arg(&w.mirror)
        .arg("--out")
        .arg(&state)
        .arg("--trust")
        .arg(&w.policy)
        .run()
        .ok()
        .stdout_has(&["3 file(s)"]);
    let st: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(st["schema"], "ferry.mirror-state/v1");

    // The vendor publishes 1.2.0; the connected side syncs both again.
    sync_versions(&w, "b", &["1.0.0", "1.2.0"], &ws);
    // A full manifest cannot be packed --since.
    sign_ws(&ws, "org1", None).ok();
    let refused = w.path("refused.tar");
    ferry()
        .args(["pack", "--workspace"])
        .arg(&ws)
        .arg("--out")
        .arg(&refused)
        .arg("--since")
        .arg(&state)
        .run()
        .expect_code(1)
        .stderr_has(&["is a full manifest", "ferry sign --since"]);
    assert!(!refused.exists());
    std::fs::remove_dir_all(ws.join("ferry")).unwrap();
    sign_ws(&ws, "org1", Some(&state)).ok();
    // A co-signer adds a signature without repeating --since (issue 10);
    // naming another state is refused.
    let other_state = w.path("other-state.json");
    let mut other = std::fs::read(&state).unwrap();
    other.extend_from_slice(b"\n");
    std::fs::write(&other_state, other).unwrap();
    sign_ws(&ws, "org3", Some(&other_state))
        .expect_code(1)
        .stderr_has(&["another --since state"]);
    sign_ws(&ws, "org2", None).ok().stdout_has(&["co-signed"]);
    let inc = w.path("inc.tar");
    ferry()
        .args(["pack", "--workspace"])
        .arg(&ws)
        .arg("--out")
        .arg(&inc)
        .arg("--since")
        .arg(&state)
        .run()
        .ok();
    let listing = tar_listing(&inc);
    assert!(
        listing.iter().any(|p| p.starts_with("releases/1.2.0/")),
        "{listing:?}"
    );
    assert!(
        !listing.iter().any(|p| p.starts_with("releases/1.0.0")),
        "an incremental bundle carries what the mirror already holds: {listing:?}"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("ferry/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        m["base_state_sha256"],
        ferry_tests::sha256_hex(&std::fs::read(&state).unwrap())
    );
    import(&inc)
        .ok()
        .stdout_has(&["imported manifest", "1.2.0"]);
    w.fsck().ok();
    w.audit_log().ok();
    let idx = w.index();
    let versions: Vec<&str> = idx["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.2.0"]);
    // Nothing left to carry: sign --since a fresh state refuses.
    let state2 = w.export_state("mirror-state-2.json");
    std::fs::remove_dir_all(ws.join("ferry")).unwrap();
    sign_ws(&ws, "org1", Some(&state2))
        .expect_code(1)
        .stderr_has(&["nothing to carry"]);
}

#[test]
fn prune_keeps_the_newest_and_the_latest_and_is_audited() {
    let w = World::with_three_versions_imported();
    let prune = |keep: &str| {
        cmd("ferry-mirror")
            .args(["prune"])
            .arg(&w.mirror)
            .args(["--keep", keep, "--key"])
            .arg(demo_key("mirror"))
            .arg("--trust")
            .arg(&w.policy)
            .run()
    };
    prune("0").expect_code(1);
    prune("2")
        .ok()
        .stdout_has(&["removed 1.0.0", "kept 1.1.0, 1.2.0"]);
    assert!(!w.mirror.join("releases/1.0.0").exists());
    assert!(w.mirror.join("releases/1.2.0/NOTES.md").is_file());
    w.fsck().ok();
    w.audit_log().ok().stdout_has(&["3 entries chained"]);
    let before = snapshot(&w.mirror);
    prune("2").ok().stdout_has(&["nothing to prune"]);
    assert_unchanged(&w.mirror, &before);
    prune("1").ok().stdout_has(&["removed 1.1.0"]);
    let idx = w.index();
    assert_eq!(idx["releases"].as_array().unwrap().len(), 1);
    assert_eq!(idx["releases"][0]["version"], "1.2.0");
    w.fsck().ok();
}

/// ATTACKS B4/D7: a folder of the mirror replaced by a symlink
/// (`releases/3.2.1 -> /elsewhere`) is corruption; import never writes
/// through it.
#[test]
fn import_never_writes_through_a_symlink_planted_in_the_mirror() {
    let w = World::new();
    let fx = w.workspace("ws", 1, 0);
    let bundle = w.pack(&fx, "b1");
    let outside = w.path("outside");
    std::fs::create_dir(&outside).expect("outside");
    std::os::unix::fs::symlink(&outside, w.mirror.join("releases/3.2.1")).expect("symlink");
    let out = w.import(&bundle, &[]);
    out.expect_code(1)
        .stderr_has(&["releases/3.2.1", "symlink"]);
    let n = std::fs::read_dir(&outside).expect("outside").count();
    assert_eq!(n, 0, "import wrote through the planted symlink");
    assert_eq!(w.index()["sequence"], 1, "the mirror changed");
}

/// ATTACKS D7 / SPEC §4 serve: a symlink planted in the mirror is never
/// followed (neither to a file outside nor into `.ferry/`), and the plain
/// static server hides `.ferry/` from percent-encoded paths too.
#[test]
fn serving_never_follows_a_planted_symlink_nor_an_encoded_ferry() {
    let w = World::new();
    let secret = w.path("secret.txt");
    std::fs::write(&secret, b"top secret").expect("secret");
    std::os::unix::fs::symlink(&secret, w.mirror.join("releases/leak.txt")).expect("symlink");
    std::os::unix::fs::symlink(w.mirror.join(".ferry"), w.mirror.join("releases/state"))
        .expect("symlink");
    let server = ferry_net::mirror_serve::start(&w.mirror, "127.0.0.1:0".parse().expect("addr"))
        .expect("serve");
    let base = server.url();
    wait_http(&format!("{base}healthz"));
    for p in [
        "releases/leak.txt",
        "releases/state/lock",
        "releases/%73tate/lock",
    ] {
        let (status, _, body) = curl(&format!("{base}{p}"), &[]);
        assert_eq!(
            status,
            404,
            "{p} served: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let plain =
        ferry_net::serve::StaticServer::start(&w.mirror, "127.0.0.1:0".parse().expect("addr"))
            .expect("serve");
    let pbase = plain.url();
    assert_eq!(curl(&format!("{pbase}index.json"), &[]).0, 200);
    for p in ["%2Eferry/lock", ".%66erry/lock", "releases/leak.txt"] {
        assert_eq!(curl(&format!("{pbase}{p}"), &[]).0, 404, "{p} served");
    }
}

/// ATTACKS D7: fsck treats a top folder replaced by a symlink as
/// corruption instead of re-hashing through it.
#[test]
fn fsck_reports_a_top_folder_replaced_by_a_symlink() {
    let w = World::new();
    let fx = w.workspace("ws", 1, 0);
    let bundle = w.pack(&fx, "b1");
    w.import(&bundle, &[]).ok();
    let real = w.path("releases.real");
    std::fs::rename(w.mirror.join("releases"), &real).expect("move");
    std::os::unix::fs::symlink(&real, w.mirror.join("releases")).expect("symlink");
    w.fsck()
        .expect_code(1)
        .stdout_has(&["releases: a symlink in the mirror"]);
}

/// A signed manifest whose sizes add up past u64::MAX is refused with a
/// reason (the lying sizes never pass the space check by wrapping), never
/// a panic.
#[test]
fn sizes_that_overflow_are_refused_not_a_panic() {
    let w = World::new();
    let mut fx = workspace(&w.path("ws"), 1, 1);
    let files = fx.manifest["files"].as_array_mut().expect("files");
    for f in files
        .iter_mut()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.ends_with(".deb")))
    {
        f["size"] = json!(u64::MAX / 2 + 1);
    }
    fx.seal();
    let before = snapshot(&w.mirror);
    let out = w.import(&fx.root, &[]);
    assert!(
        out.code == 1 || out.code == 3,
        "exit {}\n{}",
        out.code,
        out.stderr
    );
    assert_unchanged(&w.mirror, &before);
}
