//! Issue 10, "The mirror": plain relative names, what prune keeps, what
//! prune checks before it arms its journal.

use std::path::{Path, PathBuf};

use ferry_tests::{cmd, demo_key, det_bytes};

use super::mirror::{World, index_build, sign_and_pack, sync_cmd};

/// A vendor folder with `versions` (stable, one no-training amd64 .deb
/// each); those in `required` are `required = true`.
pub(crate) fn vendor_src(dir: &Path, versions: &[&str], required: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("product.toml"), "product = \"novantra\"\n").unwrap();
    for (seed, v) in versions.iter().enumerate() {
        let d = dir.join(v);
        std::fs::create_dir_all(d.join("no-training")).unwrap();
        let name = format!("novantra_{v}_amd64.deb");
        std::fs::write(
            d.join("no-training").join(&name),
            det_bytes(seed as u64 + 70, 10_000 + seed),
        )
        .unwrap();
        let req = required.contains(v);
        std::fs::write(
            d.join("release.toml"),
            format!("channels = [\"stable\"]\npublished = \"2026-11-01T00:00:00Z\"\nrequired = {req}\n[[artifacts]]\nfile = \"{name}\"\nprofile = \"no-training\"\nplatform = \"linux-amd64\"\nformat = \"deb\"\n"),
        )
        .unwrap();
        std::fs::write(d.join("NOTES.md"), format!("# novantra {v}\n")).unwrap();
    }
    dir.to_path_buf()
}

/// A mirror holding `versions` (some `required`), imported from one bundle
/// of the real sync, sign and pack.
fn mirror_with(versions: &[&str], required: &[&str]) -> World {
    let w = World::new();
    let src = vendor_src(&w.path("src"), versions, required);
    let web = w.path("web");
    index_build(&src, &web, "2026-11-20T00:00:00Z");
    let server = ferry_tests::http::Server::start(&web);
    let ws = w.path("ws");
    sync_cmd(&server.url("index.json"), &w.policy, &ws)
        .run()
        .ok();
    let b = w.path("b.tar");
    sign_and_pack(&ws, &b);
    w.import_now(&b).ok();
    w
}

fn prune(w: &World, keep: &str) -> ferry_tests::Output {
    cmd("ferry-mirror")
        .arg("prune")
        .arg(&w.mirror)
        .args(["--keep", keep, "--key"])
        .arg(demo_key("mirror"))
        .arg("--trust")
        .arg(&w.policy)
        .run()
}

