//! Issue 13: the trust chain (SPEC §3.11) through the real binaries: key
//! rotation from the USB stick to the mirror to a product host, dropped
//! keys counting nowhere, the chain's refusals, mirror key rotation, and a
//! SIGKILL during the mirror's application of a chain.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry_tests::{Output, assert_unchanged, bin, cmd, demo_key, demo_pub, snapshot};

use crate::mirror::{World, ferry, handoff_check, pack_ws, sync_versions};

/// Appends `[root]` (root1–root3, threshold 2) to a policy file.
fn with_root(policy: &Path) {
    let mut text = std::fs::read_to_string(policy).expect("policy");
    text.push_str(&format!(
        "\n[root]\nkeys = [\"{}\", \"{}\", \"{}\"]\nthreshold = 2\n",
        demo_pub("root1").display(),
        demo_pub("root2").display(),
        demo_pub("root3").display()
    ));
    std::fs::write(policy, text).expect("write policy");
}

/// A copy of `policy` in a folder of its own (another host: its own state).
fn host_policy(w: &World, name: &str) -> PathBuf {
    let dir = w.path(name);
    std::fs::create_dir_all(&dir).expect("host dir");
    let p = dir.join("ferry-trust.toml");
    std::fs::copy(&w.policy, &p).expect("copy policy");
    p
}

/// `ferry trust new --from FROM --set … --out OUT`.
fn trust_new(from: &Path, sets: &[String], out: &Path) -> Output {
    let mut c = ferry().args(["trust", "new", "--from"]).arg(from);
    for s in sets {
        c = c.arg("--set").arg(s);
    }
    c.arg("--out").arg(out).run()
}

/// `ferry trust sign FILE --key <demo key>`.
fn trust_sign(file: &Path, key: &str) -> Output {
    ferry()
        .args(["trust", "sign"])
        .arg(file)
        .arg("--key")
        .arg(demo_key(key))
        .run()
}

