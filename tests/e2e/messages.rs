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
    super::mirror::index_build(&src, &web, "2026-11-20T00:00:00Z");
    let server = ferry_tests::http::Server::start(&web);
    let ws = w.path("ws");
    super::mirror::sync_cmd(&server.url("index.json"), &w.policy, &ws)
        .run()
        .ok();
    let b = w.path("b.tar");
    super::mirror::sign_and_pack(&ws, &b);
    w.import_now(&b).ok();
    let o = super::mirror::handoff_check(&w.mirror, &w.policy, "1.0.0").run();
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

/// SPEC §5 rule 6: credentials in a vendor URL (user-info, a token in the
/// query) are used to download but land nowhere: not in the workspace,
/// the signed manifest, the bundle, the mirror, stdout/stderr or errors.
#[test]
fn credentials_in_a_vendor_url_land_nowhere() {
    let w = World::new();
    let src = super::mirror_rules::vendor_src(&w.path("src"), &["1.0.0"], &[]);
    let web = w.path("web");
    super::mirror::index_build(&src, &web, "2026-11-20T00:00:00Z");
    let server = ferry_tests::http::Server::start(&web);
    let url = server
        .url("index.json")
        .replace("http://", "http://mirror-user:PASSWORD-abc123@")
        + "?access_token=TOKEN-xyz789";
    let ws = w.path("ws");
    let sync = super::mirror::sync_cmd(&url, &w.policy, &ws)
        .args(["--json"])
        .run();
    sync.ok();
    let b = w.path("b.tar");
    super::mirror::sign_and_pack(&ws, &b);
    w.import_now(&b).ok();
    // An error on the same URL (a missing signature) names it redacted.
    server.fault("index.json.minisig", ferry_tests::http::Fault::Status(404));
    let failed = super::mirror::sync_cmd(&url, &w.policy, &w.path("ws2")).run();
    assert_ne!(failed.code, 0);
    // Nowhere: outputs, workspace, bundle, mirror.
    let secrets = ["PASSWORD-abc123", "TOKEN-xyz789", "mirror-user"];
    for s in secrets {
        for (what, text) in [
            ("sync stdout", &sync.stdout),
            ("sync stderr", &sync.stderr),
            ("error", &failed.stderr),
        ] {
            assert!(!text.contains(s), "{s} in {what}: {text}");
        }
        for root in [&ws, &b, &w.mirror] {
            grep_tree(root, s);
        }
    }
    assert!(failed.stderr.contains("***@"), "{}", failed.stderr);
}

fn grep_tree(root: &std::path::Path, needle: &str) {
    if root.is_file() {
        let bytes = std::fs::read(root).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} found in {}",
            root.display()
        );
        return;
    }
    for e in std::fs::read_dir(root).unwrap() {
        grep_tree(&e.unwrap().path(), needle);
    }
}
