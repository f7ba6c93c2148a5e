//! Issue 10, "The mirror": what readers see. What ferry publishes is
//! world-readable whatever the umask (stock nginx serves it as its own
//! user), and no reader is ever refused for a publish in progress, nor
//! after a publish killed half-way (SPEC §3.7, §5 rule 2).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_tests::{bin, cmd, demo_key};

use super::mirror::{
    KillOnDrop, World, curl, free_port, nginx_serving, pack_ws, sign_ws, sync_versions, wait_http,
};

/// Runs a binary under `umask 077`, as an admin with a strict umask would.
fn strict_umask(name: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 077; exec \"$0\" \"$@\"")
        .arg(bin(name))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    c
}

fn run_ok(c: &mut Command) {
    let out = c.output().expect("run");
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every path below `root` (not following links) with its mode.
fn modes(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, u32, bool)>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        let m = std::fs::symlink_metadata(&p).expect("stat");
        let rel = p.strip_prefix(root).expect("below root").to_path_buf();
        out.push((rel, m.permissions().mode() & 0o7777, m.is_dir()));
        if m.is_dir() {
            modes(root, &p, out);
        }
    }
}

fn assert_served_modes(mirror: &Path) {
    let mut all = Vec::new();
    modes(mirror, mirror, &mut all);
    assert!(all.len() > 10, "{all:?}");
    let root_mode = std::fs::metadata(mirror).unwrap().permissions().mode() & 0o777;
    assert_eq!(root_mode, 0o755, "the mirror folder itself");
    for (rel, mode, is_dir) in all {
        if rel.starts_with(".ferry") {
            if rel == Path::new(".ferry") {
                assert_eq!(mode, 0o700, ".ferry must be private");
            }
            continue;
        }
        let want = if is_dir { 0o755 } else { 0o644 };
        assert_eq!(mode, want, "{}: mode {mode:o}", rel.display());
    }
}

#[test]
fn what_the_mirror_publishes_is_world_readable_under_a_strict_umask() {
    let w = World::new();
    let mirror = w.path("strict");
    run_ok(
        strict_umask("ferry-mirror")
            .arg("init")
            .arg(&mirror)
            .args(["--product", "novantra", "--channel", "stable"])
            .args(["--profile", "no-training", "--key"])
            .arg(demo_key("mirror")),
    );
    assert_served_modes(&mirror);
    let ws = w.path("ws");
    sync_versions(&w, "a", &["1.0.0", "1.1.0", "1.2.0"], &ws);
    sign_ws(&ws, "org1", None).ok();
    sign_ws(&ws, "org2", None).ok();
    let bundle = w.path("b.tar");
    pack_ws(&ws, &bundle).ok();
    let import = |c: &mut Command| {
        run_ok(
            c.arg("import")
                .arg(&bundle)
                .arg("--mirror")
                .arg(&mirror)
                .arg("--trust")
                .arg(&w.policy)
                .arg("--key")
                .arg(demo_key("mirror")),
        );
    };
    import(&mut strict_umask("ferry-mirror"));
    assert_served_modes(&mirror);
    // Variation: prune (another command that commits) and export-state.
    run_ok(
        strict_umask("ferry-mirror")
            .arg("prune")
            .arg(&mirror)
            .args(["--keep", "2", "--key"])
            .arg(demo_key("mirror"))
            .arg("--trust")
            .arg(&w.policy),
    );
    assert_served_modes(&mirror);
    let state = w.path("state.json");
    run_ok(
        strict_umask("ferry-mirror")
            .arg("export-state")
            .arg(&mirror)
            .arg("--out")
            .arg(&state),
    );
    let m = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(m, 0o644, "export-state output");
}