fn keys(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| demo_pub(n).display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `ferry sign` with one state home for the whole test (the org's
/// machine: its sequence counter spans workspaces), optionally carrying a
/// chain.
fn sign(w: &World, ws: &Path, key: &str, chain: Option<&Path>) -> Output {
    let mut c = ferry()
        .env("XDG_STATE_HOME", w.path("org-state"))
        .args(["sign", "--workspace"])
        .arg(ws)
        .arg("--key")
        .arg(demo_key(key));
    if let Some(ch) = chain {
        c = c.arg("--trust-chain").arg(ch);
    }
    c.run()
}

/// Syncs `versions` into `ws`, signs it by `signers` (the first carrying
/// `chain`) and packs it into `name`.tar.
fn transfer(
    w: &World,
    tag: &str,
    versions: &[&str],
    signers: &[&str],
    chain: Option<&Path>,
) -> PathBuf {
    let ws = w.path(&format!("ws-{tag}"));
    sync_versions(w, tag, versions, &ws);
    for (i, k) in signers.iter().enumerate() {
        sign(w, &ws, k, if i == 0 { chain } else { None }).ok();
    }
    let b = w.path(&format!("{tag}.tar"));
    pack_ws(&ws, &b).ok();
    b
}

/// Version 2 that only adds org4 (org1 and org2, the fixtures' signers,
/// still count); signed by root1 and root2.
fn add_org4(w: &World) -> PathBuf {
    let chain = w.path("chain-add");
    let doc = chain.join("2.json");
    trust_new(
        &w.policy,
        &[format!(
            "transfer.keys={}",
            keys(&["org1", "org2", "org3", "org4"])
        )],
        &doc,
    )
    .ok();
    trust_sign(&doc, "root1").ok();
    trust_sign(&doc, "root2").ok();
    chain
}

/// Version 2: org2 "lost", org4 in; signed by root1 and root2.
fn rotate_org2_to_org4(w: &World) -> PathBuf {
    let chain = w.path("chain");
    let doc = chain.join("2.json");
    trust_new(
        &w.policy,
        &[format!("transfer.keys={}", keys(&["org1", "org3", "org4"]))],
        &doc,
    )
    .ok();
    trust_sign(&doc, "root1").ok();
    trust_sign(&doc, "root2").ok();
    chain
}

fn verify(bundle: &Path, policy: &Path) -> Output {
    cmd("ferry-verify")
        .args(["bundle"])
        .arg(bundle)
        .arg("--trust")
        .arg(policy)
        .run()
}

fn state_version(policy: &Path) -> Option<u64> {
    let p = PathBuf::from(format!("{}.state/trust.json", policy.display()));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v["version"].as_u64()
}

/// A first bundle (1.0.0, org1 + org2) imported: the mirror at version 1.
fn world_with_first_import() -> World {
    let w = World::new();
    with_root(&w.policy);
    let b1 = transfer(&w, "a", &["1.0.0"], &["org1", "org2"], None);
    w.import_now(&b1).ok();
    w
}

#[test]
fn an_org_key_rotation_travels_from_usb_to_mirror_to_host() {
    let w = world_with_first_import();
    let chain = rotate_org2_to_org4(&w);

    // The next transfer carries the chain and is signed by org1 + org4.
    let b2 = transfer(&w, "b", &["1.1.0"], &["org1", "org4"], Some(&chain));
    let ws = w.path("ws-b");

    // A verifier that never saw version 2 learns it from the bundle.
    let fresh = host_policy(&w, "usb-station");
    verify(&b2, &fresh)
        .ok()
        .stdout_has(&["trust chain version 2", "dropped key", "applied"]);
    assert_eq!(
        state_version(&fresh),
        None,
        "ferry-verify never writes state"
    );
    // For each carrier the same.
    for fmt in ["zip", "dir", "tar.gz"] {
        let out = w.path(&format!("b2.{fmt}"));
        ferry()
            .args(["pack", "--workspace"])
            .arg(&ws)
            .args(["--format", fmt, "--out"])
            .arg(&out)
            .run()
            .ok();
        verify(&out, &fresh)
            .ok()
            .stdout_has(&["trust chain version 2"]);
    }

    // The mirror imports it, keeps and serves the chain, records it.
    w.import_now(&b2)
        .ok()
        .stderr_has(&["trust chain version 2 applied"]);
    assert!(w.mirror.join("trust/2.json").is_file());
    assert_eq!(state_version(&w.policy), Some(2));
    let log = std::fs::read_to_string(w.mirror.join("audit/log.jsonl")).expect("log");
    assert!(log.contains("\"trust_applied\":[{"), "{log}");
    w.fsck().ok();
    w.audit_log().ok();

    // org2 counts nowhere now: org1 + org2 is one valid signature.
    let b3 = transfer(&w, "c", &["1.2.0"], &["org1", "org2"], None);
    verify(&b3, &w.policy)
        .expect_code(1)
        .stderr_has(&["1 valid signature(s) by distinct trusted keys, 2 required"]);
    let before = snapshot(&w.mirror);
    w.import_now(&b3)
        .expect_code(1)
        .stderr_has(&["1 valid signature(s)"]);
    assert_unchanged(&w.mirror, &before);

    // A product host that only talks to the mirror learns version 2.
    let host = host_policy(&w, "host");
    handoff_check(&w.mirror, &host, "1.0.0")
        .run()
        .expect_code(10);
    assert_eq!(state_version(&host), Some(2));

    // A replayed older chain (a folder with version 2 only, the host at
    // version 2) changes nothing; the report shows the chain.
    ferry()
        .args(["trust", "show"])
        .arg(&chain)
        .arg("--trust")
        .arg(&host)
        .run()
        .ok()
        .stdout_has(&["version 2 in force", "transfer: dropped key"]);
    cmd("ferry-verify")
        .args(["report"])
        .arg(&b2)
        .arg("--trust")
        .arg(&host)
        .run()
        .ok()
        .stdout_has(&["trust chain version 2", "signed by", "transfer: added key"]);
}

/// `ferry trust show DIR --trust POLICY`: whether the chain applies.
fn show(dir: &Path, policy: &Path) -> Output {
    ferry()
        .args(["trust", "show"])
        .arg(dir)
        .arg("--trust")
        .arg(policy)
        .run()
}

#[test]
fn chain_versions_that_do_not_count_are_refused() {
    let w = World::new();
    with_root(&w.policy);
    let ks = format!("transfer.keys={}", keys(&["org1", "org2", "org4"]));

    // One root key of threshold 2.
    let one = w.path("one");
    trust_new(&w.policy, std::slice::from_ref(&ks), &one.join("2.json")).ok();
    trust_sign(&one.join("2.json"), "root1").ok();
    show(&one, &w.policy).expect_code(1).stderr_has(&[
        "2.json (signatures by version 1's root keys): 1 valid signature(s)",
        "2 required",
    ]);

    // Signed by the old root keys only, not by the new root it names.
    let old_only = w.path("old-only");
    trust_new(
        &w.policy,
        &[
            ks.clone(),
            format!("root.keys={}", keys(&["root3", "org4"])),
        ],
        &old_only.join("2.json"),
    )
    .ok();
    trust_sign(&old_only.join("2.json"), "root1").ok();
    trust_sign(&old_only.join("2.json"), "root2").ok();
    show(&old_only, &w.policy)
        .expect_code(1)
        .stderr_has(&["(signatures by its own root keys): 0 valid signature(s)"]);

    // A proper version 2, then a version 4 with no 3: skipping refused.
    let good = w.path("good");
    trust_new(&w.policy, std::slice::from_ref(&ks), &good.join("2.json")).ok();
    trust_sign(&good.join("2.json"), "root1").ok();
    trust_sign(&good.join("2.json"), "root2").ok();
    show(&good, &w.policy)
        .ok()
        .stdout_has(&["version 2 in force"]);
    let skip = w.path("skip");
    std::fs::create_dir_all(&skip).expect("dir");
    for f in std::fs::read_dir(&good).expect("read") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, skip.join(f.file_name().expect("name"))).expect("copy");
    }
    trust_new(&good.join("2.json"), &[], &w.path("tmp3/3.json")).ok();
    let four = skip.join("4.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path("tmp3/3.json")).expect("3")).expect("json");
    doc["version"] = serde_json::json!(4);
    std::fs::write(&four, serde_json::to_vec_pretty(&doc).expect("ser")).expect("write");
    trust_sign(&four, "root1").ok();
    trust_sign(&four, "root2").ok();
    show(&skip, &w.policy)
        .expect_code(1)
        .stderr_has(&["version 4 does not follow version 2", "never skipped"]);

    // Equivocation: a site applied version 2 (through a real import with
    // its state folder); another document 2 appears.
    let host = host_policy(&w, "host");
    let state = PathBuf::from(format!("{}.state", host.display()));
    let w2 = World::new();
    std::fs::copy(&host, &w2.policy).expect("policy");
    let fx = w2.workspace("ws", 7, 0);
    copy_dir(&good, &fx.root.join("ferry/trust"));
    let b = w2.pack(&fx, "b");
    w2.import(&b, &["--trust-state"]).expect_code(2);
    w2.import(&b, &["--trust-state", &state.display().to_string()])
        .ok();
    assert!(state.join("trust.json").is_file());
    let other = w.path("other");
    trust_new(
        &w.policy,
        &[format!("transfer.keys={}", keys(&["org1", "org2"]))],
        &other.join("2.json"),
    )
    .ok();
    trust_sign(&other.join("2.json"), "root1").ok();
    trust_sign(&other.join("2.json"), "root2").ok();
    show(&other, &host).expect_code(1).stderr_has(&[
        "trust chain version 2 was already accepted with other bytes",
        "equivocation refused",
    ]);
    // The same document again: a repeat, nothing changes.
    show(&good, &host).ok().stdout_has(&["version 2 in force"]);

    // The site moves on to version 3; a replayed older chain (version 2
    // alone) then changes nothing: version 3 stays in force.
    let newer = w.path("newer");
    copy_dir(&good, &newer);
    trust_new(
        &newer.join("2.json"),
        &[format!("transfer.keys={}", keys(&["org1", "org2", "org3"]))],
        &newer.join("3.json"),
    )
    .ok();
    trust_sign(&newer.join("3.json"), "root1").ok();
    trust_sign(&newer.join("3.json"), "root2").ok();
    let fx8 = crate::mirror::derive(&fx, &w2.path("ws8"), 8);
    std::fs::remove_dir_all(fx8.root.join("ferry/trust")).expect("old chain");
    copy_dir(&newer, &fx8.root.join("ferry/trust"));
    let b8 = w2.pack(&fx8, "b8");
    w2.import(&b8, &["--trust-state", &state.display().to_string()])
        .ok()
        .stderr_has(&["trust chain version 3 applied"]);
    show(&good, &host).ok().stdout_has(&["version 3 in force"]);
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("trust.json")).expect("state"))
            .expect("json");
    assert_eq!(st["version"], 3);
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

