//! The demo's mirror admin: init, import, fsck, serve.

use anyhow::{Result, bail};
use ferry_bundle::Input;
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::name::Name;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::Mirror;

use super::*;

impl Demo {
    /// Stage 5: the mirror admin imports the verified bundle into the
    /// internal signed mirror and serves it.
    pub(super) fn stage_mirror(&mut self) -> Result<String> {
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
        self.say_blob_store()?;
        self.check_and_serve(&mirror, &policy)
    }

    /// Stage 5b: fsck of the fresh mirror, then serve it.
    fn check_and_serve(
        &mut self,
        mirror: &Mirror,
        policy: &ferry_manifests::policy::TrustPolicy,
    ) -> Result<String> {
        let root = mirror.root().to_path_buf();
        let site = self.path("policy/site.toml");
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
}
