//! `ferry-handoff` (issue 7): check, preflight and install against a signed
//! mirror served over HTTP on 127.0.0.1 and read as a folder.

use std::path::{Path, PathBuf};

use ferry_net::serve::StaticServer;
use ferry_tests::fixtures::policy;
use ferry_tests::http::{Fault, Server};
use ferry_tests::mirror_fixture::{Rel, artifact_bytes, artifact_path, build};
use ferry_tests::{Output, assert_unchanged, cmd, demo_key, snapshot};
use serde_json::Value;

/// The main catalogue (stable; no-training and default unless noted).
const CATALOGUE: &[Rel] = &[
    Rel::plain("1.0.0"),
    Rel::plain("1.4.0"),
    Rel {
        supported_from: Some(">=1.2.0"),
        required: true,
        ..Rel::plain("2.0.0")
    },
    // Accepts 1.x, but skipping 2.0.0 is not allowed.
    Rel {
        supported_from: Some(">=1.0.0"),
        ..Rel::plain("2.2.0")
    },
    Rel {
        supported_from: Some(">=2.0.0"),
        ..Rel::plain("2.4.0")
    },
    // Only a default-profile artifact.
    Rel {
        profiles: &["default"],
        ..Rel::plain("2.5.0")
    },
    Rel {
        supported_from: Some(">=2.0.0"),
        yanked: Some("broken migration"),
        ..Rel::plain("3.0.0")
    },
    Rel {
        supported_from: Some(">=2.0.0"),
        advisories: &[("NOV-2026-004", "<3.1.4")],
        ..Rel::plain("3.1.4")
    },
    Rel {
        supported_from: Some(">=2.0.0"),
        ..Rel::plain("3.2.1")
    },
    // Newest, but yanked: never latest, never a hop.
    Rel {
        supported_from: Some(">=2.0.0"),
        yanked: Some("pulled"),
        ..Rel::plain("3.3.0")
    },
];

struct Site {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    mirror: PathBuf,
    policy: PathBuf,
    to: PathBuf,
    record: PathBuf,
}

fn site(releases: &[Rel]) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mirror = build(&dir.join("mirror"), releases);
    let policy = policy(&dir, 1);
    let to = dir.join("incoming");
    std::fs::create_dir(&to).unwrap();
    Site {
        record: dir.join("installer-ran.txt"),
        _tmp: tmp,
        dir,
        mirror,
        policy,
        to,
    }
}

fn handoff() -> ferry_tests::Run {
    cmd("ferry-handoff").env("NO_PROXY", "127.0.0.1,localhost")
}

fn check(mirror: &str, s: &Site, current: &str) -> Output {
    check_run(mirror, s, current).run()
}

fn check_run(mirror: &str, s: &Site, current: &str) -> ferry_tests::Run {
    handoff()
        .args(["check", "--json", "--mirror", mirror, "--trust"])
        .arg(&s.policy)
        .args([
            "--current",
            current,
            "--channel",
            "stable",
            "--profile",
            "no-training",
        ])
}

