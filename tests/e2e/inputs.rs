//! Issue 10, "Inputs that hang": a FIFO (or another non-regular file)
//! where ferry expects a small regular file is refused at once, naming
//! it, by every command that reads one — never a wait for a writer.

use std::path::Path;

use ferry_tests::{Run, bin, demo_key, program};

use super::mirror::World;

fn mkfifo(p: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo");
}

/// A binary under `timeout 30`: a hang fails the test with exit 124.
fn bounded(name: &str) -> Run {
    program("timeout").arg("30").arg(bin(name))
}

#[test]
fn a_fifo_where_a_file_is_expected_is_refused_at_once() {
    let w = World::with_three_versions_imported();
    let fifo = w.path("fifo");
    mkfifo(&fifo);
    // A volumes.json on the stick: import refuses and leaves no lock held.
    let vol = w.path("novantra.tar.volumes.json");
    mkfifo(&vol);
    let before = ferry_tests::snapshot(&w.mirror);
    bounded("ferry-mirror")
        .arg("import")
        .arg(&vol)
        .arg("--mirror")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .run()
        .expect_code(3)
        .stderr_has(&["novantra.tar.volumes.json", "FIFO"]);
    ferry_tests::assert_unchanged(&w.mirror, &before);
    bounded("ferry-verify")
        .arg("bundle")
        .arg(&fifo)
        .arg("--trust")
        .arg(&w.policy)
        .run()
        .expect_code(1)
        .stderr_has(&["fifo", "FIFOs and devices are refused"]);
    // The policy, a key, a license.
    bounded("ferry-verify")
        .arg("bundle")
        .arg(w.path("full.tar"))
        .arg("--trust")
        .arg(&fifo)
        .run()
        .expect_code(3)
        .stderr_has(&["FIFO"]);
    bounded("ferry-mirror")
        .args(["prune"])
        .arg(&w.mirror)
        .args(["--keep", "5", "--key"])
        .arg(&fifo)
        .run()
        .expect_code(3)
        .stderr_has(&["fifo", "FIFO"]);
    let handoff = |mirror: &Path, extra: &[&Path]| {
        let mut r = bounded("ferry-handoff")
            .args(["check", "--mirror"])
            .arg(mirror)
            .arg("--trust")
            .arg(&w.policy)
            .args([
                "--current",
                "1.0.0",
                "--channel",
                "stable",
                "--profile",
                "no-training",
            ])
            .args(["--platform", "linux-amd64"]);
        for e in extra {
            r = r.arg(e);
        }
        r.run()
    };
    // A mirror folder whose index.json (and published.json) are FIFOs.
    let fake = w.path("fake-mirror");
    std::fs::create_dir_all(fake.join("feed")).unwrap();
    mkfifo(&fake.join("published.json"));
    handoff(&fake, &[])
        .expect_code(3)
        .stderr_has(&["published.json", "FIFO"]);
    std::fs::remove_file(fake.join("published.json")).unwrap();
    mkfifo(&fake.join("index.json"));
    handoff(&fake, &[])
        .expect_code(3)
        .stderr_has(&["index.json", "FIFO"]);
    // The license of install's pre-flight.
    let to = w.path("to");
    std::fs::create_dir_all(&to).unwrap();
    bounded("ferry-handoff")
        .args(["install", "--mirror"])
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .args([
            "--current",
            "1.0.0",
            "--channel",
            "stable",
            "--profile",
            "no-training",
        ])
        .args(["--platform", "linux-amd64", "--version", "1.2.0", "--to"])
        .arg(&to)
        .arg("--license")
        .arg(&fifo)
        .run()
        .expect_code(1)
        .stderr_has(&["license", "FIFO"]);
}

/// A server that trickles: a small document (the index signature) gets an
/// overall deadline, a large download a minimum rate; either stops with
/// exit 3 naming the URL, nothing unverified kept. Limits are lowered for
/// the test through the documented variables.
#[test]
fn a_trickling_server_is_given_up_on() {
    let w = World::new();
    let src = super::mirror_rules::vendor_src(&w.path("src"), &["1.0.0"], &[]);
    let web = w.path("web");
    super::mirror::index_build(&src, &web, "2026-11-20T00:00:00Z");
    let server = ferry_tests::http::Server::start(&web);
    let sync = |ws: &Path| {
        bounded("ferry")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("FERRY_NET_DEADLINE", "2")
            .env("FERRY_NET_MIN_RATE", "2000")
            .env("FERRY_NET_RATE_WINDOW", "2")
            .args(["sync", "--index", &server.url("index.json"), "--trust"])
            .arg(&w.policy)
            .args([
                "--channel",
                "stable",
                "--profile",
                "no-training",
                "--workspace",
            ])
            .arg(ws)
            .run()
    };
    server.fault("index.json.minisig", ferry_tests::http::Fault::Trickle(200));
    let t = std::time::Instant::now();
    sync(&w.path("ws1"))
        .expect_code(3)
        .stderr_has(&["index.json.minisig", "no complete answer within 2 s"]);
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
    server.clear_faults();
    server.fault(
        "1.0.0/no-training/novantra_1.0.0_amd64.deb",
        ferry_tests::http::Fault::Trickle(50),
    );
    let ws2 = w.path("ws2");
    sync(&ws2)
        .expect_code(3)
        .stderr_has(&["novantra_1.0.0_amd64.deb", "bytes/s"]);
    assert!(
        !ws2.join("releases/1.0.0/no-training/novantra_1.0.0_amd64.deb")
            .exists(),
        "an unverified artifact was kept"
    );
}
