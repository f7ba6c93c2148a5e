//! `ferry demo`: the whole flow of SPEC §1 on a built-in sample vendor,
//! served on 127.0.0.1, printing each equivalent command as it goes.
//!
//! Layout of `--dir DIR` (kept by every stage; see the README):
//! `DIR/vendor-src/` the sample vendor folder, `DIR/vendor/` its web root
//! (`index.json` + `index.json.minisig` at the top), `DIR/registry/` the
//! storage of its image registry (one OCI image layout), `DIR/keys/` the
//! unencrypted demo keys, `DIR/policy/{connected,site}.toml`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ferry_cli::{Printer, UsageError};
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;
use ferry_net::serve::StaticServer;

mod connected;
mod images;
mod offline;
mod rotation;
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
    (
        "org4",
        include_str!("../../../../keys/demo/org4.key"),
        include_str!("../../../../keys/demo/org4.pub"),
    ),
    (
        "mirror2",
        include_str!("../../../../keys/demo/mirror2.key"),
        include_str!("../../../../keys/demo/mirror2.pub"),
    ),
    (
        "root1",
        include_str!("../../../../keys/demo/root1.key"),
        include_str!("../../../../keys/demo/root1.pub"),
    ),
    (
        "root2",
        include_str!("../../../../keys/demo/root2.key"),
        include_str!("../../../../keys/demo/root2.pub"),
    ),
    (
        "root3",
        include_str!("../../../../keys/demo/root3.key"),
        include_str!("../../../../keys/demo/root3.pub"),
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
        let registry = demo.stage_vendor()?;
        let index_url = demo.stage_serve_vendor()?;
        demo.stage_sync_sign(&index_url, &registry)?;
        demo.stage_pack_verify()?;
        let mirror_url = demo.stage_mirror()?;
        demo.stage_rotate_keys()?;
        demo.stage_handoff(&mirror_url)?;
        demo.stage_handoff_image(&mirror_url)?;
        demo.finish(self.serve, self.dir.is_some())
    }
}

/// The product host's files the demo writes for the hand-off.
struct HostFiles {
    backup: PathBuf,
    data: PathBuf,
    license: PathBuf,
    installer: PathBuf,
    record: PathBuf,
    to: PathBuf,
}