fn path_of(v: &Value) -> Vec<String> {
    v["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn check_planner_cases_and_exit_codes_over_http_and_dir() {
    let s = site(CATALOGUE);
    let server = StaticServer::start(&s.mirror, "127.0.0.1:0".parse().unwrap()).unwrap();
    let url = server.url();
    let dir = s.mirror.display().to_string();
    for m in [url.as_str(), dir.as_str()] {
        // (current, exit, path, advisories)
        let cases: &[(&str, i32, &[&str], usize)] = &[
            // A direct hop; 3.1.4 is not affected by "<3.1.4".
            ("3.1.4", 10, &["3.2.1"], 0),
            // Yanked 3.3.0 (the newest) and 3.0.0 are skipped.
            ("2.4.0", 11, &["3.2.1"], 1),
            // The required 2.0.0 is never skipped (2.2.0 would accept 1.4.0).
            ("1.4.0", 11, &["2.0.0", "3.2.1"], 1),
            // Up to date.
            ("3.2.1", 0, &[], 0),
        ];
        for (current, code, path, advisories) in cases {
            let o = check(m, &s, current);
            o.expect_code(*code);
            let v = o.json();
            assert_eq!(path_of(&v), *path, "{m} {current}");
            assert_eq!(v["latest"], "3.2.1");
            assert_eq!(v["current"], *current);
            assert_eq!(v["advisories"].as_array().unwrap().len(), *advisories);
            let status = match code {
                0 => "up-to-date",
                10 => "update",
                _ => "security",
            };
            assert_eq!(v["status"], status);
        }
        let v = check(m, &s, "2.4.0").json();
        assert_eq!(v["advisories"][0]["id"], "NOV-2026-004");
        // Text output names the path.
        handoff()
            .args(["check", "--mirror", m, "--trust"])
            .arg(&s.policy)
            .args([
                "--current",
                "1.4.0",
                "--channel",
                "stable",
                "--profile",
                "no-training",
            ])
            .run()
            .expect_code(11)
            .stdout_has(&["1.4.0 -> 2.0.0 -> 3.2.1", "NOV-2026-004"]);
    }
}

#[test]
fn check_a_jump_of_more_than_two_majors_needs_an_intermediate() {
    let s = site(&[
        Rel::plain("1.0.0"),
        Rel::plain("2.5.0"),
        Rel::plain("3.0.0"),
        Rel::plain("4.1.0"),
    ]);
    let v = check(&s.mirror.display().to_string(), &s, "1.0.0");
    v.expect_code(10);
    assert_eq!(path_of(&v.json()), ["3.0.0", "4.1.0"]);
}

#[test]
fn check_without_any_path_names_the_missing_version() {
    let s = site(&[Rel::plain("1.0.0"), Rel::plain("4.1.0")]);
    check(&s.mirror.display().to_string(), &s, "1.0.0")
        .expect_code(1)
        .stderr_has(&["no upgrade path from 1.0.0", "2.x", "is missing"]);
}

#[test]
fn check_refuses_an_index_signed_by_another_key_and_a_pinned_profile() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    handoff()
        .args(["check", "--mirror", &m, "--trust"])
        .arg(&s.policy)
        .args([
            "--current",
            "2.4.0",
            "--channel",
            "stable",
            "--profile",
            "default",
        ])
        .run()
        .expect_code(1)
        .stderr_has(&["profile default", "pinned profiles [no-training]"]);
    // Re-sign the index with an org key: not a mirror key.
    let bytes = std::fs::read(s.mirror.join("index.json")).unwrap();
    let sig = ferry_tests::fixtures::secret("org1")
        .sign(&bytes[..], "ferry-mirror-index")
        .unwrap();
    std::fs::write(s.mirror.join("index.json.minisig"), sig).unwrap();
    // The same index in published.json, what ferry's readers fetch.
    ferry_tests::mirror_fixture::rewrap_published(&s.mirror);
    check(&m, &s, "2.4.0")
        .expect_code(1)
        .stderr_has(&["published.json (index).minisig", "not list as a mirror key"]);
    // A mirror without published.json (an older ferry's, or one whose
    // envelope was removed): the four files, still refused.
    std::fs::remove_file(s.mirror.join("published.json")).unwrap();
    check(&m, &s, "2.4.0")
        .expect_code(1)
        .stderr_has(&["index.json.minisig", "not list as a mirror key"]);
}

/// `install` with the installer stub that records its environment.
fn install(s: &Site, mirror: &str, current: &str, version: &str) -> ferry_tests::Run {
    let stub = format!(
        "env | grep '^FERRY_' | sort > '{rec}'; cp \"$FERRY_ARTIFACT\" '{rec}.artifact'",
        rec = s.record.display()
    );
    handoff()
        .args(["install", "--mirror", mirror, "--trust"])
        .arg(&s.policy)
        .args([
            "--current",
            current,
            "--channel",
            "stable",
            "--profile",
            "no-training",
            "--target",
            version,
            "--to",
        ])
        .arg(&s.to)
        .args(["--exec", &stub])
}

/// A fresh backup, a license good for a year, a small data dir.
fn with_good_checks(s: &Site, run: ferry_tests::Run) -> ferry_tests::Run {
    let backup = s.dir.join("backup");
    std::fs::create_dir_all(&backup).unwrap();
    std::fs::write(backup.join("db.dump"), b"backup").unwrap();
    let data = s.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("db"), vec![0u8; 4096]).unwrap();
    let lic = issue_license(s, "vendor", "no-training", 365, "good.license");
    run.arg("--backup")
        .arg(backup)
        .arg("--license")
        .arg(lic)
        .arg("--data-dir")
        .arg(data)
}

fn date_in(days: i64) -> String {
    let t = ferry_manifests::time::Timestamp::now().unix() + days * 86_400;
    ferry_manifests::time::Timestamp::from_unix(t).to_string()
}

