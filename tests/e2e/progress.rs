//! Issue 16: long commands show a progress bar (bytes, rate, ETA) on a
//! terminal, and none without one, under `--no-progress`, `-q` or `--json`.
//! The terminal is a pseudo-terminal made by `script` (util-linux).

use std::path::Path;
use std::process::Command;

use ferry_tests::{bin, demo_key, have};

use super::mirror::{World, pack_ws};

/// Runs `args` under a pseudo-terminal `cols` columns wide; returns what
/// the terminal received (stdout and stderr together).
fn under_pty(cols: u16, program: &str, args: &[&str]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = format!(
        "stty rows 24 cols {cols} 2>/dev/null; {}",
        quote(&bin(program).to_string_lossy())
    );
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let out = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{program} {args:?} under a terminal: {text}"
    );
    text
}

/// The signs of a drawn bar: a carriage return redrawing a line that
/// counts bytes against a total.
fn has_bar(text: &str, what: &str) -> bool {
    text.contains('\r') && text.contains(what) && text.contains("B/")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().to_string()
}

#[test]
fn pack_and_import_show_a_bar_on_a_terminal_and_none_without() {
    if !have("script") {
        assert!(
            std::env::var_os("CI").is_none(),
            "script (util-linux) is missing"
        );
        eprintln!("skipped: no script(1) for the pseudo-terminal");
        return;
    }
    let w = World::new();
    let fx = w.workspace("ws", 1, 2);
    let ws = s(&fx.root);
    // Pack: a bar on the terminal...
    let tar = w.path("b.tar");
    let shown = under_pty(
        100,
        "ferry",
        &["pack", "--workspace", &ws, "--out", &s(&tar)],
    );
    assert!(has_bar(&shown, "pack"), "no pack bar: {shown:?}");
    // ...none without one (stderr is a pipe here)...
    let quiet = pack_ws(&fx.root, &w.path("c.tar"));
    quiet.ok();
    assert!(
        !quiet.stderr.contains('\r') && quiet.stderr.is_empty(),
        "{quiet:?}"
    );
    // ...and none on a terminal with --no-progress, -q or --json.
    for (i, flag) in ["--no-progress", "-q", "--json"].iter().enumerate() {
        let out = w.path(&format!("d{i}.tar"));
        let text = under_pty(
            100,
            "ferry",
            &[flag, "pack", "--workspace", &ws, "--out", &s(&out)],
        );
        assert!(
            !text.contains("\u{1b}[2K") && !text.contains("pack "),
            "{flag}: {text:?}"
        );
    }
    // A narrow terminal: every redraw fits in 40 columns (no wrapping).
    let narrow = under_pty(
        40,
        "ferry",
        &["pack", "--workspace", &ws, "--out", &s(&w.path("n.tar"))],
    );
    for frame in narrow.split(['\r', '\n']) {
        let visible = frame.replace("\u{1b}[2K", "");
        if visible.contains('%') {
            assert!(
                visible.chars().count() <= 40,
                "{visible:?} wraps at 40 columns"
            );
        }
    }
    assert!(narrow.contains('%'), "no narrow bar: {narrow:?}");
    // Import: the bar of the verification while it extracts.
    let policy = s(&w.policy);
    let mirror = s(&w.mirror);
    let key = s(&demo_key("mirror"));
    let shown = under_pty(
        100,
        "ferry-mirror",
        &[
            "import",
            &s(&tar),
            "--mirror",
            &mirror,
            "--trust",
            &policy,
            "--key",
            &key,
            "--now",
            ferry_tests::fixtures::NOW,
        ],
    );
    assert!(has_bar(&shown, "verify"), "no import bar: {shown:?}");
    assert!(shown.contains("imported manifest"), "{shown}");
    // Without a terminal, the same import (a no-op now) draws nothing.
    let again = super::mirror::import_cmd(&w.mirror, &w.policy, &tar).run();
    again.ok();
    assert!(!again.stderr.contains('\r'), "{again:?}");
    // fsck and verify draw theirs too.
    let fsck = under_pty(100, "ferry-mirror", &["fsck", &mirror, "--trust", &policy]);
    assert!(has_bar(&fsck, "fsck"), "no fsck bar: {fsck:?}");
    let verify = under_pty(
        100,
        "ferry-verify",
        &[
            "bundle",
            &s(&tar),
            "--trust",
            &policy,
            "--now",
            ferry_tests::fixtures::NOW,
        ],
    );
    assert!(has_bar(&verify, "verify"), "no verify bar: {verify:?}");
}

/// Issue 16: `-q` means one line on success (as minisign does), and text
/// output gives sizes for people while `--json` keeps exact bytes.
#[test]
fn quiet_is_one_line_and_sizes_are_human() {
    let w = World::new();
    let fx = w.workspace("ws", 1, 2);
    let tar = w.path("b.tar");
    let packed = pack_ws(&fx.root, &tar);
    packed.ok();
    assert!(packed.stdout.contains(" KiB"), "{}", packed.stdout);
    let verify = |extra: &[&str]| {
        ferry_tests::cmd("ferry-verify")
            .args(extra)
            .arg("bundle")
            .arg(&tar)
            .arg("--trust")
            .arg(&w.policy)
            .args(["--now", ferry_tests::fixtures::NOW])
            .run()
    };
    let full = verify(&[]);
    full.ok();
    assert!(full.stdout.lines().count() > 1, "{}", full.stdout);
    let quiet = verify(&["-q"]);
    quiet.ok();
    assert_eq!(quiet.stdout.lines().count(), 1, "{}", quiet.stdout);
    assert!(quiet.stdout.starts_with("verified: "), "{}", quiet.stdout);
    let json = verify(&["--json"]).json();
    let bytes: u64 = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["size"].as_u64().expect("size"))
        .sum();
    assert!(bytes > 1024, "{json}");
}
