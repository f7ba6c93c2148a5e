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
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;
use ferry_manifests::vendor;
use ferry_mirror_layout::bundle::{self, Format, Input, PackOptions, Repair, Split, VerifyOptions};
use ferry_mirror_layout::cli::{Printer, UsageError};
use ferry_mirror_layout::workspace::{self, SignOptions, Workspace};
use ferry_net::serve::StaticServer;
use ferry_net::sync::SyncOptions;

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
        self.printer.line(&format!("\n== {title}"));
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
            let r = workspace::sign(
                &workspace,
                &key,
                SignOptions {
                    expires: ferry_manifests::time::Duration::days(30),
                    max_validity: policy.transfer()?.max_validity,
                    now: Timestamp::now(),
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
        let r = bundle::pack(
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
        let report = bundle::verify_bundle(&input, &policy, &opts, &Repair::No)?;
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
        match bundle::verify_bundle(&input, &policy, &opts, &Repair::No) {
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
        let repaired = bundle::verify_bundle(&input, &policy, &opts, &Repair::Beside)?;
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
        bundle::verify_bundle(&input, &policy, &opts, &Repair::No)?;
        self.say("verified again with the repaired volume in place");
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