fn issue_license(s: &Site, key: &str, profile: &str, days: i64, file: &str) -> PathBuf {
    let out = s.dir.join(file);
    cmd("ferry")
        .args(["license", "issue", "--key"])
        .arg(demo_key(key))
        .args([
            "--product",
            "novantra",
            "--profile",
            profile,
            "--licensee",
            "Example Hospital",
            "--expires",
            &date_in(days),
            "--out",
        ])
        .arg(&out)
        .run()
        .ok();
    out
}

#[track_caller]
/// A backup folder `dir` holding one file whose mtime is now + `offset_secs`.
fn backup_dated(dir: &Path, offset_secs: i64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let f = dir.join("db.dump");
    std::fs::write(&f, b"x").unwrap();
    let delta = std::time::Duration::from_secs(offset_secs.unsigned_abs());
    let now = std::time::SystemTime::now();
    let when = if offset_secs < 0 {
        now - delta
    } else {
        now + delta
    };
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(when)
        .unwrap();
    dir.to_path_buf()
}

fn assert_not_run(s: &Site) {
    assert!(
        !s.record.exists(),
        "the installer ran: {}",
        std::fs::read_to_string(&s.record).unwrap_or_default()
    );
    assert!(!s.to.join("handoff.json").exists());
}

#[test]
fn a_good_install_hands_over_the_verified_bytes() {
    let s = site(CATALOGUE);
    let server = StaticServer::start(&s.mirror, "127.0.0.1:0".parse().unwrap()).unwrap();
    let o = with_good_checks(&s, install(&s, &server.url(), "2.4.0", "3.2.1"))
        .arg("--json")
        .run();
    o.ok();
    let v = o.json();
    assert_eq!(v["handoff"]["status"], "installed");
    let rec = std::fs::read_to_string(&s.record).unwrap();
    let artifact = s.to.join("novantra_3.2.1_no-training_amd64.deb");
    let handoff_json = s.to.join("handoff.json");
    assert!(
        rec.contains(&format!("FERRY_ARTIFACT={}", artifact.display())),
        "{rec}"
    );
    assert!(rec.contains("FERRY_VERSION=3.2.1"), "{rec}");
    assert!(
        rec.contains(&format!("FERRY_HANDOFF={}", handoff_json.display())),
        "{rec}"
    );
    let want = artifact_bytes("3.2.1", "no-training");
    assert_eq!(
        std::fs::read(format!("{}.artifact", s.record.display())).unwrap(),
        want
    );
    assert_eq!(std::fs::read(&artifact).unwrap(), want);
    let h: Value = serde_json::from_slice(&std::fs::read(&handoff_json).unwrap()).unwrap();
    assert_eq!(h["schema"], "ferry.handoff/v1");
    assert_eq!(h["installer"]["exit_code"], 0);
    assert_eq!(h["target"], "3.2.1");
    assert_eq!(h["artifact"]["sha256"], ferry_tests::sha256_hex(&want));
    assert_eq!(
        h["artifact"]["mirror_path"],
        artifact_path("3.2.1", "no-training")
    );
    assert!(h["failed_step"].is_null());
    let names: Vec<&str> = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["passed"], true, "{c}");
            c["name"].as_str().unwrap()
        })
        .collect();
    for n in [
        "profile",
        "not-yanked",
        "required-releases",
        "supported-hop",
        "backup-age",
        "license",
        "free-disk",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    // Nothing else is left in --to (the staging folder is gone).
    let mut left: Vec<String> = std::fs::read_dir(&s.to)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["handoff.json", "novantra_3.2.1_no-training_amd64.deb"]
    );
}

