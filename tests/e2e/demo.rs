//! The README's demo command: the whole flow on the sample vendor.

use ferry_tests::cmd;

#[test]
fn demo_runs_the_flow_and_keeps_its_documented_layout() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("demo");
    let o = cmd("ferry")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["demo", "--dir"])
        .arg(&dir)
        .run();
    o.ok().stdout_has(&[
        "ferry index build",
        "ferry sync",
        "ferry sign",
        "ferry pack",
        "ferry-verify bundle",
        "refused, as it must be: novantra.tar.001",
        "verified again",
        "ferry-mirror import",
        "no problems",
        "upgrade path 1.4.0 -> 2.0.0 -> 3.2.1",
        "advisory NOV-2026-004",
        "installer received FERRY_VERSION=2.0.0",
        // The key rotation (issue 13): org2 lost, org4 and mirror2 in.
        "ferry trust new",
        "version 2: transfer: dropped key",
        "trust chain version(s) [2] applied",
        "refused (exit 1)",
        "trust chain version 2 learned from the mirror's trust/",
        // Issue 12: the image path, from the vendor's registry (ferry's
        // own registry code) to the container host's installer.
        "--registry-http 127.0.0.1:",
        // 5 versions x 6 blobs carried; the mirror keeps the 2 shared layers once.
        "the versions' layouts hold 30 blobs",
        "the mirror's oci/ stores 22 blobs",
        "--platform linux-arm64 --target 2.0.0",
        "installer received FERRY_IMAGE=127.0.0.1:",
        "docker pull --platform linux/arm64 127.0.0.1:",
        "skopeo copy --all --preserve-digests --src-tls-verify=false docker://127.0.0.1:",
    ]);
    for p in [
        "vendor/index.json",
        "vendor/index.json.minisig",
        "keys/vendor.key",
        "keys/mirror.pub",
        "policy/connected.toml",
        "policy/site.toml",
        "workspace/ferry/manifest.json",
        "bundle/novantra.tar.volumes.json",
        "mirror/index.json.minisig",
        "mirror/feed/hints.json",
        "mirror/audit/log.jsonl",
        "host/incoming/handoff.json",
        "host/installer-received.txt",
        "registry/index.json",
        "vendor-src/2.0.0/no-training/onprem.oci/index.json",
        "vendor/2.0.0/no-training/onprem.minisig",
        "workspace/releases/2.0.0/no-training/onprem.oci/index.json",
        "host-images/incoming/onprem-2.0.0.oci.tar",
        "host-images/installer-received.txt",
        "chain/2.json",
        "mirror/trust/2.json",
        "policy/site.toml.state/trust.json",
        "policy/host.toml.state/trust.json",
    ] {
        assert!(dir.join(p).exists(), "{p} missing");
    }
    // Nothing of the default profile or of a preview-only / yanked release crossed.
    let m = std::fs::read_to_string(dir.join("workspace/ferry/manifest.json")).unwrap();
    assert!(
        !m.contains("/default/") && !m.contains("4.0.0-rc.1") && !m.contains("releases/3.0.0"),
        "{m}"
    );
    // The installer received exactly the verified bytes the mirror holds.
    let received = std::fs::read_to_string(dir.join("host/installer-received.txt")).unwrap();
    let artifact = dir.join("mirror/releases/2.0.0/no-training/novantra_2.0.0_amd64.deb");
    let digest = ferry_tests::sha256_hex(&std::fs::read(artifact).unwrap());
    assert!(received.contains(&format!("sha256={digest}")), "{received}");
    // The container host's installer got the mirror reference by the
    // digest the vendor's signed index pins, and the verified archive.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("vendor/index.json")).unwrap()).unwrap();
    let pinned = index["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["version"] == "2.0.0")
        .flat_map(|r| r["artifacts"].as_array().unwrap())
        .find(|a| a["format"] == "oci" && a["profile"] == "no-training")
        .expect("2.0.0 has a no-training image")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(pinned.starts_with("sha256:"), "{pinned}");
    let received = std::fs::read_to_string(dir.join("host-images/installer-received.txt")).unwrap();
    let image = received
        .lines()
        .find_map(|l| l.strip_prefix("FERRY_IMAGE="))
        .unwrap_or_else(|| panic!("no FERRY_IMAGE: {received}"));
    assert!(
        image.starts_with("127.0.0.1:") && image.ends_with(&format!("/novantra/onprem@{pinned}")),
        "{image}"
    );
    let archive = std::fs::read(dir.join("host-images/incoming/onprem-2.0.0.oci.tar")).unwrap();
    let digest = ferry_tests::sha256_hex(&archive);
    assert!(received.contains(&format!("sha256={digest}")), "{received}");
    // The mirror the demo made passes the real fsck and audit-log checks.
    cmd("ferry-mirror")
        .args(["fsck"])
        .arg(dir.join("mirror"))
        .arg("--trust")
        .arg(dir.join("policy/site.toml"))
        .run()
        .ok();
    cmd("ferry-verify")
        .args(["audit-log"])
        .arg(dir.join("mirror/audit/log.jsonl"))
        .arg("--index")
        .arg(dir.join("mirror/index.json"))
        .arg("--trust")
        .arg(dir.join("policy/site.toml"))
        .run()
        .ok();
    // Issue 10: the demo mirror carries two platforms. Without --platform
    // the host's own is taken (SPEC §4); one the mirror does not carry is
    // exit 2 listing those it does, never a refusal blaming the profile.
    let check = |extra: &[&str]| {
        cmd("ferry-handoff")
            .args(["check", "--mirror"])
            .arg(dir.join("mirror"))
            .arg("--trust")
            .arg(dir.join("policy/site.toml"))
            .args([
                "--current",
                "1.4.0",
                "--channel",
                "stable",
                "--profile",
                "no-training",
            ])
            .args(extra)
            .args(["--json"])
            .run()
    };
    let host = ferry_handoff_core::host_platform();
    if host.as_deref() == Some("linux-amd64") || host.as_deref() == Some("linux-arm64") {
        let o = check(&[]);
        o.expect_code(11);
        assert_eq!(o.json()["path"], serde_json::json!(["2.0.0", "3.2.1"]));
    }
    check(&["--platform", "linux-s390x"])
        .expect_code(2)
        .stderr_has(&["--platform", "linux-amd64, linux-arm64"]);
    // A second run over its own folder works; a foreign non-empty folder is refused untouched.
    cmd("ferry")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["-q", "demo", "--dir"])
        .arg(&dir)
        .run()
        .ok();
    let foreign = t.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("precious"), b"keep me").unwrap();
    cmd("ferry")
        .args(["demo", "--dir"])
        .arg(&foreign)
        .run()
        .expect_code(2)
        .stderr_has(&["not made by `ferry demo`"]);
    assert_eq!(std::fs::read(foreign.join("precious")).unwrap(), b"keep me");
}
