//! Issue 16: `ferry-mirror serve` writes an access log in the Common Log
//! Format, to stderr or `--access-log FILE`.

use std::process::{Command, Stdio};

use super::mirror::{KillOnDrop, World, curl, free_port, wait_http};

#[test]
fn serve_writes_one_common_log_format_line_per_request() {
    let w = World::new();
    let log = w.path("access.log");
    let port = free_port();
    let _serve = KillOnDrop(
        Command::new(ferry_tests::bin("ferry-mirror"))
            .arg("serve")
            .arg(&w.mirror)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--access-log"])
            .arg(&log)
            .stdout(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_http(&format!("{base}/healthz"));
    let (status, _, body) = curl(&format!("{base}/index.json"), &[]);
    assert_eq!(status, 200);
    let (missing, _, _) = curl(&format!("{base}/nothing%22here"), &[]);
    assert_eq!(missing, 404);
    let text = std::fs::read_to_string(&log).expect("access log");
    let line = text
        .lines()
        .find(|l| l.contains("GET /index.json"))
        .unwrap_or_else(|| panic!("no line for index.json: {text}"));
    // host ident authuser [date] "request" status bytes
    let re = regex_lite(line);
    assert!(re, "not Common Log Format: {line}");
    assert!(line.ends_with(&format!("\" 200 {}", body.len())), "{line}");
    assert!(
        text.lines()
            .any(|l| l.contains("\"GET /nothing%22here HTTP/1.1\" 404")),
        "{text}"
    );
}

/// `127.0.0.1 - - [dd/Mon/yyyy:hh:mm:ss +0000] "…" NNN N`, checked by hand.
fn regex_lite(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("127.0.0.1 - - [") else {
        return false;
    };
    let Some((date, rest)) = rest.split_once("] \"") else {
        return false;
    };
    date.len() == "10/Oct/2000:13:55:36 +0000".len()
        && date.ends_with(" +0000")
        && rest.split_once("\" ").is_some_and(|(_, tail)| {
            let mut parts = tail.split(' ');
            parts
                .next()
                .is_some_and(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
                && parts
                    .next()
                    .is_some_and(|b| b == "-" || b.bytes().all(|c| c.is_ascii_digit()))
        })
}