#[test]
fn a_mirror_key_rotation_reaches_a_host_that_only_talks_to_the_mirror() {
    let w = world_with_first_import();
    let host = host_policy(&w, "host");
    handoff_check(&w.mirror, &host, "1.0.0")
        .run()
        .expect_code(0);
    let old_copy = w.path("mirror-before");
    copy_dir(&w.mirror, &old_copy);

    // Version 2 names mirror2; the next import re-signs with it.
    let chain = w.path("chain");
    trust_new(
        &w.policy,
        &[format!("mirror.keys={}", keys(&["mirror2"]))],
        &chain.join("2.json"),
    )
    .ok();
    trust_sign(&chain.join("2.json"), "root2").ok();
    trust_sign(&chain.join("2.json"), "root3").ok();
    let b2 = transfer(&w, "b", &["1.1.0"], &["org1", "org2"], Some(&chain));
    // The old mirror key no longer signs: refused, nothing changes.
    let before = snapshot(&w.mirror);
    w.import_now(&b2)
        .expect_code(1)
        .stderr_has(&["does not list the mirror key"]);
    assert_unchanged(&w.mirror, &before);
    cmd("ferry-mirror")
        .args(["import"])
        .arg(&b2)
        .arg("--mirror")
        .arg(&w.mirror)
        .arg("--trust")
        .arg(&w.policy)
        .arg("--key")
        .arg(demo_key("mirror2"))
        .run()
        .ok();
    assert!(
        std::fs::read_to_string(w.mirror.join("ferry-mirror.toml"))
            .expect("config")
            .contains(&ferry_tests::fixtures::key_id("mirror2"))
    );
    w.fsck().ok();

    // The host learns the new mirror key from the mirror alone.
    handoff_check(&w.mirror, &host, "1.0.0")
        .run()
        .expect_code(10)
        .stdout_has(&["1.1.0"]);
    assert_eq!(state_version(&host), Some(2));
    // A copy signed by the dropped key is refused there now (a fresh host
    // memory: the key alone decides), and nothing is installed.
    let o = handoff_check(&old_copy, &host, "1.0.0").run();
    o.expect_code(1);
    assert!(
        o.stderr.contains(&ferry_tests::fixtures::key_id("mirror")),
        "{}",
        o.stderr
    );
}

