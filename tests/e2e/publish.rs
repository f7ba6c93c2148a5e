//! Issue 14: `ferry-mirror publish` to S3-compatible object storage, on
//! real stores started on 127.0.0.1 (`ferry_tests::stores`): a three-node
//! Garage cluster (replication factor 3, no conditional writes) read
//! through its website endpoint, and `s3s-fs` (conditional writes) for the
//! compare-and-swap path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferry_tests::stores::{Garage, KEY_ID, S3sFs, SECRET};
use ferry_tests::{Output, cmd, demo_key};

use crate::mirror::{World, ferry, handoff_check, sign_ws, sync_versions};

/// `ferry-mirror publish MIRROR --to TO --endpoint URL` with the test key.
fn publish(mirror: &Path, to: &str, endpoint: &str) -> ferry_tests::Run {
    cmd("ferry-mirror")
        .arg("publish")
        .arg(mirror)
        .args(["--to", to, "--endpoint", endpoint, "--region", "garage"])
        .arg("--key")
        .arg(demo_key("mirror"))
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
}

/// A publish that pauses before its documents until `mark` is removed.
fn publish_paused(
    mirror: &Path,
    to: &str,
    endpoint: &str,
    mark: &Path,
) -> std::thread::JoinHandle<Output> {
    let run = publish(mirror, to, endpoint)
        .env("FERRY_FAILPOINT", "pause:publish-before-index")
        .env("FERRY_FAILPOINT_MARK", mark);
    std::thread::spawn(move || run.run())
}

