//! Issue 6, crash safety (SPEC §5 rule 2, ATTACKS D1): `ferry-mirror
//! import` killed with SIGKILL at every step leaves the mirror as before or
//! (after the next command rolls the journal forward) as after; a full
//! disk and a held lock are environment errors that change nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_tests::fixtures::Fixture;
use ferry_tests::{assert_unchanged, bin, demo_key, sha256_hex, snapshot};

use crate::mirror::{World, import_cmd};

pub(crate) fn cp_a(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(st.success(), "cp -a failed");
}

/// The failpoints a `FERRY_FAILPOINT=list` run recorded; a clear failure
/// when the binaries lack the `failpoints` feature.
fn recorded_points(list: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(list).unwrap_or_default();
    let points: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(
        !points.is_empty(),
        "no failpoints recorded: the binaries were built without the `failpoints` feature \
         (cargo build --workspace --bins --features {})",
        ferry_tests::TEST_FEATURES
    );
    points
}

/// Starts an import that stops at failpoint `point` (or runs with `env`).
pub(crate) fn spawn_import(
    mirror: &Path,
    policy: &Path,
    bundle: &Path,
    point: &str,
    mark: &Path,
) -> Child {
    Command::new(bin("ferry-mirror"))
        .arg("import")
        .arg(bundle)
        .arg("--mirror")
        .arg(mirror)
        .arg("--trust")
        .arg(policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .args(["--now", ferry_tests::fixtures::NOW])
        .env("FERRY_FAILPOINT", point)
        .env("FERRY_FAILPOINT_MARK", mark)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ferry-mirror")
}

/// Waits until the child announced `point` in the mark file.
pub(crate) fn wait_for_mark(child: &mut Child, mark: &Path, point: &str) {
    let start = Instant::now();
    loop {
        if std::fs::read_to_string(mark).is_ok_and(|s| s == point) {
            return;
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            panic!("import exited ({st}) before reaching failpoint {point}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "failpoint {point} never reached"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every regular file under `dir`, relative to `root`.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files_under(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).expect("below").to_path_buf());
        }
    }
}

/// sha256 of every file the bundle carries, by path.
fn expected(fx: &Fixture) -> BTreeMap<String, String> {
    fx.manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_string(),
                f["sha256"].as_str().expect("sha").to_string(),
            )
        })
        .collect()
}

pub(crate) fn index_sequence(mirror: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mirror.join("index.json")).expect("index"))
            .expect("json");
    v["sequence"].as_u64().expect("sequence")
}