#[test]
fn each_preflight_check_fails_on_its_own_and_the_installer_is_not_run() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    // A stale backup.
    let old = backup_dated(&s.dir.join("old-backup"), -50 * 3600);
    install(&s, &m, "2.4.0", "3.2.1")
        .arg("--backup")
        .arg(&old)
        .args(["--backup-max-age", "24h"])
        .run()
        .expect_code(1)
        .stderr_has(&["backup-age", "is 2d 2h old", "at most 1d 0h"]);
    assert_not_run(&s);
    // A license that runs out in 10 days (date form), and one from a file.
    install(&s, &m, "2.4.0", "3.2.1")
        .args(["--license-expires", &date_in(10)[..10]])
        .run()
        .expect_code(1)
        .stderr_has(&["license", "days left", "at least 30 days"]);
    assert_not_run(&s);
    let short = issue_license(&s, "vendor", "no-training", 5, "short.license");
    install(&s, &m, "2.4.0", "3.2.1")
        .arg("--license")
        .arg(&short)
        .run()
        .expect_code(1)
        .stderr_has(&[
            "license: measured ",
            " days left (license of Example Hospital",
        ]);
    assert_not_run(&s);
    // A data dir the free space cannot hold twice (a sparse 8 TiB file).
    let data = s.dir.join("big-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::File::create(data.join("huge"))
        .unwrap()
        .set_len(8 << 40)
        .unwrap();
    install(&s, &m, "2.4.0", "3.2.1")
        .arg("--data-dir")
        .arg(&data)
        .run()
        .expect_code(1)
        .stderr_has(&[
            "free-disk",
            "free on the filesystem of",
            "8.0 TiB",
            "16.0 TiB",
        ]);
    assert_not_run(&s);
    // The release has no artifact for the installed profile.
    install(&s, &m, "2.4.0", "2.5.0")
        .run()
        .expect_code(1)
        .stderr_has(&["profile: measured 2.5.0 has artifacts for default"]);
    assert_not_run(&s);
    // A yanked target.
    let o = install(&s, &m, "2.4.0", "3.3.0").arg("--json").run();
    assert_eq!(o.json()["passed"], false);
    o.expect_code(1)
        .stderr_has(&["not-yanked: measured yanked by the vendor: pulled"]);
    assert_not_run(&s);
    // A required release skipped (2.2.0 accepts 1.4.0, but 2.0.0 is required).
    install(&s, &m, "1.4.0", "2.2.0")
        .run()
        .expect_code(1)
        .stderr_has(&["required-releases", "skips the required release 2.0.0"]);
    assert_not_run(&s);
    // An unsupported hop, naming the hops that work.
    install(&s, &m, "1.0.0", "2.0.0")
        .run()
        .expect_code(1)
        .stderr_has(&[
            "supported-hop",
            "2.0.0 accepts upgrades from >=1.2.0",
            "hops that work from 1.0.0: 1.4.0",
        ]);
    assert_not_run(&s);
    // One check failing leaves the others passing: preflight says which.
    let o = handoff()
        .args(["preflight", "--json", "--mirror", &m, "--trust"])
        .arg(&s.policy)
        .args([
            "--current",
            "1.4.0",
            "--channel",
            "stable",
            "--profile",
            "no-training",
            "--version",
            "2.2.0",
            "--to",
        ])
        .arg(&s.to)
        .run();
    o.expect_code(1);
    let v = o.json();
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["required-releases"]);
}

#[test]
fn licenses_by_another_key_or_for_another_profile_are_refused() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    let other_key = issue_license(&s, "org1", "no-training", 365, "org1.license");
    install(&s, &m, "2.4.0", "3.2.1")
        .arg("--license")
        .arg(&other_key)
        .run()
        .expect_code(1)
        .stderr_has(&["license: measured license refused", "org1.license.minisig"]);
    assert_not_run(&s);
    let other_profile = issue_license(&s, "vendor", "default", 365, "default.license");
    install(&s, &m, "2.4.0", "3.2.1")
        .arg("--license")
        .arg(&other_profile)
        .run()
        .expect_code(1)
        .stderr_has(&["licenses the default profile, not no-training"]);
    assert_not_run(&s);
}

/// Issue 10: a license whose `issued` lies in the future is not valid
/// yet: the license check fails with both times, nothing runs. A day
/// ahead fails; a minute ahead (clock skew) passes.
#[test]
fn a_license_issued_in_the_future_is_not_valid_yet() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    for (file, issued, ok) in [
        ("future.license", date_in(1), false),
        (
            "skew.license",
            {
                let t = ferry_manifests::time::Timestamp::now()
                    .plus(ferry_manifests::time::Duration(60));
                t.to_string()
            },
            true,
        ),
    ] {
        let out = s.dir.join(file);
        cmd("ferry")
            .args(["license", "issue", "--key"])
            .arg(demo_key("vendor"))
            .args(["--product", "novantra", "--profile", "no-training"])
            .args(["--licensee", "Example Hospital", "--expires", &date_in(400)])
            .args(["--issued", &issued, "--out"])
            .arg(&out)
            .run()
            .ok();
        let run = install(&s, &m, "2.4.0", "3.2.1")
            .arg("--license")
            .arg(&out)
            .run();
        if ok {
            run.ok();
        } else {
            run.expect_code(1)
                .stderr_has(&["license refused", "issued", "lies in the future"]);
            assert_not_run(&s);
        }
    }
}

