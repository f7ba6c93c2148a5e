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

/// Vendor-controlled text never reaches a terminal raw: an advisory
/// summary with an escape sequence and a forged line is printed escaped.
#[test]
fn document_text_is_escaped_on_the_terminal() {
    let w = World::new();
    let src = w.path("src");
    let d = src.join("1.0.0");
    std::fs::create_dir_all(d.join("no-training")).unwrap();
    std::fs::write(src.join("product.toml"), "product = \"novantra\"\n").unwrap();
    std::fs::write(d.join("no-training/novantra_1.0.0_amd64.deb"), b"deb bytes").unwrap();
    std::fs::write(d.join("NOTES.md"), "# 1.0.0\n").unwrap();
    std::fs::write(
        d.join("release.toml"),
        "channels = [\"stable\"]\npublished = \"2026-11-01T00:00:00Z\"\n\
         [[advisories]]\nid = \"NOV-2026-009\"\nseverity = \"high\"\naffected = \"<=1.0.0\"\n\
         summary = \"bad\\u001b[2J\\r\\nPASS everything is fine\\u202e\"\n\
         [[artifacts]]\nfile = \"novantra_1.0.0_amd64.deb\"\nprofile = \"no-training\"\nplatform = \"linux-amd64\"\nformat = \"deb\"\n",
    )
    .unwrap();
    let web = w.path("web");
    cmd("ferry")
        .args(["index", "build", "--from"])
        .arg(&src)
        .arg("--key")
        .arg(demo_key("vendor"))
        .arg("--out")
        .arg(&web)
        .run()
        .ok();
    let server = ferry_tests::http::Server::start(&web);
    let ws = w.path("ws");
    cmd("ferry")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["sync", "--index", &server.url("index.json"), "--trust"])
        .arg(&w.policy)
        .args([
            "--channel",
            "stable",
            "--profile",
            "no-training",
            "--workspace",
        ])
        .arg(&ws)
        .run()
        .ok();
    super::mirror::sign_ws(&ws, "org1", None).ok();
    super::mirror::sign_ws(&ws, "org2", None).ok();
    let b = w.path("b.tar");
    super::mirror::pack_ws(&ws, &b).ok();
    w.import_now(&b).ok();
    let o = cmd("ferry-handoff")
        .args(["check", "--mirror"])
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
        .run();
    o.expect_code(11);
    for bad in ['\u{1b}', '\r', '\u{202e}'] {
        assert!(!o.stdout.contains(bad), "raw {bad:?} in {:?}", o.stdout);
    }
    assert!(
        o.stdout.contains("bad\\u{1b}[2J\\u{d}\\u{a}PASS"),
        "{}",
        o.stdout
    );
    // No line of the output starts with the forged text.
    assert!(
        !o.stdout.lines().any(|l| l.starts_with("PASS")),
        "{}",
        o.stdout
    );
    // Variation: the status command of the mirror admin shows it escaped too.
    let s = cmd("ferry-mirror").arg("status").arg(&w.mirror).run();
    assert!(
        !s.stdout.contains('\u{1b}') && !s.stderr.contains('\u{1b}'),
        "{}",
        s.stdout
    );
}
