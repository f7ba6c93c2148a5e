//! Issue 10, "Saying what happened": errors name their file and say what
//! to do, with the exit code of what went wrong.

use ferry_tests::{cmd, demo_key};

use super::mirror::World;

#[test]
fn common_mistakes_name_the_file_and_say_what_to_do() {
    let w = World::with_three_versions_imported();
    let bundle = w.path("full.tar");
    // A missing policy file: named as the trust policy, exit 3, a hint.
    for (bin, args) in [
        ("ferry-verify", vec!["bundle", bundle.to_str().unwrap()]),
        ("ferry-verify", vec!["manifest", bundle.to_str().unwrap()]),
        ("ferry-mirror", vec!["fsck", w.mirror.to_str().unwrap()]),
    ] {
        cmd(bin)
            .args(args)
            .arg("--trust")
            .arg(w.path("nope.toml"))
            .run()
            .expect_code(3)
            .stderr_has(&[
                "nope.toml: read the trust policy failed",
                "hint: give --trust",
            ]);
    }
    // A missing bundle: not headed "verification failed".
    let o = cmd("ferry-verify")
        .args(["bundle"])
        .arg(w.path("gone.tar"))
        .arg("--trust")
        .arg(&w.policy)
        .run();
    o.expect_code(3)
        .stderr_has(&["gone.tar: cannot be read", "hint: check the path"]);
    assert!(!o.stderr.contains("verification failed"), "{}", o.stderr);
    // import - : exit 2, saying why and what to do.
    cmd("ferry-mirror")
        .args(["import", "-", "--mirror"])
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--key")
        .arg(demo_key("mirror"))
        .run()
        .expect_code(2)
        .stderr_has(&["standard input", "save the stream to a file first"]);
    // An existing pack output: the volume in the way is named.
    let ws = w.path("ws");
    let out = w.path("usb/novantra.tar");
    std::fs::create_dir_all(w.path("usb")).unwrap();
    for (existing, split) in [
        ("novantra.tar.001", true),
        ("novantra.tar.volumes.json", true),
        ("novantra.tar.p00", true),
        ("novantra.tar", false),
    ] {
        let p = w.path("usb").join(existing);
        std::fs::write(&p, b"keep").unwrap();
        let mut c = cmd("ferry")
            .args(["pack", "--workspace"])
            .arg(&ws)
            .arg("--out")
            .arg(&out);
        if split {
            c = c.args(["--split", "64k", "--parity", "1"]);
        }
        c.run()
            .expect_code(3)
            .stderr_has(&[existing, "already exists", "nothing was written"]);
        assert_eq!(std::fs::read(&p).unwrap(), b"keep");
        std::fs::remove_file(&p).unwrap();
        let left: Vec<_> = std::fs::read_dir(w.path("usb")).unwrap().collect();
        assert!(left.is_empty(), "{existing}: pack left files behind");
    }
}