#[test]
fn a_byte_flipped_on_the_mirror_is_refused_and_nothing_runs() {
    let s = site(CATALOGUE);
    let p = s.mirror.join(artifact_path("3.2.1", "no-training"));
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[1000] ^= 0x01;
    std::fs::write(&p, bytes).unwrap();
    let server = StaticServer::start(&s.mirror, "127.0.0.1:0".parse().unwrap()).unwrap();
    for m in [server.url(), s.mirror.display().to_string()] {
        install(&s, &m, "2.4.0", "3.2.1")
            .run()
            .expect_code(1)
            .stderr_has(&["novantra_3.2.1_no-training_amd64.deb", "sha256 mismatch"]);
        assert_not_run(&s);
        assert_eq!(
            std::fs::read_dir(&s.to).unwrap().count(),
            0,
            "{m}: --to is not empty"
        );
    }
}

#[test]
fn a_health_url_that_never_answers_2xx_runs_the_rollback() {
    let s = site(CATALOGUE);
    let health_root = s.dir.join("health");
    std::fs::create_dir_all(&health_root).unwrap();
    std::fs::write(health_root.join("healthz"), b"ok").unwrap();
    let health = Server::start(&health_root);
    health.fault("/healthz", Fault::Status(500));
    let rolled = s.dir.join("rolled-back.txt");
    let m = s.mirror.display().to_string();
    install(&s, &m, "2.4.0", "3.2.1")
        .args([
            "--health-url",
            &health.url("/healthz"),
            "--health-timeout",
            "2s",
        ])
        .args([
            "--rollback",
            &format!("echo \"$FERRY_FAILED_STEP\" > '{}'", rolled.display()),
        ])
        .run()
        .expect_code(1)
        .stderr_has(&[
            "health-url",
            "HTTP 500",
            "the rollback succeeded (exit 0)",
            "handoff.json",
        ]);
    assert!(
        s.record.exists(),
        "the installer ran before the health check"
    );
    assert!(
        std::fs::read_to_string(&rolled)
            .unwrap()
            .starts_with("health-url ")
    );
    assert!(health.requests_for("/healthz").len() >= 2, "retried");
    let h: Value =
        serde_json::from_slice(&std::fs::read(s.to.join("handoff.json")).unwrap()).unwrap();
    assert!(
        h["failed_step"]
            .as_str()
            .unwrap()
            .starts_with("health-url http://127.0.0.1:")
    );
    assert_eq!(h["health"][0]["passed"], false);
    assert!(
        h["health"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 500")
    );
    assert_eq!(h["rollback"]["exit_code"], 0);
    assert_eq!(h["installer"]["exit_code"], 0);
    assert_eq!(h["status"], "rolled-back");

    // A failing installer: no health check, the rollback runs and fails too.
    std::fs::remove_file(s.to.join("handoff.json")).unwrap();
    handoff()
        .args(["install", "--mirror", &m, "--trust"])
        .arg(&s.policy)
        .args([
            "--current",
            "2.4.0",
            "--channel",
            "stable",
            "--profile",
            "no-training",
            "--version",
            "3.2.1",
            "--to",
        ])
        .arg(&s.to)
        .args(["--exec", "echo installing; exit 3", "--rollback", "exit 4"])
        .args(["--health-url", &health.url("/healthz")])
        .run()
        .expect_code(1)
        .stderr_has(&[
            "the installer failed (exit 3)",
            "the rollback FAILED (exit 4)",
            "installing",
        ]);
    let h: Value =
        serde_json::from_slice(&std::fs::read(s.to.join("handoff.json")).unwrap()).unwrap();
    assert_eq!(h["failed_step"], "installer");
    assert_eq!(h["installer"]["exit_code"], 3);
    assert_eq!(h["rollback"]["exit_code"], 4);
    assert_eq!(h["status"], "rollback-failed");
    assert!(h["health"].as_array().unwrap().is_empty());
}

#[test]
fn dry_run_changes_nothing() {
    let s = site(CATALOGUE);
    let before = snapshot(&s.to);
    let mirror_before = snapshot(&s.mirror);
    let m = s.mirror.display().to_string();
    with_good_checks(&s, install(&s, &m, "2.4.0", "3.2.1"))
        .arg("--dry-run")
        .run()
        .ok()
        .stdout_has(&[
            "plan: 2.4.0 -> 3.2.1",
            "PASS backup-age",
            "dry run: nothing was fetched",
        ]);
    assert_unchanged(&s.to, &before);
    assert_unchanged(&s.mirror, &mirror_before);
    assert!(!s.record.exists());
}

#[test]
fn help_has_examples() {
    for sub in ["check", "preflight", "install"] {
        handoff()
            .args([sub, "--help"])
            .run()
            .ok()
            .stdout_has(&["Examples:"]);
    }
    cmd("ferry")
        .args(["license", "issue", "--help"])
        .run()
        .ok()
        .stdout_has(&["Examples:"]);
}

#[test]
fn sigstore_is_checked_when_the_policy_requires_it() {
    let s = site(CATALOGUE);
    let case = ferry_tests::shared_dir().join("vectors/sigstore/conf-happy-path-v0.3");
    let gha = "https://token.actions.githubusercontent.com";
    let beacon = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    let policy_for = |san: &str| {
        ferry_tests::fixtures::policy_with(
            &s.dir,
            1,
            &format!(
                "require = [\"minisign\", \"sigstore\"]\nsigstore_trusted_root = {:?}\n[[vendor.sigstore_identity]]\nsan = {san:?}\nissuer = {gha:?}\n",
                case.join("trusted_root.json").display().to_string()
            ),
        )
    };
    let m = s.mirror.display().to_string();
    let artifact = std::fs::read(case.join("a.txt")).unwrap();
    // No bundle listed yet: refused before anything is written.
    policy_for(beacon);
    install(&s, &m, "2.4.0", "3.2.1")
        .run()
        .expect_code(1)
        .stderr_has(&[
            "no Sigstore bundle checkable with this policy",
            "refusing to hand it over",
        ]);
    assert_not_run(&s);
    let bundle = std::fs::read(case.join("bundle.sigstore.json")).unwrap();
    ferry_tests::mirror_fixture::replace_artifact(
        &s.mirror,
        "3.2.1",
        "no-training",
        &artifact,
        Some(&bundle),
    );
    // Another identity: refused, nothing handed over.
    policy_for("https://example.com/other");
    install(&s, &m, "2.4.0", "3.2.1")
        .run()
        .expect_code(1)
        .stderr_has(&["sigstore.json", "does not match expected identity"]);
    assert_not_run(&s);
    assert_eq!(std::fs::read_dir(&s.to).unwrap().count(), 0);
    // The vendor's identity: handed over, both signatures recorded.
    policy_for(beacon);
    install(&s, &m, "2.4.0", "3.2.1").run().ok();
    let h: Value =
        serde_json::from_slice(&std::fs::read(s.to.join("handoff.json")).unwrap()).unwrap();
    let sigs = h["artifact"]["signatures"].to_string();
    assert!(
        sigs.contains("minisign ") && sigs.contains(&format!("sigstore {beacon}")),
        "{sigs}"
    );
}

#[test]
fn a_feed_from_another_publish_or_a_missing_mirror_is_refused() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    let feed = s.mirror.join("feed/hints.json");
    let feed_sig = s.mirror.join("feed/hints.json.minisig");
    let (old, old_sig) = (
        std::fs::read(&feed).unwrap(),
        std::fs::read(&feed_sig).unwrap(),
    );
    let bytes = artifact_bytes("3.2.1", "no-training");
    ferry_tests::mirror_fixture::replace_artifact(&s.mirror, "3.2.1", "no-training", &bytes, None);
    check(&m, &s, "3.2.1").expect_code(0);
    // The old feed is validly signed, but of an earlier publish.
    std::fs::write(&feed, old).unwrap();
    std::fs::write(&feed_sig, old_sig).unwrap();
    ferry_tests::mirror_fixture::rewrap_published(&s.mirror);
    check(&m, &s, "3.2.1").expect_code(1).stderr_has(&[
        "published.json",
        "the feed is publish 2",
        "the index is publish 3",
    ]);
    // Without the envelope the four files disagree for good: refused
    // after a few tries, not taken for a publish in progress.
    std::fs::remove_file(s.mirror.join("published.json")).unwrap();
    check(&m, &s, "3.2.1").expect_code(1).stderr_has(&[
        "hints.json",
        "the feed is publish 2",
        "the index is publish 3",
    ]);
    // A URL that is no mirror: an environment error.
    let server = StaticServer::start(&s.dir, "127.0.0.1:0".parse().unwrap()).unwrap();
    check(&format!("{}nothing-here/", server.url()), &s, "3.2.1")
        .expect_code(3)
        .stderr_has(&["nothing-here/index.json", "404"]);
}

