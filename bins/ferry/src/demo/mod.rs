//! `ferry demo`: the whole flow of SPEC §1 on a built-in sample vendor,
//! served on 127.0.0.1, printing each equivalent command as it goes.
//!
//! Layout of `--dir DIR` (kept by every stage; see the README):
//! `DIR/vendor-src/` the sample vendor folder, `DIR/vendor/` its web root
//! (`index.json` + `index.json.minisig` at the top), `DIR/keys/` the
//! unencrypted demo keys, `DIR/policy/{connected,site}.toml`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ferry_bundle::{Format, Input, PackOptions, Repair, Split, VerifyOptions};
use ferry_cli::{Printer, UsageError};
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;
use ferry_manifests::vendor;
use ferry_mirror_layout::mirror::Mirror;
use ferry_net::serve::StaticServer;
use ferry_net::sync::SyncOptions;
use ferry_workspace::{SignOptions, Workspace};

mod sample;

/// The demo keys of `keys/demo/` (test-only, published on purpose).
const DEMO_KEYS: &[(&str, &str, &str)] = &[
    (
        "vendor",
        include_str!("../../../../keys/demo/vendor.key"),
        include_str!("../../../../keys/demo/vendor.pub"),
    ),
    (
        "org1",
        include_str!("../../../../keys/demo/org1.key"),
        include_str!("../../../../keys/demo/org1.pub"),
    ),
    (
        "org2",
        include_str!("../../../../keys/demo/org2.key"),
        include_str!("../../../../keys/demo/org2.pub"),
    ),
    (
        "org3",
        include_str!("../../../../keys/demo/org3.key"),
        include_str!("../../../../keys/demo/org3.pub"),
    ),
    (
        "mirror",
        include_str!("../../../../keys/demo/mirror.key"),
        include_str!("../../../../keys/demo/mirror.pub"),
    ),
];

/// Marks a folder as made by `ferry demo`, so a re-run may replace it.
const MARKER: &str = ".ferry-demo";

/// Run the whole flow on a built-in sample vendor "novantra", on 127.0.0.1
/// only, printing each equivalent command. Exits 0 by itself when done.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ferry demo\n  ferry demo --dir /tmp/ferry-demo          # keep everything it made\n  ferry demo --dir /tmp/ferry-demo --serve  # keep the servers up until Ctrl-C"
)]
pub(crate) struct DemoArgs {
    /// Keep everything under DIR (default: a temporary folder, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the servers running until Ctrl-C.
    #[arg(long)]
    serve: bool,
}

impl DemoArgs {
    pub(crate) fn run(self, printer: Printer) -> Result<()> {
        let temp;
        let dir = match &self.dir {
            Some(d) => {
                prepare_dir(d)?;
                d.clone()
            }
            None => {
                temp = tempfile::Builder::new()
                    .prefix("ferry-demo-")
                    .tempdir()
                    .context("create a temporary folder")?;
                temp.path().to_path_buf()
            }
        };
        let mut demo = Demo {
            dir,
            printer,
            servers: Vec::new(),
        };
        demo.stage_vendor()?;
        let index_url = demo.stage_serve_vendor()?;
        demo.stage_sync_sign(&index_url)?;
        demo.stage_pack_verify()?;
        let mirror_url = demo.stage_mirror()?;
        demo.stage_handoff(&mirror_url)?;
        demo.finish(self.serve, self.dir.is_some())
    }
}

struct Demo {
    dir: PathBuf,
    printer: Printer,
    servers: Vec<(String, StaticServer)>,
}

impl Demo {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn step(&self, title: &str) {
        self.printer.blank();
        self.printer.line(&format!("== {title}"));
    }

    fn command(&self, cmd: &str) {
        self.printer.line(&format!("   $ {cmd}"));
    }

    fn say(&self, s: &str) {
        self.printer.line(&format!("   {s}"));
    }