/// Waits until a paused publish wrote its mark.
fn wait_paused(mark: &Path, h: &std::thread::JoinHandle<Output>) {
    let start = Instant::now();
    while !mark.exists() {
        assert!(!h.is_finished(), "the publish ended before its pause point");
        assert!(start.elapsed() < Duration::from_secs(120), "never paused");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn resume(mark: &Path, h: std::thread::JoinHandle<Output>) -> Output {
    std::fs::remove_file(mark).unwrap();
    h.join().expect("publish thread")
}

/// `ferry-mirror fsck --remote URL --trust POLICY`.
fn fsck_remote(url: &str, policy: &Path) -> Output {
    cmd("ferry-mirror")
        .args(["fsck", "--remote", url, "--trust"])
        .arg(policy)
        .run()
}

/// Every path the mirror's index lists (files and trust chain).
fn listed(w: &World) -> BTreeSet<String> {
    let idx = w.index();
    ["files", "trust"]
        .iter()
        .filter_map(|k| idx[k].as_array())
        .flatten()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn cp_a(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Imports 1.3.0 into the world's mirror the way a site does: the
/// mirror's exported state, an incremental bundle signed 2 of 3, import.
fn import_next_version(w: &World) {
    let state = w.export_state("state.json");
    let ws = w.path("ws");
    sync_versions(w, "b", &["1.0.0", "1.1.0", "1.2.0", "1.3.0"], &ws);
    // A fresh manifest for this transfer (the sync may have left none).
    let _ = std::fs::remove_dir_all(ws.join("ferry"));
    sign_ws(&ws, "org1", Some(&state)).ok();
    sign_ws(&ws, "org2", None).ok();
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
    w.import_now(&inc).ok().stdout_has(&["1.3.0"]);
}

/// `ferry-handoff install` of `version` from `mirror`, pre-flight checks
/// satisfied (a fresh backup, a license date, a small data folder).
fn handoff_install(w: &World, mirror: &str, version: &str) -> Output {
    let site = w.path(&format!("site-{version}"));
    let (backup, data) = (site.join("backup"), site.join("data"));
    std::fs::create_dir_all(&backup).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(site.join("to")).unwrap();
    std::fs::write(backup.join("db.dump"), b"backup").unwrap();
    std::fs::write(data.join("db"), b"data").unwrap();
    let expires = ferry_manifests::time::Timestamp::from_unix(
        ferry_manifests::time::Timestamp::now().unix() + 365 * 86_400,
    );
    cmd("ferry-handoff")
        .args(["install", "--mirror", mirror, "--trust"])
        .arg(&w.policy)
        .args(["--current", "1.0.0", "--channel", "stable"])
        .args(["--profile", "no-training", "--version", version, "--to"])
        .arg(site.join("to"))
        .args(["--exec", "true", "--backup"])
        .arg(&backup)
        .args(["--license-expires", &expires.to_string(), "--data-dir"])
        .arg(&data)
        .run()
}

/// Downloads `rel` from the website endpoint into `dir`.
fn fetch(web: &str, rel: &str, dir: &Path) -> PathBuf {
    let (status, _, body) = crate::mirror::curl(&format!("{web}{rel}"), &[]);
    assert_eq!(status, 200, "{web}{rel}");
    let out = dir.join(rel);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, body).unwrap();
    out
}

/// What the website endpoint serves is the mirror, byte for byte, and
/// `ferry-verify audit-log` passes on the copy fetched from it (which
/// records the publish).
/// The view files (SPEC §3.13) a publish uploads with the documents.
fn views(w: &World) -> Vec<String> {
    let index: ferry_mirror_layout::mirror::index::MirrorIndex =
        serde_json::from_slice(&std::fs::read(w.mirror.join("index.json")).unwrap()).unwrap();
    let v = ferry_mirror_layout::mirror::views::published_paths(&w.mirror, &index);
    assert!(v.iter().any(|p| p == "tuf/timestamp.json"), "{v:?}");
    v
}

fn served_as_published(w: &World, web: &str, first: &BTreeSet<String>) {
    let got = w.path("fetched");
    let views = views(w);
    for rel in ["index.json", "index.json.minisig", "published.json"]
        .into_iter()
        .chain(first.iter().map(String::as_str))
        .chain(views.iter().map(String::as_str))
    {
        let f = fetch(web, rel, &got);
        assert_eq!(
            std::fs::read(f).unwrap(),
            std::fs::read(w.mirror.join(rel)).unwrap(),
            "{rel}"
        );
    }
    let log = fetch(web, "audit/log.jsonl", &got);
    cmd("ferry-verify")
        .args(["audit-log"])
        .arg(&log)
        .arg("--index")
        .arg(got.join("index.json"))
        .arg("--trust")
        .arg(&w.policy)
        .run()
        .ok();
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("\"action\":\"publish\"")
    );
}

/// Done when (issue 14): publish to the Garage cluster; hand-off check and
/// install against its website endpoint succeed; `fsck --remote` and
/// `ferry-verify audit-log` pass on what it serves, byte for byte the
/// mirror; the probe finds no conditional writes (lock path, warning); a
/// second publish after an import uploads only the new objects.
#[test]
fn garage_publish_serves_hosts_and_uploads_only_new_objects_next_time() {
    let w = World::with_three_versions_imported();
    let Some(g) = Garage::start(w.tmp.path()) else {
        return;
    };
    let (web, s3) = (g.web_url(), g.s3_url());
    let first = listed(&w);
    let t = Instant::now();
    let o = publish(&w.mirror, "s3://localhost", &s3)
        .arg("--json")
        .run();
    o.ok()
        .stderr_has(&["does not honour conditional writes", "the operator's duty"]);
    let j = &o.json()["outcome"];
    eprintln!(
        "publish 1 (Garage, 3 nodes): {} objects, {} bytes in {:?}",
        j["objects"],
        j["bytes"],
        t.elapsed()
    );
    assert_eq!(j["conditional_writes"], false);
    assert_eq!(j["guard"], "lock-object");
    assert_eq!(j["content_objects"], first.len());
    assert_eq!(j["objects"], first.len() + 6 + views(&w).len());
    // Hosts read it from the website endpoint as from any HTTP mirror.
    handoff_check(&web, &w.policy, "1.0.0")
        .run()
        .expect_code(10);
    handoff_install(&w, &web, "1.2.0").ok();
    fsck_remote(&web, &w.policy)
        .ok()
        .stdout_has(&["0 problem(s)"]);
    served_as_published(&w, &web, &first);

    // An import adds 1.3.0; the next publish sends only its objects.
    import_next_version(&w);
    let new: Vec<String> = listed(&w).difference(&first).cloned().collect();
    assert!(!new.is_empty());
    let t = Instant::now();
    let o = publish(&w.mirror, "s3://localhost", &s3)
        .arg("--json")
        .run();
    let j = &o.ok().json()["outcome"];
    eprintln!(
        "publish 2 after an import: {} objects ({} content, {} unchanged) in {:?}",
        j["objects"],
        j["content_objects"],
        j["unchanged"],
        t.elapsed()
    );
    assert_eq!(j["content_objects"], new.len(), "{new:?}");
    assert_eq!(j["objects"], new.len() + 6 + views(&w).len());
    assert_eq!(j["unchanged"], first.len());
    handoff_check(&web, &w.policy, "1.2.0")
        .run()
        .expect_code(10)
        .stdout_has(&["1.3.0"]);
    fsck_remote(&web, &w.policy).ok();
}

/// Done when (issue 14): one Garage node killed in the middle of a
/// publish, the publish completes; two killed, exit 3, and a re-run after
/// they return completes; meanwhile `ferry-handoff check` against the
/// website never exits 1. And the lock path: a second publisher while the
/// first holds the lock object exits 3.
#[test]
fn garage_node_loss_mid_publish_never_shows_readers_a_torn_mirror() {
    let w = World::with_three_versions_imported();
    let Some(mut g) = Garage::start(w.tmp.path()) else {
        return;
    };
    let (web, s3) = (g.web_url(), g.s3_url());
    publish(&w.mirror, "s3://localhost", &s3).run().ok();
    let other = w.path("other-copy");
    cp_a(&w.mirror, &other);
    import_next_version(&w);

    let stop = Arc::new(AtomicBool::new(false));
    let checks = {
        let (stop, web, policy) = (stop.clone(), web.clone(), w.policy.clone());
        std::thread::spawn(move || {
            let mut codes = Vec::new();
            while !stop.load(Ordering::SeqCst) && codes.len() < 2000 {
                let o = handoff_check(&web, &policy, "1.0.0").run();
                assert_ne!(o.code, 1, "a reader was refused mid-publish:\n{}", o.stderr);
                codes.push(o.code);
            }
            codes
        })
    };

    // One node dies while the publish is under way: it completes.
    let mark = w.path("mark-1");
    let h = publish_paused(&w.mirror, "s3://localhost", &s3, &mark);
    wait_paused(&mark, &h);
    // The lock object is held: another publisher is turned away (exit 3).
    publish(&other, "s3://localhost", &s3)
        .run()
        .expect_code(3)
        .stderr_has(&[".ferry/publish.lock", "held by another publisher"]);
    g.kill(2);
    resume(&mark, h).ok();
    g.restart(2);

    // Two die: exit 3; once they are back, a re-run completes.
    let mark = w.path("mark-2");
    let h = publish_paused(&w.mirror, "s3://localhost", &s3, &mark);
    wait_paused(&mark, &h);
    g.kill(1);
    g.kill(2);
    let t = Instant::now();
    resume(&mark, h).expect_code(3);
    eprintln!("two nodes down: exit 3 after {:?}", t.elapsed());
    g.restart(1);
    g.restart(2);
    publish(&w.mirror, "s3://localhost", &s3)
        .arg("--verify")
        .run()
        .ok();
    stop.store(true, Ordering::SeqCst);
    let codes = checks.join().expect("check loop");
    eprintln!(
        "hand-off checks during the failures: {} runs, exit codes {:?}",
        codes.len(),
        codes.iter().collect::<BTreeSet<_>>()
    );
    assert!(codes.contains(&10), "no check ever succeeded: {codes:?}");
    fsck_remote(&web, &w.policy).ok();
    handoff_check(&web, &w.policy, "1.2.0")
        .run()
        .expect_code(10)
        .stdout_has(&["1.3.0"]);
}

/// Done when (issue 14): against s3s-fs (conditional writes), two
/// publishers started together: one wins, the other exits 3, and the
/// published index is one of the two, never a mix.
#[test]
fn s3s_two_publishers_one_wins_the_compare_and_swap() {
    let w = World::with_three_versions_imported();
    let Some(s) = S3sFs::start(w.tmp.path()) else {
        return;
    };
    let to = "s3://mirror/novantra";
    let o = publish(&w.mirror, to, &s.url()).arg("--json").run();
    let j = &o.ok().json()["outcome"];
    assert_eq!(j["conditional_writes"], true);
    assert_eq!(j["guard"], "compare-and-swap");
    let b = w.path("mirror-b");
    cp_a(&w.mirror, &b);
    import_next_version(&w);
    // Both read the store's index, upload, and pause before the index.
    let (ma, mb) = (w.path("mark-a"), w.path("mark-b"));
    let ha = publish_paused(&w.mirror, to, &s.url(), &ma);
    let hb = publish_paused(&b, to, &s.url(), &mb);
    wait_paused(&ma, &ha);
    wait_paused(&mb, &hb);
    std::fs::remove_file(&ma).unwrap();
    std::fs::remove_file(&mb).unwrap();
    let (oa, ob) = (ha.join().unwrap(), hb.join().unwrap());
    let mut codes = [oa.code, ob.code];
    codes.sort_unstable();
    assert_eq!(codes, [0, 3], "a: {}\nb: {}", oa.stderr, ob.stderr);
    let loser = if oa.code == 3 { &oa } else { &ob };
    loser.stderr_has(&["another publisher replaced index.json"]);
    let served = std::fs::read(s.object_file("novantra/index.json")).unwrap();
    let winner = if oa.code == 0 { &w.mirror } else { &b };
    assert_eq!(served, std::fs::read(winner.join("index.json")).unwrap());
    // published.json, the feed and the audit log are the winner's too.
    for rel in [
        "published.json",
        "feed/hints.json",
        "audit/log.jsonl",
        "index.json.minisig",
    ] {
        let on_store = std::fs::read(s.object_file(&format!("novantra/{rel}"))).unwrap();
        assert_eq!(on_store, std::fs::read(winner.join(rel)).unwrap(), "{rel}");
    }
}

/// Done when (issue 14): a flipped byte in an object on the store is
/// found by `publish --verify` and by `fsck --remote`, naming the object;
/// `publish --all` replaces it.
#[test]
fn s3s_flipped_byte_is_found_by_verify_and_fsck_remote() {
    let w = World::with_three_versions_imported();
    let Some(s) = S3sFs::start(w.tmp.path()) else {
        return;
    };
    let to = "s3://mirror/site";
    publish(&w.mirror, to, &s.url()).arg("--verify").run().ok();
    let victim = listed(&w)
        .into_iter()
        .find(|p| p.starts_with("releases/1.2.0/"))
        .unwrap();
    let file = s.object_file(&format!("site/{victim}"));
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    publish(&w.mirror, to, &s.url())
        .arg("--verify")
        .run()
        .expect_code(1)
        .stdout_has(&[&victim, "damaged or was altered"])
        .stderr_has(&["--all"]);
    // The store's files as a web server serves them.
    let server = ferry_tests::http::Server::start(&s.root.join(&s.bucket));
    fsck_remote(&server.url("site/"), &w.policy)
        .expect_code(1)
        .stdout_has(&[&victim, "1 problem(s)"]);
    publish(&w.mirror, to, &s.url())
        .args(["--all", "--verify"])
        .run()
        .ok();
    fsck_remote(&server.url("site/"), &w.policy).ok();
}
