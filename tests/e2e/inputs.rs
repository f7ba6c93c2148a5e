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
