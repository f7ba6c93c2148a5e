//! The demo's connected side: the sample vendor, sync, sign, pack, and the
//! offline verification of the bundle.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ferry_bundle::{Format, Input, PackOptions, Repair, Split, VerifyOptions};
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;
use ferry_manifests::vendor;
use ferry_net::sync::SyncOptions;
use ferry_workspace::{SignOptions, Workspace};

use super::*;

impl Demo {
    /// Stage 1: keys, the sample vendor and its image registry, its signed
    /// index, the two policies. Returns the registry's `HOST:PORT`.
    pub(super) fn stage_vendor(&mut self) -> Result<String> {
        self.step("Keys (unencrypted demo keys, test-only)");
        let keys = self.path("keys");
        std::fs::create_dir_all(&keys).with_context(|| format!("create {}", keys.display()))?;
        for (name, secret, public) in DEMO_KEYS {
            write_mode(&keys.join(format!("{name}.key")), secret.as_bytes(), 0o600)?;
            write_mode(&keys.join(format!("{name}.pub")), public.as_bytes(), 0o644)?;
        }
        self.say(&format!(
            "{}: vendor, org1..org4, mirror, mirror2, root1..root3 (.key and .pub)",
            keys.display()
        ));
        self.say("real keys come from: ferry keygen --out keys/org-1");
        let registry = self.serve_registry()?;

        self.step("The vendor publishes a signed release index");
        let src = self.path("vendor-src");
        let (releases, artifacts) = sample::write_vendor_folder(&src, &registry)?;
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
        let report = vendor::build_index_with_progress(
            &src,
            &web,
            &key,
            Timestamp::now(),
            &Default::default(),
            Some(&ferry_oci::describe::LayoutDescriber),
        )?;
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
            "{}: the same, plus the mirror key and root keys root1..root3 (2 of 3); pinned to stable / no-training",
            policy.join("site.toml").display()
        ));
        Ok(registry)
    }

    /// Stage 2: the vendor's web root on a real HTTP server on 127.0.0.1.
    pub(super) fn stage_serve_vendor(&mut self) -> Result<String> {
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
    pub(super) fn stage_sync_sign(&mut self, index_url: &str, registry: &str) -> Result<()> {
        self.step("Transfer operator: sync stable / no-training, verified as it downloads");
        let ws = self.path("workspace");
        let connected = self.path("policy/connected.toml");
        self.command(&format!(
            "ferry sync --index {index_url} --registry-http {registry} --trust {} --channel stable --profile no-training --workspace {}",
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
            registry_http: vec![registry.to_string()],
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
            "not taken: 3.0.0 (yanked), 4.0.0-rc.1 (preview only), every default-profile file and image",
        );

        self.sign_workspace(&policy)
    }

    /// Stage 3b: two org keys sign the transfer manifest (threshold 2).
    fn sign_workspace(&self, policy: &ferry_manifests::policy::TrustPolicy) -> Result<()> {
        self.step("Two holders of org keys sign the transfer manifest (2 of 3)");
        let ws = self.path("workspace");
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
    pub(super) fn stage_pack_verify(&mut self) -> Result<()> {
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
                progress: Default::default(),
            },
        )?;
        self.say(&format!(
            "{}: {} file(s), {} bytes written",
            r.out.display(),
            r.files,
            r.bytes_written
        ));

        self.verify_and_repair(&out_dir)
    }

    /// Stage 4b: the mirror admin verifies the bundle offline; a flipped
    /// bit is named, then rebuilt from parity.
    fn verify_and_repair(&mut self, out_dir: &Path) -> Result<()> {
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
            progress: Default::default(),
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
}