#[test]
fn import_killed_at_every_step_is_all_or_nothing() {
    let w = World::new();
    let fx = w.workspace("ws", 7, 12);
    let bundle = w.pack(&fx, "b7");
    let want = expected(&fx);
    let template = w.path("template");
    cp_a(&w.mirror, &template);

    // Enumerate the points one full import passes.
    let list_mirror = w.path("list-mirror");
    cp_a(&template, &list_mirror);
    let list = w.path("points.txt");
    import_cmd(&list_mirror, &w.policy, &bundle)
        .env("FERRY_FAILPOINT", "list")
        .env("FERRY_FAILPOINT_MARK", &list)
        .run()
        .ok();
    let points = recorded_points(&list);
    let unique: std::collections::BTreeSet<&String> = points.iter().collect();
    assert_eq!(
        unique.len(),
        points.len(),
        "failpoint names repeat: {points:?}"
    );
    assert!(
        points.len() >= 50,
        "only {} kill points: {points:?}",
        points.len()
    );
    let armed_at = points
        .iter()
        .position(|p| p == "journal-armed")
        .expect("journal-armed is a point");
    let after = index_sequence(&list_mirror);

    for (i, point) in points.iter().enumerate() {
        let m = w.path(&format!("m-{i}"));
        cp_a(&template, &m);
        let mark = w.path(&format!("mark-{i}"));
        let mut child = spawn_import(&m, &w.policy, &bundle, point, &mark);
        wait_for_mark(&mut child, &mark, point);
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");

        // Nothing half-written under a final name: every file under
        // releases/ has exactly the bundle's bytes.
        let mut files = Vec::new();
        files_under(&m, &m.join("releases"), &mut files);
        for f in &files {
            let rel = f.to_string_lossy().to_string();
            let got = sha256_hex(&std::fs::read(m.join(f)).expect("read"));
            assert_eq!(
                want.get(&rel),
                Some(&got),
                "{point}: {rel} is not the bundle's file"
            );
        }
        // fsck finishes or discards the interrupted import, then passes.
        crate::mirror::fsck_of(&m, &w.policy)
            .ok()
            .stdout_has(&["0 problem(s)"]);
        crate::mirror::audit_log_of(&m, &w.policy).ok();
        let seq = index_sequence(&m);
        if i < armed_at {
            assert_eq!(
                seq, 1,
                "{point}: killed before arming, yet the mirror changed"
            );
        } else {
            assert_eq!(
                seq, after,
                "{point}: killed after arming, yet not rolled forward"
            );
        }
        for d in [".ferry/staging", ".ferry/commit"] {
            let n = std::fs::read_dir(m.join(d)).map_or(0, Iterator::count);
            assert_eq!(n, 0, "{point}: {d} not empty after recovery");
        }
        // A re-run completes the import (or finds it done).
        let out = import_cmd(&m, &w.policy, &bundle).run();
        out.ok();
        if i < armed_at {
            out.stdout_has(&["imported manifest"]);
        } else {
            out.stdout_has(&["nothing to do"]);
        }
        assert_eq!(index_sequence(&m), after, "{point}");
        crate::mirror::fsck_of(&m, &w.policy).ok();
        std::fs::remove_dir_all(&m).expect("cleanup");
    }
    eprintln!("crash test: {} kill points passed", points.len());
}

