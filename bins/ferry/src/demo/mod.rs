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
use ferry_manifests::time::Timestamp;
use ferry_manifests::vendor;
use ferry_mirror_layout::cli::{Printer, UsageError};

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
        let mut demo = Demo { dir, printer };
        demo.stage_vendor()?;
        demo.finish(self.serve, self.dir.is_some())
    }
}

struct Demo {
    dir: PathBuf,
    printer: Printer,
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

    fn finish(&self, serve: bool, kept: bool) -> Result<()> {
        self.step("Done");
        if kept {
            self.say(&format!("everything is under {}", self.dir.display()));
        }
        if serve {
            self.say("nothing is served yet by this stage of the demo");
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

fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}