/// ATTACKS C11 (d): the installer reads the artifact by path from --to, so
/// a --to (or a folder above it) that another user can change lets them
/// swap the verified bytes before the installer runs: refused, nothing runs.
#[test]
fn a_to_folder_other_users_can_change_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(&s.to, 0o777);
    install(&s, &m, "2.4.0", "3.2.1")
        .run()
        .expect_code(1)
        .stderr_has(&[&s.to.display().to_string(), "writable by other users"]);
    assert_not_run(&s);
    assert_eq!(std::fs::read_dir(&s.to).unwrap().count(), 0);
    // Writable by a group other than the process's own: refused; by its
    // own group (a umask of 002): accepted below.
    mode(&s.to, 0o775);
    // (Changing a folder's group to a foreign one needs root.)
    if std::os::unix::fs::chown(&s.to, None, Some(54_321)).is_ok() {
        install(&s, &m, "2.4.0", "3.2.1")
            .run()
            .expect_code(1)
            .stderr_has(&[&s.to.display().to_string(), "writable by other users"]);
        assert_not_run(&s);
    }
    let my_gid = std::fs::metadata(&s.dir).unwrap();
    std::os::unix::fs::chown(
        &s.to,
        None,
        Some(std::os::unix::fs::MetadataExt::gid(&my_gid)),
    )
    .unwrap();
    mode(&s.dir, 0o777);
    install(&s, &m, "2.4.0", "3.2.1")
        .run()
        .expect_code(1)
        .stderr_has(&[&s.dir.display().to_string(), "writable by other users"]);
    assert_not_run(&s);
    mode(&s.dir, 0o700);
    // A --to that is a symlink held by a folder others can change.
    let shared = s.dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    mode(&shared, 0o777);
    let link = shared.join("in");
    std::os::unix::fs::symlink(&s.to, &link).unwrap();
    handoff()
        .args(["install", "--mirror", &m, "--trust"])
        .arg(&s.policy)
        .args(["--current", "2.4.0", "--channel", "stable"])
        .args(["--profile", "no-training", "--version", "3.2.1", "--to"])
        .arg(&link)
        .args(["--exec", &format!("touch '{}'", s.record.display())])
        .run()
        .expect_code(1)
        .stderr_has(&[
            &shared.display().to_string(),
            "writable by other users",
            // Issue 16: the old spelling of --target still works, with a note.
            "--version VERSION is deprecated for the version to install: use --target VERSION",
        ]);
    assert_not_run(&s);
    install(&s, &m, "2.4.0", "3.2.1").run().ok();
}