#[test]
fn two_imports_at_once_one_fails_fast_naming_the_lock_or_waits() {
    let w = World::new();
    let fx = w.workspace("ws", 7, 1);
    let bundle = w.pack(&fx, "b7");
    let mark = w.path("mark");
    let mut first = spawn_import(&w.mirror, &w.policy, &bundle, "staged-2", &mark);
    wait_for_mark(&mut first, &mark, "staged-2");
    let before = snapshot(&w.mirror);
    w.import(&bundle, &[]).expect_code(3).stderr_has(&[
        ".ferry/lock",
        "locked by another ferry process",
        "re-run with --wait",
    ]);
    // The same for prune and fsck (they share the lock).
    for sub in ["prune", "fsck"] {
        let mut c = ferry_tests::cmd("ferry-mirror").arg(sub).arg(&w.mirror);
        if sub == "prune" {
            c = c.args(["--keep", "1", "--key"]).arg(demo_key("mirror"));
        }
        c.run()
            .expect_code(3)
            .stderr_has(&[".ferry/lock", "re-run with --wait"]);
    }
    assert_unchanged(&w.mirror, &before);
    // With --wait, the second import blocks until the first is gone (here
    // killed), then cleans its staging and imports.
    let second = {
        let mirror = w.mirror.clone();
        let policy = w.policy.clone();
        let bundle = bundle.clone();
        std::thread::spawn(move || import_cmd(&mirror, &policy, &bundle).arg("--wait").run())
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(!second.is_finished(), "--wait did not wait for the lock");
    child_kill(&mut first);
    second
        .join()
        .expect("thread")
        .ok()
        .stdout_has(&["imported manifest"]);
    w.fsck().ok();
    w.audit_log().ok();
}

fn child_kill(c: &mut Child) {
    c.kill().expect("SIGKILL");
    c.wait().expect("wait");
}

#[test]
fn disk_full_is_exit_3_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnt = tmp.path().join("small");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status();
    if !st.is_ok_and(|s| s.success()) {
        eprintln!(
            "SKIPPED disk_full_is_exit_3_and_changes_nothing: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)"
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let w = World::at(tmp, mnt.join("mirror"));
    // A 3 MiB artifact plus the margin does not fit in 6 MiB.
    let mut fx = Fixture::new(&w.path("ws"), 3 * 1024 * 1024);
    fx.seal();
    let bundle = w.pack(&fx, "big");
    let before = snapshot(&w.mirror);
    w.import(&bundle, &[])
        .expect_code(3)
        .stderr_has(&["not enough free space"]);
    assert_unchanged(&w.mirror, &before);
    w.fsck().ok();
}

#[test]
fn prune_killed_at_every_step_is_all_or_nothing() {
    let w = World::with_three_versions_imported();
    let template = w.path("template");
    cp_a(&w.mirror, &template);
    let prune = |m: &Path| {
        let mut c = Command::new(bin("ferry-mirror"));
        c.arg("prune")
            .arg(m)
            .args(["--keep", "1", "--key"])
            .arg(demo_key("mirror"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let list_mirror = w.path("list-mirror");
    cp_a(&template, &list_mirror);
    let list = w.path("points.txt");
    let st = prune(&list_mirror)
        .env("FERRY_FAILPOINT", "list")
        .env("FERRY_FAILPOINT_MARK", &list)
        .status()
        .expect("prune");
    assert!(st.success());
    let points = recorded_points(&list);
    assert!(points.len() >= 12, "{points:?}");
    let armed_at = points.iter().position(|p| p == "journal-armed").unwrap();
    let after = index_sequence(&list_mirror);
    for (i, point) in points.iter().enumerate() {
        let m = w.path(&format!("m-{i}"));
        cp_a(&template, &m);
        let mark = w.path(&format!("mark-{i}"));
        let mut child = prune(&m)
            .env("FERRY_FAILPOINT", point)
            .env("FERRY_FAILPOINT_MARK", &mark)
            .spawn()
            .expect("spawn");
        wait_for_mark(&mut child, &mark, point);
        child_kill(&mut child);
        crate::mirror::fsck_of(&m, &w.policy).ok();
        crate::mirror::audit_log_of(&m, &w.policy).ok();
        let seq = index_sequence(&m);
        assert_eq!(seq, if i < armed_at { 1 + 1 } else { after }, "{point}");
        let st = prune(&m).status().expect("prune");
        assert!(st.success(), "{point}: re-run failed");
        assert_eq!(index_sequence(&m), after, "{point}");
        assert!(!m.join("releases/1.0.0").exists(), "{point}");
        crate::mirror::fsck_of(&m, &w.policy).ok();
        std::fs::remove_dir_all(&m).expect("cleanup");
    }
    eprintln!("prune crash test: {} kill points passed", points.len());
}

/// ATTACKS D2/D3: an `fsync` that fails with EIO, or a `write` that fails
/// with ENOSPC, at many points of an import (injected with strace): the
/// import fails (exit 3 when before arming) and is never reported done;
/// the mirror stays consistent (fsck passes, before or after), and a
/// re-run completes.
#[test]
fn import_survives_injected_eio_and_enospc() {
    if !ferry_tests::have("strace") {
        eprintln!("SKIPPED import_survives_injected_eio_and_enospc: strace is not installed");
        return;
    }
    let w = World::new();
    let fx = w.workspace("ws", 7, 3);
    let bundle = w.pack(&fx, "b7");
    let template = w.path("template");
    cp_a(&w.mirror, &template);
    let probe = Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!(
            "SKIPPED import_survives_injected_eio_and_enospc: strace cannot trace here (ptrace not permitted)"
        );
        return;
    }
    let mut runs = 0;
    let mut failed = 0;
    for (syscall, errno, whens) in [
        ("fsync", "EIO", &[1usize, 2, 5, 9, 14, 20, 30, 40][..]),
        ("write", "ENOSPC", &[1, 3, 8, 15, 25][..]),
    ] {
        for when in whens {
            let m = w.path(&format!("m-{syscall}-{when}"));
            cp_a(&template, &m);
            let out = Command::new("strace")
                .args(["-f", "-qq", "-o", "/dev/null", "-e"])
                .arg(format!("trace={syscall}"))
                .arg("-e")
                .arg(format!("inject={syscall}:error={errno}:when={when}"))
                .arg(bin("ferry-mirror"))
                .arg("import")
                .arg(&bundle)
                .arg("--mirror")
                .arg(&m)
                .arg("--trust")
                .arg(&w.policy)
                .arg("--key")
                .arg(demo_key("mirror"))
                .args(["--now", ferry_tests::fixtures::NOW])
                .output()
                .expect("strace");
            let code = out.status.code().unwrap_or(-1);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            if code == 0 {
                // The injection hit a write the import does not depend on
                // (or none at all): it must then really be done.
                assert!(stdout.contains("imported manifest"), "{stdout}");
            } else {
                assert_eq!(code, 3, "{syscall}/{errno}@{when}: {stderr}");
                failed += 1;
                assert!(!stdout.contains("imported manifest"), "{stdout}");
            }
            crate::mirror::fsck_of(&m, &w.policy).ok();
            crate::mirror::audit_log_of(&m, &w.policy).ok();
            import_cmd(&m, &w.policy, &bundle).run().ok();
            crate::mirror::fsck_of(&m, &w.policy).ok();
            assert_eq!(index_sequence(&m), 2, "{syscall}@{when}");
            std::fs::remove_dir_all(&m).expect("cleanup");
            runs += 1;
        }
    }
    assert!(
        failed >= 8,
        "only {failed} of {runs} injections made the import fail"
    );
    eprintln!("fault injection: {runs} runs passed, {failed} of them failed the import");
}

/// Kills an import of `bundle` at `journal-armed`; returns the armed journal.
fn armed_import(w: &World, bundle: &Path, tag: &str) -> serde_json::Value {
    let mark = w.path(&format!("mark-{tag}"));
    let mut child = spawn_import(&w.mirror, &w.policy, bundle, "journal-armed", &mark);
    wait_for_mark(&mut child, &mark, "journal-armed");
    child_kill(&mut child);
    serde_json::from_slice(
        &std::fs::read(w.mirror.join(".ferry/commit/journal.json")).expect("armed journal"),
    )
    .expect("journal json")
}

/// ATTACKS D7/C11: recovery re-checks the staged bytes against the signed
/// index before moving them into place; altered staging is never published.
#[test]
fn recovery_refuses_staged_files_altered_after_the_crash() {
    let w = World::new();
    let fx = w.workspace("ws", 3, 1);
    let bundle = w.pack(&fx, "b3");
    let want = expected(&fx);
    let j = armed_import(&w, &bundle, "alter");
    let staged = j["renames"][0]["from"].as_str().expect("from").to_string();
    let target = j["renames"][0]["to"].as_str().expect("to").to_string();
    let len = std::fs::metadata(w.mirror.join(&staged))
        .expect("staged")
        .len();
    std::fs::write(w.mirror.join(&staged), vec![b'X'; len as usize]).expect("alter");
    let out = crate::mirror::fsck_of(&w.mirror, &w.policy);
    out.expect_code(1).stderr_has(&[&staged, "sha256"]);
    let mut files = Vec::new();
    files_under(&w.mirror, &w.mirror.join("releases"), &mut files);
    for f in &files {
        let rel = f.to_string_lossy().to_string();
        let got = sha256_hex(&std::fs::read(w.mirror.join(f)).expect("read"));
        assert_eq!(want.get(&rel), Some(&got), "{rel} was published altered");
    }
    assert!(!w.mirror.join(&target).exists(), "{target} was published");
    assert_eq!(
        index_sequence(&w.mirror),
        1,
        "the altered change was committed"
    );
}

/// ATTACKS D8/A7: an armed journal is checked against the mirror key
/// before recovery acts on it; a journal edited to remove a file the
/// signed index lists (or an old one replayed) removes nothing.
#[test]
fn recovery_never_removes_what_a_forged_journal_names() {
    let w = World::new();
    let fx1 = w.workspace("ws1", 1, 0);
    let b1 = w.pack(&fx1, "b1");
    w.import(&b1, &[]).ok();
    let keep = w.index()["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_string())
        .find(|p| p.starts_with("releases/") && p.ends_with(".deb"))
        .expect("an artifact");
    let before = std::fs::read(w.mirror.join(&keep)).expect("artifact");
    let fx2 = crate::mirror::derive(&fx1, &w.path("ws2"), 2);
    let b2 = w.pack(&fx2, "b2");
    let mut j = armed_import(&w, &b2, "forge");
    j["removes"] = serde_json::json!([keep]);
    std::fs::write(
        w.mirror.join(".ferry/commit/journal.json"),
        serde_json::to_vec_pretty(&j).expect("json"),
    )
    .expect("forge");
    let out = crate::mirror::fsck_of(&w.mirror, &w.policy);
    out.expect_code(1)
        .stderr_has(&[".ferry/commit/journal.json", &keep]);
    assert_eq!(
        std::fs::read(w.mirror.join(&keep)).expect("the only good copy is gone"),
        before
    );
}

/// A malformed armed journal (an audit sequence at u64::MAX) is refused
/// with a reason, never a panic.
#[test]
fn a_malformed_journal_is_refused_without_a_panic() {
    let w = World::new();
    let fx = w.workspace("ws", 3, 0);
    let bundle = w.pack(&fx, "b3");
    let mut j = armed_import(&w, &bundle, "max");
    j["audit_prev"]["seq"] = serde_json::json!(u64::MAX);
    std::fs::write(
        w.mirror.join(".ferry/commit/journal.json"),
        serde_json::to_vec_pretty(&j).expect("json"),
    )
    .expect("forge");
    crate::mirror::fsck_of(&w.mirror, &w.policy)
        .expect_code(1)
        .stderr_has(&[".ferry/commit/journal.json", "audit line"]);
    assert_eq!(index_sequence(&w.mirror), 1);
}

/// ATTACKS D9: recovery removes leftovers only inside the mirror's own
/// private folders; a `.ferry/staging` or `.ferry/commit` replaced by a
/// symlink is refused, and nothing it points at is removed.
#[test]
fn recovery_never_removes_through_a_symlinked_private_folder() {
    for sub in ["staging", "commit"] {
        let w = World::new();
        let outside = w.path("outside");
        std::fs::create_dir(&outside).expect("outside");
        std::fs::write(outside.join("precious"), b"keep me").expect("precious");
        let link = w.mirror.join(".ferry").join(sub);
        let _ = std::fs::remove_dir_all(&link);
        std::os::unix::fs::symlink(&outside, &link).expect("symlink");
        crate::mirror::fsck_of(&w.mirror, &w.policy)
            .expect_code(1)
            .stderr_has(&[&format!(".ferry/{sub}"), "symlink"]);
        assert!(
            outside.join("precious").is_file(),
            "recovery removed a file through .ferry/{sub}"
        );
    }
}

/// A journal whose transaction id climbs out of `.ferry/staging/` is
/// refused: recovery never removes a folder outside the mirror.
#[test]
fn a_journal_naming_a_staging_folder_outside_the_mirror_is_refused() {
    let w = World::new();
    let fx = w.workspace("ws", 3, 0);
    let bundle = w.pack(&fx, "b3");
    let mut j = armed_import(&w, &bundle, "txn");
    let txn = j["txn"].as_str().expect("txn").to_string();
    // The attacker copies the staged files to a folder of their choosing.
    let victim = w.path("victim");
    cp_a(&w.mirror.join(".ferry/staging").join(&txn), &victim);
    std::fs::write(victim.join("precious"), b"keep me").expect("precious");
    let evil = "../../../victim";
    j["txn"] = serde_json::json!(evil);
    for r in j["renames"].as_array_mut().expect("renames") {
        let from = r["from"].as_str().expect("from").replace(&txn, evil);
        r["from"] = serde_json::json!(from);
    }
    std::fs::write(
        w.mirror.join(".ferry/commit/journal.json"),
        serde_json::to_vec_pretty(&j).expect("json"),
    )
    .expect("forge");
    crate::mirror::fsck_of(&w.mirror, &w.policy)
        .expect_code(1)
        .stderr_has(&[".ferry/commit/journal.json", "transaction id"]);
    assert!(
        victim.join("precious").is_file(),
        "recovery removed {}",
        victim.display()
    );
}