    /// Stage 1: keys, the sample vendor, its signed index, the two policies.
    fn stage_vendor(&mut self) -> Result<()> {
        self.step("Keys (unencrypted demo keys, test-only)");
        let keys = self.path("keys");
        std::fs::create_dir_all(&keys).with_context(|| format!("create {}", keys.display()))?;
        for (name, secret, public) in DEMO_KEYS {
            write_mode(&keys.join(format!("{name}.key")), secret.as_bytes(), 0o600)?;
            write_mode(&keys.join(format!("{name}.pub")), public.as_bytes(), 0o644)?;
        }
        self.say(&format!(
            "{}: vendor, org1, org2, org3, mirror (.key and .pub)",
            keys.display()
        ));
        self.say("real keys come from: ferry keygen --out keys/org-1");

        self.step("The vendor publishes a signed release index");
        let src = self.path("vendor-src");
        let (releases, artifacts) = sample::write_vendor_folder(&src)?;
        self.say(&format!(
            "sample vendor \"novantra\": {releases} releases, {artifacts} artifacts in {}",
            src.display()
        ));
        let web = self.path("vendor");
        self.command(&format!(
            "ferry index build --from {} --key {} --out {}",
            src.display(),
            keys.join("vendor.key").display(),
            web.display()
        ));
        let key = SecretKey::from_file(&keys.join("vendor.key"), None)?;
        let report = vendor::build_index(&src, &web, &key, Timestamp::now())?;
        self.say(&format!(
            "{} signed by vendor key {} (sha256 {})",
            report.index_path.display(),
            key.id(),
            report.index_sha256.short()
        ));

        self.step("Trust policies for the two sides");
        let policy = self.path("policy");
        std::fs::create_dir_all(&policy).with_context(|| format!("create {}", policy.display()))?;
        write_mode(
            &policy.join("connected.toml"),
            CONNECTED_POLICY.as_bytes(),
            0o644,
        )?;
        write_mode(&policy.join("site.toml"), SITE_POLICY.as_bytes(), 0o644)?;
        // Load them back: the demo must ship policies ferry accepts.
        ferry_manifests::policy::TrustPolicy::load(&policy.join("connected.toml"))?;
        ferry_manifests::policy::TrustPolicy::load(&policy.join("site.toml"))?;
        self.say(&format!(
            "{}: vendor key; org keys org1..org3, threshold 2",
            policy.join("connected.toml").display()
        ));
        self.say(&format!(
            "{}: the same, plus the mirror key; pinned to stable / no-training",
            policy.join("site.toml").display()
        ));
        Ok(())
    }

    /// Stage 2: the vendor's web root on a real HTTP server on 127.0.0.1.
    fn stage_serve_vendor(&mut self) -> Result<String> {
        self.step("The vendor's web server (127.0.0.1 only)");
        let server = StaticServer::start(&self.path("vendor"), "127.0.0.1:0".parse()?)?;
        let url = format!("{}index.json", server.url());
        self.say(&format!(
            "serving {} at {}",
            self.path("vendor").display(),
            server.url()
        ));
        self.servers.push(("vendor".into(), server));
        Ok(url)
    }