/// A pre-flight check never passes on a value it cannot trust: a backup
/// file dated in the future does not make an old backup fresh.
#[test]
fn a_backup_dated_in_the_future_does_not_pass_the_age_check() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    let b = backup_dated(&s.dir.join("future-backup"), 30 * 86_400);
    install(&s, &m, "2.4.0", "3.2.1")
        .arg("--backup")
        .arg(&b)
        .args(["--backup-max-age", "24h"])
        .run()
        .expect_code(1)
        .stderr_has(&["backup-age", "in the future"]);
    assert_not_run(&s);
}

/// ATTACKS A7 (silent removal): pruning the release that published an
/// advisory does not drop the advisory from the signed feed; hosts still
/// running an affected version are still told.
#[test]
fn prune_keeps_the_advisories_of_the_releases_it_removes() {
    let s = site(CATALOGUE);
    let dir = s.mirror.display().to_string();
    check(&dir, &s, "2.4.0").expect_code(11);
    cmd("ferry-mirror")
        .args(["prune"])
        .arg(&s.mirror)
        .args(["--keep", "1", "--key"])
        .arg(demo_key("mirror"))
        .arg("--trust")
        .arg(&s.policy)
        .run()
        .ok()
        .stdout_has(&["3.1.4"]);
    assert!(!s.mirror.join("releases/3.1.4").exists());
    let o = check(&dir, &s, "2.4.0");
    o.expect_code(11);
    assert_eq!(o.json()["advisories"][0]["id"], "NOV-2026-004");
    cmd("ferry-mirror")
        .args(["fsck"])
        .arg(&s.mirror)
        .arg("--trust")
        .arg(&s.policy)
        .run()
        .ok();
}

/// An artifact named like the hand-off record (`handoff.json`) would be
/// overwritten by the record before the installer runs, which would then
/// get the record instead of the verified bytes: refused, nothing runs.
#[test]
fn an_artifact_named_like_the_record_is_refused() {
    use ferry_manifests::path::BundlePath;
    use ferry_mirror_layout::mirror::Mirror;
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    let mirror = Mirror::open(&s.mirror).unwrap();
    let (mut index, _) = mirror.read_index(&mirror.recorded_keys().unwrap()).unwrap();
    let old = artifact_path("3.2.1", "no-training");
    let new = "releases/3.2.1/no-training/handoff.json";
    std::fs::rename(s.mirror.join(&old), s.mirror.join(new)).unwrap();
    for f in &mut index.files {
        if f.path.as_str() == old {
            f.path = BundlePath::new(new).unwrap();
        }
    }
    for r in &mut index.releases {
        for a in &mut r.artifacts {
            if a.path.as_str() == old {
                a.path = BundlePath::new(new).unwrap();
            }
        }
    }
    index.sequence += 1;
    mirror
        .publish(&index, &ferry_tests::fixtures::secret("mirror"))
        .unwrap();
    install(&s, &m, "2.4.0", "3.2.1")
        .run()
        .expect_code(1)
        .stderr_has(&["handoff.json"]);
    assert_not_run(&s);
}