/// The one hop the demo hands over: from `current` to `next`.
struct Hop<'a> {
    mirror_url: &'a str,
    site: &'a std::path::Path,
    platform: &'a str,
    current: semver::Version,
    next: semver::Version,
    now: Timestamp,
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

    /// Stage 6: a product host on an old no-training version asks the
    /// served mirror what to do, and hands the next hop to the installer.
    fn stage_handoff(&mut self, mirror_url: &str) -> Result<()> {
        use ferry_handoff_core::{self as handoff, Selector};
        self.step("Product operator: a host on 1.4.0 (no-training) asks the mirror what to do");
        // The host has its own copy of the site policy, with no trust state:
        // it learns the rotated keys from the mirror's chain alone.
        let site = self.path("policy/host.toml");
        std::fs::write(&site, SITE_POLICY).with_context(|| format!("write {}", site.display()))?;
        let loaded = ferry_cli::trust::load_policy(&site, None, Timestamp::now())?;
        let current = semver::Version::new(1, 4, 0);
        self.command(&format!(
            "ferry-handoff check --mirror {mirror_url} --trust {} --current {current} --channel stable --profile no-training --platform linux-amd64",
            site.display()
        ));
        let client = ferry_net::client::ClientOptions::default();
        let source = ferry_net::mirror_client::HttpMirror::new(mirror_url, &client)?;
        let now = Timestamp::now();
        let verified = handoff::load(&source, &loaded.policy, now)?;
        loaded.record(&verified.policy, now)?;
        let policy = verified.policy.clone();
        self.say(&format!(
            "trust chain version {} learned from the mirror's trust/: the index verified with mirror key {}",
            policy.trust_version(),
            policy
                .mirror()?
                .keys
                .keys()
                .iter()
                .map(|k| k.id().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let sel = Selector::new("stable", "no-training", Some("linux-amd64"))
            .map_err(anyhow::Error::msg)?;
        let report = handoff::check(&verified, &policy, &sel, &current)?;
        self.say_check_report(&report, &current);

        let next = report
            .path
            .first()
            .cloned()
            .context("the demo expects an upgrade path")?;
        self.step(&format!(
            "Product operator: pre-flight checks, then hand {next} to the installer"
        ));
        let host = self.prepare_host(now, "host")?;
        let hop = Hop {
            mirror_url,
            site: &site,
            platform: "linux-amd64",
            current,
            next,
            now,
        };
        let ctx = handoff::install::InstallContext {
            source: &source,
            probe: &ferry_net::mirror_client::HttpClient::new(&client)?,
            mirror: &verified,
            policy: &policy,
            sel: &sel,
        };
        self.hand_over(&ctx, &host, &hop)
    }

    fn say_check_report(
        &self,
        report: &ferry_handoff_core::CheckReport,
        current: &semver::Version,
    ) {
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
    }

    /// The product host's files under `folder`: a fresh backup, a data
    /// folder, a vendor-signed license and the sample installer.
    fn prepare_host(&self, now: Timestamp, folder: &str) -> Result<HostFiles> {
        let host = self.path(folder);
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
                "#!/bin/sh\n# Sample installer: records what ferry handed over.\n{{\n  echo \"FERRY_VERSION=$FERRY_VERSION\"\n  echo \"FERRY_ARTIFACT=$FERRY_ARTIFACT\"\n  echo \"FERRY_HANDOFF=$FERRY_HANDOFF\"\n  if [ -n \"$FERRY_IMAGE\" ]; then echo \"FERRY_IMAGE=$FERRY_IMAGE\"; fi\n  echo \"sha256=$(sha256sum \"$FERRY_ARTIFACT\" | cut -d' ' -f1)\"\n}} > '{}'\n",
                record.display()
            )
            .as_bytes(),
            0o755,
        )?;
        let to = host.join("incoming");
        std::fs::create_dir_all(&to).with_context(|| format!("create {}", to.display()))?;
        Ok(HostFiles {
            backup,
            data,
            license,
            installer,
            record,
            to,
        })
    }

    /// Pre-flight checks, then the installer, as `ferry-handoff install` runs them.
    fn hand_over(
        &self,
        ctx: &ferry_handoff_core::install::InstallContext<'_>,
        host: &HostFiles,
        hop: &Hop<'_>,
    ) -> Result<()> {
        use ferry_handoff_core::{install, preflight};
        self.command(&format!(
            "ferry-handoff install --mirror {} --trust {} --current {} --channel stable --profile no-training --platform {} --target {} --to {} --exec {} --backup {} --backup-max-age 24h --license {} --data-dir {}",
            hop.mirror_url,
            hop.site.display(),
            hop.current,
            hop.platform,
            hop.next,
            host.to.display(),
            host.installer.display(),
            host.backup.display(),
            host.license.display(),
            host.data.display()
        ));
        let inputs = preflight::Inputs {
            current: hop.current.clone(),
            target: hop.next.clone(),
            backup: Some((
                host.backup.clone(),
                ferry_manifests::time::Duration(24 * 3600),
            )),
            license: Some(preflight::LicenseInput::File(host.license.clone())),
            license_min_days: 30,
            data_dir: Some(host.data.clone()),
            now: hop.now,
        };
        let planned = install::prepare(ctx.mirror, ctx.policy, ctx.sel, &inputs)?;
        for c in &planned.checks {
            self.say(&format!(
                "{} {}: {}",
                if c.passed { "pass" } else { "FAIL" },
                c.name,
                c.measured
            ));
        }
        let actions = install::Actions {
            to: host.to.clone(),
            exec: Some(format!("sh {}", host.installer.display())),
            health_urls: Vec::new(),
            health_cmd: None,
            health_timeout: std::time::Duration::from_secs(30),
            rollback: None,
        };
        let printer = self.printer;
        let outcome = install::install(ctx, &planned, &actions, hop.now, &|line| {
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
        let received = std::fs::read_to_string(&host.record)
            .with_context(|| format!("read {}", host.record.display()))?;
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

# Root keys (offline, m-of-n): they sign trust-chain versions that rotate
# and revoke every key above (docs/trust.md).
[root]
keys = ["../keys/root1.pub", "../keys/root2.pub", "../keys/root3.pub"]
threshold = 2
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
                "host-images",
                "registry",
                "chain",
                "bundle-rotated",
                "bundle-stale",
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