    /// Stage 3: the transfer operator syncs stable/no-training and two org
    /// keys sign the transfer manifest (threshold 2).
    fn stage_sync_sign(&mut self, index_url: &str) -> Result<()> {
        self.step("Transfer operator: sync stable / no-training, verified as it downloads");
        let ws = self.path("workspace");
        let connected = self.path("policy/connected.toml");
        self.command(&format!(
            "ferry sync --index {index_url} --trust {} --channel stable --profile no-training --workspace {}",
            connected.display(),
            ws.display()
        ));
        let policy = ferry_manifests::policy::TrustPolicy::load(&connected)?;
        let opts = SyncOptions {
            index_url: index_url.to_string(),
            channels: vec![Name::new("stable").map_err(anyhow::Error::msg)?],
            profiles: vec![Name::new("no-training").map_err(anyhow::Error::msg)?],
            versions: None,
            platforms: Vec::new(),
            workspace: ws.clone(),
            client: ferry_net::client::ClientOptions::default(),
            jobs: 4,
            retries: 3,
            allow_older_index: false,
        };
        let report = ferry_net::sync::sync_blocking(
            &opts,
            &policy,
            std::sync::Arc::new(ferry_net::progress::NoProgress),
        )?;
        let versions: Vec<String> = report
            .releases
            .iter()
            .map(|r| r.version.to_string())
            .collect();
        self.say(&format!(
            "{} file(s), {} bytes verified (size, SHA-256, vendor minisign): versions {}",
            report.files,
            report.bytes,
            versions.join(", ")
        ));
        self.say(
            "not taken: 3.0.0 (yanked), 4.0.0-rc.1 (preview only), every default-profile file",
        );

        self.step("Two holders of org keys sign the transfer manifest (2 of 3)");
        let workspace = Workspace::existing(&ws)?;
        for signer in ["org1", "org2"] {
            let key_path = self.path(&format!("keys/{signer}.key"));
            self.command(&format!(
                "ferry sign --workspace {} --key {}",
                ws.display(),
                key_path.display()
            ));
            let key = SecretKey::from_file(&key_path, None)?;
            let r = ferry_workspace::sign(
                &workspace,
                &key,
                SignOptions {
                    expires: ferry_manifests::time::Duration::days(30),
                    max_validity: policy.transfer()?.max_validity,
                    now: Timestamp::now(),
                    issued_elsewhere: 0,
                },
            )?;
            self.say(&format!(
                "{} ferry/manifest.json (sequence {}, sha256 {}), signature {}",
                if r.new_manifest {
                    "wrote"
                } else {
                    "co-signed, unchanged:"
                },
                r.sequence,
                r.manifest_sha256.short(),
                r.signature
            ));
        }
        self.say(&format!(
            "anyone with minisign can check one: minisign -Vm {0}/ferry/manifest.json -x {0}/ferry/signatures/<KEYID>.minisig -p {1}",
            ws.display(),
            self.path("keys/org1.pub").display()
        ));
        Ok(())
    }

    /// Stage 4: pack into USB-sized volumes with one parity volume, verify
    /// offline, damage a volume, repair it from parity, verify again.
    fn stage_pack_verify(&mut self) -> Result<()> {
        self.step("Pack the bundle: tar volumes of 8 MiB plus one Reed-Solomon parity volume");
        let ws = self.path("workspace");
        let out_dir = self.path("bundle");
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("create {}", out_dir.display()))?;
        let out = out_dir.join("novantra.tar");
        self.command(&format!(
            "ferry pack --workspace {} --out {} --split 8M --parity 1",
            ws.display(),
            out.display()
        ));
        let r = ferry_bundle::pack(
            &ws,
            &out,
            &PackOptions {
                format: Format::Tar,
                split: Some(Split(8 << 20)),
                parity: 1,
            },
        )?;
        self.say(&format!(
            "{}: {} file(s), {} bytes written",
            r.out.display(),
            r.files,
            r.bytes_written
        ));

        self.step("Mirror admin, offline: verify the bundle (one pass, no network)");
        let site = self.path("policy/site.toml");
        let volumes = out_dir.join("novantra.tar.volumes.json");
        self.command(&format!(
            "ferry-verify bundle {} --trust {}",
            volumes.display(),
            site.display()
        ));
        let policy = ferry_manifests::policy::TrustPolicy::load(&site)?;
        let opts = VerifyOptions {
            now: Timestamp::now(),
            state: None,
        };
        let input = Input::Path(volumes.clone());
        let report = ferry_bundle::verify_bundle(&input, &policy, &opts, &Repair::No)?;
        self.say(&format!(
            "verified: sequence {}, {} file(s), signed by {}",
            report.sequence,
            report.files.len(),
            report.signers.join(", ")
        ));