#[test]
fn a_chain_update_killed_at_every_step_on_the_mirror_is_old_or_new_trust() {
    let w = World::new();
    with_root(&w.policy);
    let chain = add_org4(&w);
    let fx = w.workspace("ws", 7, 2);
    copy_dir(&chain, &fx.root.join("ferry/trust"));
    let bundle = w.pack(&fx, "b7");
    let template = w.path("template");
    copy_dir(&w.mirror, &template);

    let list_mirror = w.path("list-mirror");
    copy_dir(&template, &list_mirror);
    let list = w.path("points.txt");
    crate::mirror::import_cmd(&list_mirror, &w.policy, &bundle)
        .arg("--trust-state")
        .arg(w.path("list-state"))
        .env("FERRY_FAILPOINT", "list")
        .env("FERRY_FAILPOINT_MARK", &list)
        .run()
        .ok();
    let points: Vec<String> = std::fs::read_to_string(&list)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let first_trust = points
        .iter()
        .position(|p| p == "staged-trust-1")
        .expect("the import stages the chain");
    let start = first_trust.saturating_sub(2);
    for (i, point) in points.iter().enumerate().skip(start) {
        let m = w.path(&format!("m-{i}"));
        copy_dir(&template, &m);
        let state = w.path(&format!("state-{i}"));
        let mark = w.path(&format!("mark-{i}"));
        let mut child = Command::new(bin("ferry-mirror"))
            .arg("import")
            .arg(&bundle)
            .arg("--mirror")
            .arg(&m)
            .arg("--trust")
            .arg(&w.policy)
            .arg("--trust-state")
            .arg(&state)
            .arg("--key")
            .arg(demo_key("mirror"))
            .args(["--now", ferry_tests::fixtures::NOW])
            .env("FERRY_FAILPOINT", point)
            .env("FERRY_FAILPOINT_MARK", &mark)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let t0 = std::time::Instant::now();
        while std::fs::read_to_string(&mark).ok().as_deref() != Some(point.as_str()) {
            assert!(
                child.try_wait().expect("wait").is_none(),
                "{point}: exited early"
            );
            assert!(t0.elapsed().as_secs() < 60, "{point} never reached");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        // The next command rolls forward or discards; then the mirror holds
        // the old trust (no trust/2.json, index 1) or the new one (the
        // document with both root signatures, the new index): never a mix.
        crate::mirror::fsck_of(&m, &w.policy).ok();
        let seq = index_sequence(&m);
        let doc = m.join("trust/2.json").is_file();
        let sigs = std::fs::read_dir(m.join("trust")).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".minisig"))
            })
            .count()
        });
        match seq {
            1 => assert!(
                !doc && sigs == 0,
                "{point}: old index with (part of) the new chain"
            ),
            _ => assert!(
                doc && sigs == 2,
                "{point}: new index without the whole chain"
            ),
        }
        // A re-run finishes, and the state then records version 2.
        crate::mirror::import_cmd(&m, &w.policy, &bundle)
            .arg("--trust-state")
            .arg(&state)
            .run()
            .ok();
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state.join("trust.json")).expect("state"))
                .expect("json");
        assert_eq!(st["version"], 2, "{point}");
        std::fs::remove_dir_all(&m).expect("cleanup");
    }
}

fn index_sequence(mirror: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mirror.join("index.json")).expect("index"))
            .expect("json");
    v["sequence"].as_u64().expect("sequence")
}