/// Issue 10: a second install into the same `--to` keeps the first
/// record (as `handoff.1.json`), a third the second, never overwriting.
#[test]
fn every_handoff_record_is_kept() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    install(&s, &m, "2.4.0", "3.1.4").run().ok();
    let first = std::fs::read(s.to.join("handoff.json")).unwrap();
    install(&s, &m, "3.1.4", "3.2.1").run().ok();
    assert_eq!(std::fs::read(s.to.join("handoff.1.json")).unwrap(), first);
    let second = std::fs::read(s.to.join("handoff.json")).unwrap();
    assert_ne!(second, first);
    // An unrelated file already called handoff.2.json is never replaced.
    std::fs::write(s.to.join("handoff.2.json"), b"operator's notes").unwrap();
    install(&s, &m, "3.1.4", "3.2.1").run().ok();
    assert_eq!(
        std::fs::read(s.to.join("handoff.2.json")).unwrap(),
        b"operator's notes"
    );
    assert_eq!(std::fs::read(s.to.join("handoff.3.json")).unwrap(), second);
    for f in ["handoff.json", "handoff.1.json", "handoff.3.json"] {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(s.to.join(f)).unwrap()).unwrap();
        assert_eq!(v["schema"], "ferry.handoff/v1", "{f}");
    }
}

/// Issue 10: a licensee name with control characters (vendor-controlled
/// text) is printed escaped in the pre-flight lines.
#[test]
fn a_licensee_name_is_escaped_on_the_terminal() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    let lic = s.dir.join("ctl.license");
    cmd("ferry")
        .args(["license", "issue", "--key"])
        .arg(demo_key("vendor"))
        .args(["--product", "novantra", "--profile", "no-training"])
        .args([
            "--licensee",
            "Evil\u{1b}[2J\rok   backup-age: forged",
            "--expires",
            &date_in(400),
        ])
        .arg("--out")
        .arg(&lic)
        .run()
        .ok();
    let o = install(&s, &m, "2.4.0", "3.2.1")
        .arg("--license")
        .arg(&lic)
        .arg("--dry-run")
        .run();
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(!all.contains('\u{1b}') && !all.contains('\r'), "{all:?}");
    assert!(all.contains("Evil\\u{1b}[2J\\u{d}ok"), "{all}");
}

/// SPEC §5 rule 7 (issue 13's "hosts remember", the replay the review
/// found): once a host accepted index sequence N from a mirror, a validly
/// signed but older index from the same mirror (a replayed copy, in which
/// a release later yanked is not yet yanked) is refused with exit 1, and
/// nothing is installed.
#[test]
fn a_replayed_older_index_is_refused_once_a_newer_one_was_seen() {
    let s = site(CATALOGUE);
    let m = s.mirror.display().to_string();
    let state = s.dir.join("host-state");
    let with_state = |r: ferry_tests::Run| r.arg("--state").arg(&state);
    with_state(check_run(&m, &s, "3.1.4")).run().expect_code(10);
    // Keep the old publish, then the mirror publishes again.
    let files = [
        "index.json",
        "index.json.minisig",
        "feed/hints.json",
        "feed/hints.json.minisig",
        "published.json",
    ];
    let old: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(s.mirror.join(f)).unwrap())
        .collect();
    let bytes = artifact_bytes("3.2.1", "no-training");
    ferry_tests::mirror_fixture::replace_artifact(&s.mirror, "3.2.1", "no-training", &bytes, None);
    with_state(check_run(&m, &s, "3.1.4")).run().expect_code(10);
    // Replay the old, validly signed publish.
    for (f, b) in files.iter().zip(&old) {
        std::fs::write(s.mirror.join(f), b).unwrap();
    }
    with_state(check_run(&m, &s, "3.1.4"))
        .run()
        .expect_code(1)
        .stderr_has(&["older than index sequence", "replayed or frozen"]);
    with_state(install(&s, &m, "3.1.4", "3.2.1"))
        .run()
        .expect_code(1)
        .stderr_has(&["older than index sequence"]);
    assert_not_run(&s);
}