fn check(base: &str, policy: &Path) -> (i32, String) {
    let out = Command::new(bin("ferry-handoff"))
        .args(["check", "--mirror", base, "--trust"])
        .arg(policy)
        .args(["--current", "1.0.0", "--channel", "stable"])
        .args(["--profile", "no-training", "--platform", "linux-amd64"])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("XDG_STATE_HOME", ferry_tests::fresh_state_home())
        .stdin(Stdio::null())
        .output()
        .expect("ferry-handoff");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn serve(mirror: &Path) -> (KillOnDrop, String) {
    let port = free_port();
    let child = KillOnDrop(
        Command::new(bin("ferry-mirror"))
            .arg("serve")
            .arg(mirror)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let base = format!("http://127.0.0.1:{port}/");
    wait_http(&format!("{base}healthz"));
    (child, base)
}

/// `ferry-mirror import` on the real clock (bundles of the real `ferry
/// sign` are dated now).
fn import_now(mirror: &Path, policy: &Path, bundle: &Path) {
    cmd("ferry-mirror")
        .arg("import")
        .arg(bundle)
        .arg("--mirror")
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .run()
        .ok();
}

/// Imports `bundle`, stopping at failpoint `point`, then SIGKILLs it.
fn import_killed_at(mirror: &Path, policy: &Path, bundle: &Path, point: &str) {
    let mark = bundle.with_extension(format!("mark-{point}"));
    let mut child = Command::new(bin("ferry-mirror"))
        .arg("import")
        .arg(bundle)
        .arg("--mirror")
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .env("FERRY_FAILPOINT", point)
        .env("FERRY_FAILPOINT_MARK", &mark)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn import");
    let start = Instant::now();
    while std::fs::read_to_string(&mark).ok().as_deref() != Some(point) {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "import ended before failpoint {point} (built without failpoints?)"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{point} not reached"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
}

/// Done-when of issue 10: `ferry-handoff check` in a loop against
/// `ferry-mirror serve` and stock nginx (as www-data), while imports and a
/// prune run and one import is SIGKILLed between the index and its
/// signature, never exits 1.
#[test]
fn readers_are_never_refused_while_the_mirror_is_published() {
    let w = World::new();
    let ws = w.path("ws");
    sync_versions(&w, "v0", &["1.0.0"], &ws);
    sign_ws(&ws, "org1", None).ok();
    sign_ws(&ws, "org2", None).ok();
    let first = w.path("b0.tar");
    pack_ws(&ws, &first).ok();
    w.import_now(&first).ok();
    // The bundles the writer will import, made beforehand.
    let mut bundles = Vec::new();
    let mut versions = vec!["1.0.0"];
    for (i, v) in ["1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"]
        .iter()
        .enumerate()
    {
        versions.push(v);
        std::thread::sleep(Duration::from_millis(1100)); // a new manifest sequence
        sync_versions(&w, &format!("v{}", i + 1), &versions, &ws);
        sign_ws(&ws, "org1", None).ok();
        sign_ws(&ws, "org2", None).ok();
        let b = w.path(&format!("b{}.tar", i + 1));
        pack_ws(&ws, &b).ok();
        bundles.push(b);
    }
    let (_serve, served) = serve(&w.mirror);
    let (_nginx, nginx) = nginx_serving(&w, "nginx-readers");

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let done = done.clone();
        let (mirror, policy) = (w.mirror.clone(), w.policy.clone());
        let bundles = bundles.clone();
        std::thread::spawn(move || {
            for (i, b) in bundles.iter().enumerate() {
                if i == 2 {
                    // Killed between index.json and its signature: the pair
                    // on disk is torn until the next ferry command.
                    import_killed_at(&mirror, &policy, b, "index-written");
                    std::thread::sleep(Duration::from_millis(800));
                }
                import_now(&mirror, &policy, b);
            }
            cmd("ferry-mirror")
                .arg("prune")
                .arg(&mirror)
                .args(["--keep", "2", "--key"])
                .arg(demo_key("mirror"))
                .arg("--trust")
                .arg(&policy)
                .run()
                .ok();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut runs = 0;
    let mut codes = std::collections::BTreeMap::new();
    while !done.load(std::sync::atomic::Ordering::SeqCst) && runs < 400 {
        for base in [&served, &nginx] {
            let (code, err) = check(base, &w.policy);
            assert_ne!(code, 1, "check against {base} refused mid-publish:\n{err}");
            assert!(
                [0, 10, 11].contains(&code),
                "check against {base}: exit {code}:\n{err}"
            );
            *codes.entry(code).or_insert(0) += 1;
            runs += 1;
        }
    }
    writer.join().expect("writer");
    assert!(runs >= 6, "too few checks ran during the publishes: {runs}");
    // After all of it: both serve the final publish, and /healthz is 200.
    assert_eq!(curl(&format!("{served}healthz"), &[]).0, 200);
    for base in [&served, &nginx] {
        let (code, err) = check(base, &w.policy);
        assert_eq!(code, 10, "{err}");
    }
    eprintln!("{runs} checks during publishes: exit codes {codes:?}");
}

/// A publish killed between the feed and its signature: `serve` finishes
/// it (no other ferry process holds the lock) instead of serving a torn
/// pair for good, and `/healthz` answers 200 only once what it serves
/// verifies; an altered `published.json` is a 503 and an exit 1.
#[test]
fn serve_finishes_an_interrupted_publish_and_healthz_checks_what_it_serves() {
    let w = World::with_three_versions_imported();
    let ws = w.path("ws");
    std::thread::sleep(Duration::from_millis(1100));
    sync_versions(&w, "more", &["1.0.0", "1.1.0", "1.2.0", "1.3.0"], &ws);
    sign_ws(&ws, "org1", None).ok();
    sign_ws(&ws, "org2", None).ok();
    let b = w.path("more.tar");
    pack_ws(&ws, &b).ok();
    import_killed_at(&w.mirror, &w.policy, &b, "feed-written");
    assert!(w.mirror.join(".ferry/commit/journal.json").exists());
    let (_serve, base) = serve(&w.mirror);
    // serve rolled the change forward before answering.
    assert!(!w.mirror.join(".ferry/commit/journal.json").exists());
    assert_eq!(curl(&format!("{base}healthz"), &[]).0, 200);
    w.fsck().ok();
    let (code, err) = check(&base, &w.policy);
    assert_eq!(code, 10, "{err}");
    let index: serde_json::Value =
        serde_json::from_slice(&curl(&format!("{base}index.json"), &[]).2).unwrap();
    assert!(
        index["releases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["version"] == "1.3.0"),
        "the interrupted import was not finished"
    );
    // A flipped byte in published.json: refused, and /healthz says so.
    let env = w.mirror.join("published.json");
    let mut bytes = std::fs::read(&env).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&env, &bytes).unwrap();
    let (code, err) = check(&base, &w.policy);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("published.json"), "{err}");
    assert_eq!(curl(&format!("{base}healthz"), &[]).0, 503);
    w.fsck().expect_code(1).stdout_has(&["published.json"]);
}