        self.step("A USB stick flips a bit: the damaged volume is named, then rebuilt from parity");
        let damaged = out_dir.join("novantra.tar.001");
        flip_byte(&damaged, 4096)?;
        self.say(&format!("flipped one byte of {}", damaged.display()));
        self.command(&format!(
            "ferry-verify bundle {} --trust {}",
            volumes.display(),
            site.display()
        ));
        match ferry_bundle::verify_bundle(&input, &policy, &opts, &Repair::No) {
            Ok(_) => bail!(
                "the demo damaged {} but verification still passed",
                damaged.display()
            ),
            Err(e) => self.say(&format!("refused, as it must be: {e}")),
        }
        self.command(&format!(
            "ferry-verify bundle {} --trust {} --repair",
            volumes.display(),
            site.display()
        ));
        let repaired = ferry_bundle::verify_bundle(&input, &policy, &opts, &Repair::Beside)?;
        for r in &repaired.repaired {
            self.say(&format!(
                "rebuilt: {}",
                serde_json::to_string(r).unwrap_or_default()
            ));
        }
        self.say("the rebuilt bytes verified like any others");
        let fixed = out_dir.join("novantra.tar.001.repaired");
        std::fs::rename(&fixed, &damaged)
            .with_context(|| format!("move {} into place", fixed.display()))?;
        self.command(&format!("mv {} {}", fixed.display(), damaged.display()));
        ferry_bundle::verify_bundle(&input, &policy, &opts, &Repair::No)?;
        self.say("verified again with the repaired volume in place");
        Ok(())
    }

    /// Stage 5: the mirror admin imports the verified bundle into the
    /// internal signed mirror and serves it.
    fn stage_mirror(&mut self) -> Result<String> {
        self.step(
            "Mirror admin: create the internal mirror, import the bundle, check it, serve it",
        );
        let root = self.path("mirror");
        let key_path = self.path("keys/mirror.key");
        let site = self.path("policy/site.toml");
        let volumes = self.path("bundle/novantra.tar.volumes.json");
        self.command(&format!(
            "ferry-mirror init {} --product novantra --channel stable --profile no-training --key {}",
            root.display(),
            key_path.display()
        ));
        let key = SecretKey::from_file(&key_path, None)?;
        let name = |s: &str| Name::new(s).map_err(anyhow::Error::msg);
        let mirror = Mirror::init(
            &root,
            name("novantra")?,
            vec![name("stable")?],
            vec![name("no-training")?],
            &key,
            Timestamp::now(),
        )?;
        self.command(&format!(
            "ferry-mirror import {} --mirror {} --trust {} --key {}",
            volumes.display(),
            root.display(),
            site.display(),
            key_path.display()
        ));
        let policy = ferry_manifests::policy::TrustPolicy::load(&site)?;
        let outcome = {
            let lock = mirror.lock()?;
            mirror.import(
                &lock,
                &Input::Path(volumes),
                &policy,
                &key,
                Timestamp::now(),
            )?
        };
        self.say(&format!(
            "imported manifest {} (sequence {}): versions {}; {} file(s), {} bytes; index sequence {}",
            outcome.manifest_sha256.short(),
            outcome.manifest_sequence,
            outcome.releases.join(", "),
            outcome.files_added,
            outcome.bytes_added,
            outcome.index_sequence
        ));
        self.command(&format!(
            "ferry-mirror fsck {} --trust {}",
            root.display(),
            site.display()
        ));
        let report = mirror.fsck(&policy.mirror()?.keys)?;
        if !report.problems.is_empty() {
            bail!(
                "fsck of the fresh mirror found problems: {:?}",
                report.problems
            );
        }
        self.say(&format!(
            "{} file(s), {} bytes re-hashed against the signed index: no problems",
            report.files, report.bytes
        ));
        self.command(&format!(
            "ferry-verify audit-log {}/audit/log.jsonl --index {}/index.json --trust {}",
            root.display(),
            root.display(),
            site.display()
        ));
        self.command(&format!(
            "ferry-mirror serve {} --listen 127.0.0.1:8080",
            root.display()
        ));
        let server = ferry_net::mirror_serve::start(&root, "127.0.0.1:0".parse()?)?;
        let url = server.url();
        self.say(&format!(
            "mirror served at {url} (status page at /, health at /healthz)"
        ));
        self.servers.push(("mirror status page".into(), server));
        Ok(url)
    }

    /// Stage 6: a product host on an old no-training version asks the
    /// served mirror what to do, and hands the next hop to the installer.
    fn stage_handoff(&mut self, mirror_url: &str) -> Result<()> {
        use ferry_handoff_core::{self as handoff, Selector, install, preflight};
        self.step("Product operator: a host on 1.4.0 (no-training) asks the mirror what to do");
        let site = self.path("policy/site.toml");
        let policy = ferry_manifests::policy::TrustPolicy::load(&site)?;
        let current = semver::Version::new(1, 4, 0);
        self.command(&format!(
            "ferry-handoff check --mirror {mirror_url} --trust {} --current {current} --channel stable --profile no-training --platform linux-amd64",
            site.display()
        ));
        let client = ferry_net::client::ClientOptions::default();
        let source = ferry_net::mirror_client::HttpMirror::new(mirror_url, &client)?;
        let now = Timestamp::now();
        let verified = handoff::load(&source, &policy, now)?;
        let sel = Selector::new("stable", "no-training", Some("linux-amd64"))
            .map_err(anyhow::Error::msg)?;
        let report = handoff::check(&verified, &policy, &sel, &current)?;
        let path: Vec<String> = report.path.iter().map(ToString::to_string).collect();
        self.say(&format!(
            "latest {}; upgrade path {current} -> {}",
            report.latest,
            path.join(" -> ")
        ));
        self.say("2.0.0 is a required release (a data migration): no path may skip it");
        for a in &report.advisories {
            self.say(&format!(
                "advisory {} ({:?}) affects {current}: {} (fixed in {})",
                a.id,
                a.severity,
                a.summary,
                a.fixed_in.as_ref().map_or("-".into(), ToString::to_string)
            ));
        }
        self.say(&format!(
            "status: {:?} (exit code {})",
            report.status,
            report.status.exit_code()
        ));

        let next = report
            .path
            .first()
            .cloned()
            .context("the demo expects an upgrade path")?;
        self.step(&format!(
            "Product operator: pre-flight checks, then hand {next} to the installer"
        ));
        let host = self.path("host");
        let backup = host.join("backups");
        let data = host.join("data");
        std::fs::create_dir_all(&backup)?;
        std::fs::create_dir_all(&data)?;
        std::fs::write(
            backup.join("novantra-db.dump"),
            b"sample backup written just now by the demo\n",
        )?;
        std::fs::write(data.join("novantra.db"), vec![0u8; 64 * 1024])?;
        // A vendor-signed license for this site (demo vendor key).
        let license = host.join("license.json");
        let vendor_key = SecretKey::from_file(&self.path("keys/vendor.key"), None)?;
        let lic = ferry_manifests::license::License {
            schema: ferry_manifests::license::SCHEMA.to_string(),
            product: Name::new("novantra").map_err(anyhow::Error::msg)?,
            profile: Name::new("no-training").map_err(anyhow::Error::msg)?,
            licensee: "Demo Site".into(),
            issued: now,
            expires: now.plus(ferry_manifests::time::Duration::days(365)),
        };
        let bytes = lic.to_bytes();
        std::fs::write(&license, &bytes)?;
        std::fs::write(
            host.join("license.json.minisig"),
            ferry_manifests::license::License::sign(&bytes, &lic.product, &vendor_key)?,
        )?;
        self.command(&format!(
            "ferry license issue --key {} --product novantra --profile no-training --licensee 'Demo Site' --expires {} --out {}",
            self.path("keys/vendor.key").display(),
            lic.expires,
            license.display()
        ));
        let installer = host.join("install.sh");
        let record = host.join("installer-received.txt");
        write_mode(
            &installer,
            format!(
                "#!/bin/sh\n# Sample installer: records what ferry handed over.\n{{\n  echo \"FERRY_VERSION=$FERRY_VERSION\"\n  echo \"FERRY_ARTIFACT=$FERRY_ARTIFACT\"\n  echo \"FERRY_HANDOFF=$FERRY_HANDOFF\"\n  echo \"sha256=$(sha256sum \"$FERRY_ARTIFACT\" | cut -d' ' -f1)\"\n}} > '{}'\n",
                record.display()
            )
            .as_bytes(),
            0o755,
        )?;
        let to = host.join("incoming");
        std::fs::create_dir_all(&to).with_context(|| format!("create {}", to.display()))?;
        self.command(&format!(
            "ferry-handoff install --mirror {mirror_url} --trust {} --current {current} --channel stable --profile no-training --platform linux-amd64 --version {next} --to {} --exec {} --backup {} --backup-max-age 24h --license {} --data-dir {}",
            site.display(),
            to.display(),
            installer.display(),
            backup.display(),
            license.display(),
            data.display()
        ));
        let inputs = preflight::Inputs {
            current: current.clone(),
            target: next.clone(),
            backup: Some((backup, ferry_manifests::time::Duration(24 * 3600))),
            license: Some(preflight::LicenseInput::File(license)),
            license_min_days: 30,
            data_dir: Some(data),
            now,
        };
        let planned = install::prepare(&verified, &policy, &sel, &inputs)?;
        for c in &planned.checks {
            self.say(&format!(
                "{} {}: {}",
                if c.passed { "pass" } else { "FAIL" },
                c.name,
                c.measured
            ));
        }
        let actions = install::Actions {
            to,
            exec: Some(format!("sh {}", installer.display())),
            health_urls: Vec::new(),
            health_cmd: None,
            health_timeout: std::time::Duration::from_secs(30),
            rollback: None,
        };
        let probe = ferry_net::mirror_client::HttpClient::new(&client)?;
        let printer = self.printer;
        let ctx = install::InstallContext {
            source: &source,
            probe: &probe,
            mirror: &verified,
            policy: &policy,
            sel: &sel,
        };
        let outcome = install::install(&ctx, &planned, &actions, now, &|line| {
            printer.info(&format!("   {line}"))
        })?;
        if outcome.failed() {
            bail!(
                "the demo's sample installer failed; see {}",
                outcome.record_path.display()
            );
        }
        self.say(&format!(
            "handed over, verified: {}",
            outcome.record_path.display()
        ));
        let received = std::fs::read_to_string(&record)
            .with_context(|| format!("read {}", record.display()))?;
        for line in received.lines() {
            self.say(&format!("installer received {line}"));
        }
        Ok(())
    }

    fn finish(&self, serve: bool, kept: bool) -> Result<()> {
        self.step("Done");
        if kept {
            self.say(&format!("everything is under {}", self.dir.display()));
        }
        if serve {
            for (name, s) in &self.servers {
                self.say(&format!("{name}: {}", s.url()));
            }
            self.say("serving until Ctrl-C");
            wait_for_ctrl_c()?;
        }
        Ok(())
    }
}

