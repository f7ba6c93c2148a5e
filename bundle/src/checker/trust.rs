//! The trust chain a bundle carries (SPEC §3.11): its files are taken
//! before the manifest's and applied, through the one rule home
//! `ferry_manifests::trust::apply`, before the manifest's signatures count.

use std::borrow::Cow;
use std::io::Read;

use ferry_manifests::trust;

use super::{Checker, Stage, check_small, read_exact_small};
use crate::error::{Error, Result};

impl Checker<'_> {
    /// A trust-chain file (`ferry/trust/…`): before the manifest's files,
    /// held in memory (small) and applied when the manifest is sealed.
    pub(super) fn trust_file(
        &mut self,
        s: &str,
        rel: &str,
        size: u64,
        reader: &mut dyn Read,
    ) -> Result<bool> {
        if self.stage == Stage::Files {
            return Err(Error::bundle(
                s,
                "trust-chain files must come before the manifest's files (refused)",
            ));
        }
        check_small(s, size, trust::MAX_TRUST_BYTES)?;
        if !self.seen.insert(s.to_string()) {
            return Err(Error::bundle(s, "listed twice (duplicate entry)"));
        }
        let bytes = read_exact_small(reader, size, s)?;
        self.trust.add(rel, s, bytes)?;
        Ok(true)
    }

    /// The chain the bundle carried, applied over the policy before the
    /// manifest's signatures are counted (SPEC §3.11): a manifest signed
    /// by new keys verifies at a site that learns them from this bundle,
    /// and keys it drops count nowhere.
    pub(super) fn apply_trust(&mut self) -> Result<()> {
        if self.trust.is_empty() {
            return Ok(());
        }
        let candidates = std::mem::take(&mut self.trust).finish()?;
        let out = trust::apply(&self.policy, candidates, self.opts.now)?;
        for v in &out.applied {
            self.findings.push(format!(
                "trust chain version {v} applied (carried by the bundle)"
            ));
        }
        self.trust_applied = out.applied;
        self.policy = Cow::Owned(out.policy);
        self.allowed_dirs.insert(trust::BUNDLE_DIR.into());
        self.allowed_dirs
            .insert(format!("{}/sigstore", trust::BUNDLE_DIR));
        Ok(())
    }
}

pub(super) const TRUST_PREFIX: &str = "ferry/trust/";

pub(super) fn is_trust_dir(s: &str) -> bool {
    s == trust::BUNDLE_DIR || s == "ferry/trust/sigstore"
}