fn versions(w: &World) -> Vec<String> {
    w.index()["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn prune_never_removes_a_required_release() {
    let w = mirror_with(&["1.0.0", "2.0.0", "2.1.0", "3.0.0"], &["2.0.0"]);
    prune(&w, "1").ok().stdout_has(&[
        "removed 1.0.0, 2.1.0",
        "kept 2.0.0 beyond --keep 1: required",
    ]);
    assert!(w.mirror.join("releases/2.0.0").is_dir());
    assert!(!w.mirror.join("releases/2.1.0").exists());
    let v = versions(&w);
    assert!(
        v.contains(&"2.0.0".to_string()) && v.contains(&"3.0.0".to_string()),
        "{v:?}"
    );
    w.fsck().ok();
    // A host still on 1.0.0 is led through 2.0.0, never past it.
    let out = super::mirror::handoff_check(&w.mirror, &w.policy, "1.0.0")
        .args(["--platform", "linux-amd64", "--json"])
        .run();
    out.expect_code(10);
    assert_eq!(out.json()["path"], serde_json::json!(["2.0.0", "3.0.0"]));
}

#[test]
fn prune_keeps_every_required_release_of_a_longer_history() {
    let w = mirror_with(
        &["1.0.0", "2.0.0", "2.5.0", "3.0.0", "3.5.0", "4.0.0"],
        &["2.0.0", "3.0.0"],
    );
    prune(&w, "1")
        .ok()
        .stdout_has(&["kept 2.0.0, 3.0.0 beyond --keep 1"]);
    assert_eq!(versions(&w), ["2.0.0", "3.0.0", "4.0.0"]);
    // Pruning again changes nothing.
    prune(&w, "1").ok().stdout_has(&["nothing to prune"]);
}

/// `ferry-mirror init srv-mirror` and friends with plain relative names
/// (whose parent is the empty path).
#[test]
fn plain_relative_names_work_for_every_output() {
    let w = World::new();
    let dir = w.path("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    cmd("ferry-mirror")
        .current_dir(&dir)
        .args([
            "init",
            "srv-mirror",
            "--product",
            "novantra",
            "--channel",
            "stable",
        ])
        .args(["--profile", "no-training", "--key"])
        .arg(demo_key("mirror"))
        .run()
        .ok();
    assert!(dir.join("srv-mirror/index.json").is_file());
    cmd("ferry-mirror")
        .current_dir(&dir)
        .args(["export-state", "srv-mirror", "--out", "state.json"])
        .run()
        .ok();
    assert!(dir.join("state.json").is_file());
    cmd("ferry")
        .current_dir(&dir)
        .args(["keygen", "--out", "org-9", "--unencrypted"])
        .run()
        .ok();
    assert!(dir.join("org-9.key").is_file());
    // A bundle packed and imported under plain names.
    let src = mirror_with(&["1.0.0"], &[]);
    cmd("ferry")
        .current_dir(&dir)
        .args(["pack", "--workspace"])
        .arg(src.path("ws"))
        .args(["--out", "novantra.tar"])
        .run()
        .ok();
    cmd("ferry-mirror")
        .current_dir(&dir)
        .args([
            "import",
            "novantra.tar",
            "--mirror",
            "srv-mirror",
            "--trust",
        ])
        .arg(&src.policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .run()
        .ok();
    assert!(dir.join("srv-mirror/releases/1.0.0").is_dir());
}

/// A file prune will remove, replaced by a folder: refused before the
/// journal is armed (nothing changed, later commands work once the folder
/// is moved away). Variation: an import whose destination is a folder.
#[test]
fn prune_and_import_check_every_step_before_arming() {
    let w = mirror_with(&["1.0.0", "1.1.0", "1.2.0"], &[]);
    let victim = w.mirror.join("releases/1.0.0/NOTES.md");
    std::fs::remove_file(&victim).unwrap();
    std::fs::create_dir(&victim).unwrap();
    let before = ferry_tests::snapshot(&w.mirror);
    prune(&w, "1").expect_code(1).stderr_has(&[
        "releases/1.0.0/NOTES.md",
        "is a folder",
        "nothing was changed",
    ]);
    ferry_tests::assert_unchanged(&w.mirror, &before);
    assert!(!w.mirror.join(".ferry/commit/journal.json").exists());
    // The admin moves it away and puts the file back: all is well again.
    std::fs::remove_dir(&victim).unwrap();
    std::fs::write(&victim, "# novantra 1.0.0\n").unwrap();
    w.fsck().ok();
    prune(&w, "1").ok().stdout_has(&["removed 1.0.0, 1.1.0"]);

    // An import whose destination became a folder.
    let w = World::new();
    let src = mirror_with(&["1.0.0"], &[]);
    std::fs::create_dir_all(w.mirror.join("releases/1.0.0/NOTES.md")).unwrap();
    let before = ferry_tests::snapshot(&w.mirror);
    w.import_now(&src.path("b.tar"))
        .expect_code(1)
        .stderr_has(&["releases/1.0.0/NOTES.md", "run ferry-mirror fsck"]);
    ferry_tests::assert_unchanged(&w.mirror, &before);
}

/// A change armed, then something planted in its way: every later command
/// says which change cannot be finished, why, and what to do.
#[test]
fn a_roll_forward_that_cannot_finish_says_what_to_do() {
    let w = mirror_with(&["1.0.0", "1.1.0", "1.2.0"], &[]);
    let mark = w.path("mark");
    let mut child = std::process::Command::new(ferry_tests::bin("ferry-mirror"))
        .arg("prune")
        .arg(&w.mirror)
        .args(["--keep", "1", "--key"])
        .arg(demo_key("mirror"))
        .env("FERRY_FAILPOINT", "journal-armed")
        .env("FERRY_FAILPOINT_MARK", &mark)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&mark).ok().as_deref() != Some("journal-armed") {
        assert!(start.elapsed().as_secs() < 60, "failpoint not reached");
        assert!(child.try_wait().unwrap().is_none(), "prune ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let victim = w.mirror.join("releases/1.0.0/NOTES.md");
    std::fs::remove_file(&victim).unwrap();
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("x"), "x").unwrap();
    w.fsck().expect_code(3).stderr_has(&[
        "the interrupted prune",
        "cannot be finished",
        "releases/1.0.0/NOTES.md",
        "then run ferry-mirror fsck",
    ]);
    std::fs::remove_dir_all(&victim).unwrap();
    w.fsck().ok();
    assert_eq!(versions(&w), ["1.2.0"]);
}

/// A bundle (its own vendor, sync, sign, pack) whose releases are
/// `(version, artifact file name)`, all stable no-training linux-amd64.
fn bundle_of(w: &World, tag: &str, rels: &[(&str, &str)]) -> PathBuf {
    // A new second: a new manifest sequence than the last bundle's.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let src = w.path(&format!("src-{tag}"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("product.toml"), "product = \"novantra\"\n").unwrap();
    for (seed, (v, name)) in rels.iter().enumerate() {
        let d = src.join(v);
        std::fs::create_dir_all(d.join("no-training")).unwrap();
        std::fs::write(
            d.join("no-training").join(name),
            det_bytes(seed as u64 + 90, 5000),
        )
        .unwrap();
        std::fs::write(
            d.join("release.toml"),
            format!("channels = [\"stable\"]\npublished = \"2026-11-01T00:00:00Z\"\n[[artifacts]]\nfile = \"{name}\"\nprofile = \"no-training\"\nplatform = \"linux-amd64\"\nformat = \"deb\"\n"),
        )
        .unwrap();
        std::fs::write(d.join("NOTES.md"), format!("# novantra {v}\n")).unwrap();
    }
    let web = w.path(&format!("web-{tag}"));
    index_build(&src, &web, "2026-11-20T00:00:00Z");
    let server = ferry_tests::http::Server::start(&web);
    let ws = w.path(&format!("ws-{tag}"));
    sync_cmd(&server.url("index.json"), &w.policy, &ws)
        .run()
        .ok();
    let b = w.path(&format!("{tag}.tar"));
    sign_and_pack(&ws, &b);
    b
}

/// A tag, the releases of its bundle, what the refusal must say.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

/// Conflicts are judged against the whole mirror: a case variant of an
/// imported artifact, of a release's folder, or a second artifact for the
/// same release, profile and platform: refused, the mirror unchanged, and
/// the release still installable.
#[test]
fn a_second_bundle_cannot_add_what_conflicts_with_the_mirror() {
    let w = World::new();
    let first = bundle_of(
        &w,
        "first",
        &[
            ("1.0.0", "novantra_1.0.0_amd64.deb"),
            ("1.1.0-rc.1", "novantra_1.1.0_amd64.deb"),
        ],
    );
    w.import_now(&first).ok();
    let cases: &[Case] = &[
        (
            "case-file",
            &[("1.0.0", "Novantra_1.0.0_amd64.deb")],
            &[
                "Novantra_1.0.0_amd64.deb",
                "only in letter case",
                "already on the mirror",
            ],
        ),
        (
            "case-dir",
            &[("1.1.0-RC.1", "novantra_1.1.0_amd64.deb")],
            &["releases/1.1.0-RC.1", "only in letter case"],
        ),
        (
            "second",
            &[("1.0.0", "novantra-alt_1.0.0_amd64.deb")],
            &[
                "second artifact for 1.0.0 / no-training / linux-amd64",
                "novantra_1.0.0_amd64.deb",
            ],
        ),
    ];
    for (tag, rels, needles) in cases {
        let b = bundle_of(&w, tag, rels);
        let before = ferry_tests::snapshot(&w.mirror);
        w.import_now(&b).expect_code(1).stderr_has(needles);
        ferry_tests::assert_unchanged(&w.mirror, &before);
    }
    // The mirror is as it was: hosts are offered the one artifact per target.
    super::mirror::handoff_check(&w.mirror, &w.policy, "1.0.0")
        .args(["--platform", "linux-amd64"])
        .run()
        .expect_code(10)
        .stdout_has(&["upgrade path: 1.0.0 -> 1.1.0-rc.1"]);
    w.fsck().ok();
}

fn fsck_repair(w: &World, bundle: &Path, policy: &Path) -> ferry_tests::Output {
    cmd("ferry-mirror")
        .arg("fsck")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(policy)
        .arg("--repair")
        .arg(bundle)
        .run()
}

/// Re-importing is a no-op, so fsck's way back is `--repair BUNDLE`:
/// damaged and missing files restored from a verified bundle; a bundle
/// that does not carry them, or a policy for another product, is refused.
#[test]
fn fsck_repair_restores_damaged_files_from_a_bundle() {
    let w = mirror_with(&["1.0.0", "1.1.0"], &[]);
    let bundle = w.path("b.tar");
    let deb = w
        .mirror
        .join("releases/1.1.0/no-training/novantra_1.1.0_amd64.deb");
    let mut bytes = std::fs::read(&deb).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(&deb, &bytes).unwrap();
    std::fs::remove_file(w.mirror.join("releases/1.0.0/NOTES.md")).unwrap();
    w.fsck()
        .expect_code(1)
        .stderr_has(&["--repair BUNDLE"])
        .stdout_has(&["novantra_1.1.0_amd64.deb", "releases/1.0.0/NOTES.md"]);
    // Another product's policy: refused before anything is touched.
    let other = w.path("other.toml");
    let text = std::fs::read_to_string(&w.policy).unwrap();
    std::fs::write(
        &other,
        text.replace("product = \"novantra\"", "product = \"other\""),
    )
    .unwrap();
    let before = ferry_tests::snapshot(&w.mirror);
    assert_ne!(fsck_repair(&w, &bundle, &other).code, 0);
    ferry_tests::assert_unchanged(&w.mirror, &before);
    // Another bundle: it carries 1.0.0's notes with the signed bytes (taken)
    // but not 1.1.0's .deb (said, exit 1).
    let unrelated = bundle_of(&w, "unrelated", &[("1.0.0", "novantra_1.0.0_amd64.deb")]);
    fsck_repair(&w, &unrelated, &w.policy)
        .expect_code(1)
        .stdout_has(&["restored releases/1.0.0/NOTES.md", "1 problem(s)"])
        .stderr_has(&["does not carry releases/1.1.0/no-training/novantra_1.1.0_amd64.deb"]);
    // The bundle they came in: restored, and fsck is clean again.
    fsck_repair(&w, &bundle, &w.policy).ok().stdout_has(&[
        "restored releases/1.1.0/no-training/novantra_1.1.0_amd64.deb",
        "0 problem(s)",
    ]);
    w.fsck().ok();
    let m = std::fs::metadata(&deb).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
        0o644
    );
}

/// Whatever fsck cannot read is a problem, never "0 problems": a folder
/// under releases/ that the process (not root) cannot read.
#[test]
fn fsck_reports_what_it_cannot_read() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !is_root || !ferry_tests::have("setpriv") {
        eprintln!("SKIPPED: needs root and setpriv to run fsck as another user");
        return;
    }
    let w = mirror_with(&["1.0.0"], &[]);
    // An extra folder nobody may read, unlisted files inside.
    let hidden = w.mirror.join("releases/1.0.0/extra");
    std::fs::create_dir(&hidden).unwrap();
    std::fs::write(hidden.join("planted.bin"), b"x").unwrap();
    let st = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&w.mirror)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::set_permissions(&hidden, std::fs::Permissions::from_mode(0o000)).unwrap();
    for p in [w.tmp.path(), w.policy.as_path()] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(ferry_tests::bin("ferry-mirror"))
        .arg("fsck")
        .arg(&w.mirror)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("releases/1.0.0/extra: a folder that cannot be read"),
        "{stdout}"
    );
}

/// The audit log's actor is the process's real user, not `$USER`.
#[test]
fn the_audit_actor_is_the_real_user_not_the_environment() {
    let w = World::new();
    let src = mirror_with(&["1.0.0"], &[]);
    cmd("ferry-mirror")
        .env("USER", "forged-admin")
        .env("LOGNAME", "forged-admin")
        .arg("import")
        .arg(src.path("b.tar"))
        .arg("--mirror")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .run()
        .ok();
    let log = std::fs::read_to_string(w.mirror.join("audit/log.jsonl")).unwrap();
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|r| r.split_whitespace().next().unwrap().to_string())
        })
        .unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let actor = last["actor"].as_str().unwrap();
    assert!(!actor.contains("forged"), "{actor}");
    assert!(actor.ends_with(&format!("(uid {uid})")), "{actor}");
}