const CONNECTED_POLICY: &str = r#"# Trust policy of the connected (transfer) side. Demo keys: test-only.
product = "novantra"

[vendor]
minisign_keys = ["../keys/vendor.pub"]
require = ["minisign"]

[transfer]
keys = ["../keys/org1.pub", "../keys/org2.pub", "../keys/org3.pub"]
threshold = 2
max_validity = "45d"
"#;

const SITE_POLICY: &str = r#"# Trust policy of the air-gapped site. Demo keys: test-only.
product = "novantra"

[vendor]
minisign_keys = ["../keys/vendor.pub"]
require = ["minisign"]

[transfer]
keys = ["../keys/org1.pub", "../keys/org2.pub", "../keys/org3.pub"]
threshold = 2
max_validity = "45d"

[mirror]
keys = ["../keys/mirror.pub"]
channels = ["stable"]
profiles = ["no-training"]
"#;

/// Makes `dir` ready: create it, or accept it if empty or made by an
/// earlier demo (then its demo folders are replaced). Anything else is
/// refused, so the demo never deletes files it did not make.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?;
        let empty = entries.next().is_none();
        if !empty {
            if !dir.join(MARKER).exists() {
                bail!(UsageError(format!(
                    "{} is not empty and was not made by `ferry demo`; choose an empty or new folder",
                    dir.display()
                )));
            }
            for sub in [
                "vendor-src",
                "vendor",
                "keys",
                "policy",
                "workspace",
                "bundle",
                "mirror",
                "host",
            ] {
                let p = dir.join(sub);
                if p.exists() {
                    std::fs::remove_dir_all(&p)
                        .with_context(|| format!("remove {}", p.display()))?;
                }
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), b"made by ferry demo; safe to delete\n")
        .with_context(|| format!("write {}", dir.join(MARKER).display()))?;
    Ok(())
}

/// Flips one byte of a file in place (the demo's simulated bad USB stick).
fn flip_byte(path: &Path, offset: u64) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut b)?;
    b[0] ^= 0x40;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(&b)?;
    Ok(())
}

/// Blocks until SIGINT (Ctrl-C).
fn wait_for_ctrl_c() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(tokio::signal::ctrl_c())?;
    Ok(())
}

fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}
