//! The demo's key rotation (SPEC §3.11, docs/trust.md): org2's key is
//! "lost" and the mirror gets a new key; root holders sign trust-chain
//! version 2; the next bundle carries it, signed by org1 and org4, and
//! imports with the new mirror key; a bundle still signed by org1 and
//! org2 is refused. The product host learns it all from the mirror
//! (stage 6). Each step calls what the printed command runs.

use anyhow::{Result, bail};
use ferry_bundle::{Format, Input, PackOptions, Repair, VerifyOptions};
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::time::{Duration, Timestamp};
use ferry_mirror_layout::mirror::Mirror;
use ferry_workspace::{SignOptions, Workspace};

use super::*;

impl Demo {
    /// Stage 5c: rotate org2 → org4 and mirror → mirror2 through the chain.
    pub(super) fn stage_rotate_keys(&mut self) -> Result<()> {
        self.step("Security team: org2's key is lost and the mirror key is replaced; root holders sign trust-chain version 2");
        let site = self.path("policy/site.toml");
        let chain = self.path("chain");
        let doc = chain.join("2.json");
        let k = |n: &str| self.path(&format!("keys/{n}.pub")).display().to_string();
        let sets = vec![
            format!("transfer.keys={},{},{}", k("org1"), k("org3"), k("org4")),
            format!("mirror.keys={}", k("mirror2")),
        ];
        self.command(&format!(
            "ferry trust new --from {} --set {} --set {} --out {}",
            site.display(),
            sets[0],
            sets[1],
            doc.display()
        ));
        let (written, _) = crate::trust::new_version(&site, &sets, None, &doc)?;
        for root in ["root1", "root2"] {
            let key_path = self.path(&format!("keys/{root}.key"));
            self.command(&format!(
                "ferry trust sign {} --key {}",
                doc.display(),
                key_path.display()
            ));
            crate::trust::sign_version(&doc, &SecretKey::from_file(&key_path, None)?)?;
        }
        let base = ferry_manifests::policy::TrustPolicy::load(&site)?;
        for c in ferry_manifests::trust::changes(base.version1.as_deref(), &written) {
            self.say(&format!("version 2: {c}"));
        }
        self.next_transfer(&chain)?;
        self.refused_transfer()
    }

    /// A new manifest over the same workspace, signed by `signers`, packed
    /// into `bundle-<tag>/novantra.tar`.
    fn resign_and_pack(
        &self,
        tag: &str,
        signers: &[&str],
        chain: Option<&Path>,
    ) -> Result<PathBuf> {
        let ws = self.path("workspace");
        for old in ["ferry/manifest.json", "ferry/SHA256SUMS"] {
            let _ = std::fs::remove_file(ws.join(old));
        }
        let _ = std::fs::remove_dir_all(ws.join("ferry/signatures"));
        let workspace = Workspace::existing(&ws)?;
        if let Some(chain) = chain {
            ferry_workspace::carry_trust_chain(&workspace, chain)?;
        }
        for (i, signer) in signers.iter().enumerate() {
            let key_path = self.path(&format!("keys/{signer}.key"));
            let carry = match (i, chain) {
                (0, Some(c)) => format!(" --trust-chain {}", c.display()),
                _ => String::new(),
            };
            self.command(&format!(
                "ferry sign --workspace {} --key {}{carry}",
                ws.display(),
                key_path.display()
            ));
            ferry_workspace::sign(
                &workspace,
                &SecretKey::from_file(&key_path, None)?,
                SignOptions {
                    expires: Duration::days(30),
                    max_validity: None,
                    now: Timestamp::now(),
                    issued_elsewhere: 0,
                },
            )?;
        }
        let dir = self.path(&format!("bundle-{tag}"));
        std::fs::create_dir_all(&dir)?;
        let out = dir.join("novantra.tar");
        self.command(&format!(
            "ferry pack --workspace {} --out {}",
            ws.display(),
            out.display()
        ));
        ferry_bundle::pack(
            &ws,
            &out,
            &PackOptions {
                format: Format::Tar,
                split: None,
                parity: 0,
                progress: Default::default(),
            },
        )?;
        Ok(out)
    }

    /// The next transfer carries the chain; the mirror imports it with its
    /// new key and records version 2.
    fn next_transfer(&mut self, chain: &Path) -> Result<()> {
        self.step("Transfer operator: the next bundle carries the chain, signed by org1 and org4");
        let bundle = self.resign_and_pack("rotated", &["org1", "org4"], Some(chain))?;
        self.step("Mirror admin: import it, now signing with the new mirror key");
        let site = self.path("policy/site.toml");
        let root = self.path("mirror");
        let key_path = self.path("keys/mirror2.key");
        self.command(&format!(
            "ferry-mirror import {} --mirror {} --trust {} --key {}",
            bundle.display(),
            root.display(),
            site.display(),
            key_path.display()
        ));
        let now = Timestamp::now();
        let loaded = ferry_cli::trust::load_policy(&site, None, now)?;
        let mirror = Mirror::open(&root)?;
        let outcome = {
            let lock = mirror.lock()?;
            mirror.import(
                &lock,
                &Input::Path(bundle),
                &loaded.policy,
                &SecretKey::from_file(&key_path, None)?,
                now,
            )?
        };
        if let Some(p) = &outcome.policy {
            loaded.record(p, now)?;
        }
        self.say(&format!(
            "imported manifest {} (sequence {}, signed by {}); trust chain version(s) {:?} applied, kept under {}/trust/ and recorded in {}",
            outcome.manifest_sha256.short(),
            outcome.manifest_sequence,
            outcome.signers.join(", "),
            outcome.trust_applied,
            root.display(),
            loaded.state_dir.display()
        ));
        Ok(())
    }

    /// A bundle still signed by the lost key does not verify.
    fn refused_transfer(&mut self) -> Result<()> {
        self.step("Someone signs with org2's lost key: the bundle is refused");
        let bundle = self.resign_and_pack("stale", &["org1", "org2"], None)?;
        let site = self.path("policy/site.toml");
        self.command(&format!(
            "ferry-verify bundle {} --trust {}",
            bundle.display(),
            site.display()
        ));
        let now = Timestamp::now();
        let policy = ferry_cli::trust::load_policy(&site, None, now)?.policy;
        match ferry_bundle::verify_bundle(
            &Input::Path(bundle),
            &policy,
            &VerifyOptions {
                now,
                state: None,
                progress: Default::default(),
            },
            &Repair::No,
        ) {
            Ok(_) => bail!(
                "a bundle signed by the dropped org2 key verified; the demo expected a refusal"
            ),
            Err(e) => self.say(&format!("refused (exit 1): {e}")),
        }
        Ok(())
    }
}
