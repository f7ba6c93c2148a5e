//! Issue 17: many files. `cargo test --release -p ferry-tests --test e2e --
//! --ignored scale --nocapture` times the import and the verify of a bundle
//! of N small artifacts (each with its vendor signature; N from
//! `FERRY_SCALE_FILES`, default 5,000: 10,001 files) against `tar xf` +
//! `sync -f` and `sha256sum -c` of the same bundle, with peak RSS. Not a
//! pass/fail test of speed (SPEC §6: ratios are measured by
//! scripts/bench.sh); it checks the import and verify succeed at scale.

use std::process::Command;
use std::time::Instant;

use crate::mirror::World;

fn timed(label: &str, c: &mut Command) -> f64 {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(c.get_program())
        .args(c.get_args())
        .current_dir(c.get_current_dir().unwrap_or(std::path::Path::new(".")))
        .output()
        .expect("run");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<u64>().ok())
        .unwrap_or(0);
    eprintln!("{label:<28} {secs:>7.2} s  peak RSS {:>6} MiB", rss / 1024);
    secs
}

#[test]
#[ignore = "timing run (issue 17); cargo test --release … -- --ignored scale --nocapture"]
fn many_small_files_import_and_verify() {
    let n: usize = std::env::var("FERRY_SCALE_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let w = World::new();
    let fx = w.workspace("ws", 7, n);
    let bundle = w.pack(&fx, "many");
    let files = fx.manifest["files"].as_array().expect("files").len();
    eprintln!("bundle: {files} listed files");
    let verify = timed(
        "ferry-verify bundle",
        Command::new(ferry_tests::bin("ferry-verify"))
            .arg("bundle")
            .arg(&bundle)
            .arg("--trust")
            .arg(&w.policy)
            .args(["--now", ferry_tests::fixtures::NOW]),
    );
    let untar = w.path("untar");
    std::fs::create_dir_all(&untar).expect("dir");
    let sums = timed(
        "sha256sum -c SHA256SUMS",
        Command::new("sh").arg("-c").arg(format!(
            "tar xf {} -C {} && cd {} && sha256sum -c --quiet ferry/SHA256SUMS",
            bundle.display(),
            untar.display(),
            untar.display()
        )),
    );
    let untar2 = w.path("untar2");
    std::fs::create_dir_all(&untar2).expect("dir");
    let tar = timed(
        "tar xf + sync -f",
        Command::new("sh").arg("-c").arg(format!(
            "tar xf {} -C {} && sync -f {}",
            bundle.display(),
            untar2.display(),
            untar2.display()
        )),
    );
    let import = timed(
        "ferry-mirror import",
        Command::new(ferry_tests::bin("ferry-mirror"))
            .arg("import")
            .arg(&bundle)
            .arg("--mirror")
            .arg(&w.mirror)
            .arg("--trust")
            .arg(&w.policy)
            .arg("--key")
            .arg(ferry_tests::demo_key("mirror"))
            .args(["--now", ferry_tests::fixtures::NOW]),
    );
    eprintln!(
        "import / (tar xf + sync -f) = {:.2}; verify / (tar xf + sha256sum -c) = {:.2}",
        import / tar,
        verify / sums
    );
    w.fsck().ok();
}
