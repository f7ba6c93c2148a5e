//! The trust policy, `ferry-trust.toml` (SPEC §3.5).
//!
//! Each side keeps its own; it is configuration, never carried in a bundle.
//! Every problem with it is a configuration error (exit 2), found when it is
//! loaded, before any document is looked at (ATTACKS A4, C3, C5).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::minisig::{KeySet, Legacy, PublicKey, read_small_bytes};
use crate::name::Name;
use crate::release::SigKind;
use crate::time::Duration;

const MAX_POLICY_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    product: Name,
    #[serde(default)]
    vendor: Option<RawVendor>,
    #[serde(default)]
    transfer: Option<RawTransfer>,
    #[serde(default)]
    mirror: Option<RawMirror>,
    #[serde(default)]
    root: Option<RawRoot>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoot {
    keys: Vec<String>,
    threshold: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVendor {
    #[serde(default)]
    minisign_keys: Vec<String>,
    #[serde(default = "default_require")]
    require: Vec<SigKind>,
    #[serde(default)]
    allow_legacy_minisign: bool,
    #[serde(default)]
    sigstore_trusted_root: Option<PathBuf>,
    #[serde(default)]
    sigstore_identity: Vec<SigstoreIdentity>,
}

fn default_require() -> Vec<SigKind> {
    vec![SigKind::Minisign]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransfer {
    keys: Vec<String>,
    threshold: i64,
    #[serde(default)]
    max_validity: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMirror {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    channels: Vec<Name>,
    #[serde(default)]
    profiles: Vec<Name>,
}

/// An expected Sigstore signer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigstoreIdentity {
    /// The certificate SAN, exact, or a regular expression when `san_regex`.
    pub san: String,
    /// Whether `san` is a regular expression.
    #[serde(default)]
    pub san_regex: bool,
    /// The OIDC issuer, exact.
    pub issuer: String,
}

/// The `[vendor]` section, resolved.
#[derive(Debug, Clone)]
pub struct VendorPolicy {
    /// Vendor minisign keys.
    pub minisign_keys: KeySet,
    /// Upstream kinds every artifact must pass.
    pub require: Vec<SigKind>,
    /// Whether legacy minisign signatures are accepted on vendor artifacts.
    pub legacy: Legacy,
    /// Path of the Sigstore trusted root (resolved against the policy file).
    pub sigstore_trusted_root: Option<PathBuf>,
    /// Expected Sigstore signers.
    pub sigstore_identities: Vec<SigstoreIdentity>,
    /// A Sigstore trusted root the trust chain brought (SPEC §3.11): the
    /// chain version and the root's bytes. Once applied it replaces
    /// `sigstore_trusted_root` for the vendor checks.
    pub sigstore_chain_root: Option<(u64, Arc<Vec<u8>>)>,
}

impl VendorPolicy {
    /// Whether Sigstore bundles can be checked: a trusted root (the
    /// policy's file or the chain's) and at least one identity.
    #[must_use]
    pub fn sigstore_ready(&self) -> bool {
        (self.sigstore_trusted_root.is_some() || self.sigstore_chain_root.is_some())
            && !self.sigstore_identities.is_empty()
    }
}

/// The `[transfer]` section, resolved.
#[derive(Debug, Clone)]
pub struct TransferPolicy {
    /// Org keys that may sign manifests.
    pub keys: KeySet,
    /// Distinct trusted keys required.
    pub threshold: usize,
    /// Refuse manifests valid for longer than this.
    pub max_validity: Option<Duration>,
}

/// The `[mirror]` section, resolved.
#[derive(Debug, Clone)]
pub struct MirrorPolicy {
    /// Keys that sign the mirror index and feed.
    pub keys: KeySet,
    /// Channels this site accepts (empty: any).
    pub channels: Vec<Name>,
    /// Profiles this site accepts (empty: any).
    pub profiles: Vec<Name>,
}

/// The `[root]` section: keys that may sign trust-chain version 2.
#[derive(Debug, Clone)]
pub struct RootPolicy {
    /// Root keys.
    pub keys: KeySet,
    /// Distinct root keys required.
    pub threshold: usize,
}

/// A loaded trust policy: the policy file, and the trust-chain versions
/// applied over it ([`crate::trust::apply`]); the sections hold the
/// effective keys.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes (for receipts).
    pub sha256: Sha256Digest,
    /// The product.
    pub product: Name,
    /// `[vendor]`, if present.
    pub vendor: Option<VendorPolicy>,
    /// `[transfer]`, if present.
    pub transfer: Option<TransferPolicy>,
    /// `[mirror]`, if present.
    pub mirror: Option<MirrorPolicy>,
    /// `[root]`, if present (version 1 of the trust chain).
    pub root: Option<RootPolicy>,
    /// Trust-chain versions applied, 2, 3, … in order (empty: the policy
    /// file alone).
    pub chain: Vec<Arc<crate::trust::Applied>>,
    /// The policy file as trust-chain version 1 (with `[root]` only), to
    /// describe what version 2 changed.
    pub version1: Option<Arc<crate::trust::TrustDoc>>,
}

impl TrustPolicy {
    /// Loads and checks a policy file.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read (exit 3), [`Error::Config`] for
    /// anything wrong in it (exit 2).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_small_bytes(path, MAX_POLICY_BYTES).map_err(|e| match e {
            Error::Io { path, source, .. } => Error::Io {
                path,
                action: "read the trust policy",
                source,
            },
            e => e,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses policy bytes; key files are resolved relative to `path`.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let cfg = |reason: String| Error::config(path, reason);
        let text = std::str::from_utf8(bytes).map_err(|_| cfg("not UTF-8".into()))?;
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| cfg(e.to_string().trim().to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let has_root = raw.root.is_some();
        let vendor = raw
            .vendor
            .map(|v| -> Result<VendorPolicy> {
                let minisign_keys = load_keys(&v.minisign_keys, base, path, "vendor.minisign_keys")?;
                if v.require.contains(&SigKind::Minisign) && minisign_keys.is_empty() {
                    return Err(cfg("vendor.require has \"minisign\" but vendor.minisign_keys is empty".into()));
                }
                // With [root], the trusted root may come through the trust
                // chain (SPEC §3.11); without a chain it is refused when used.
                if v.require.contains(&SigKind::Sigstore)
                    && ((v.sigstore_trusted_root.is_none() && !has_root)
                        || v.sigstore_identity.is_empty())
                {
                    return Err(cfg("vendor.require has \"sigstore\": set vendor.sigstore_trusted_root and at least one [[vendor.sigstore_identity]]".into()));
                }
                let mut require = v.require.clone();
                require.sort();
                require.dedup();
                Ok(VendorPolicy {
                    minisign_keys,
                    require,
                    legacy: if v.allow_legacy_minisign { Legacy::Allow } else { Legacy::Refuse },
                    sigstore_trusted_root: v.sigstore_trusted_root.map(|p| base.join(p)),
                    sigstore_identities: v.sigstore_identity,
                    sigstore_chain_root: None,
                })
            })
            .transpose()?;
        let transfer = raw
            .transfer
            .map(|t| -> Result<TransferPolicy> {
                let keys = load_keys(&t.keys, base, path, "transfer.keys")?;
                let threshold = check_threshold(t.threshold, keys.len(), "transfer", path)?;
                Ok(TransferPolicy {
                    keys,
                    threshold,
                    max_validity: t.max_validity,
                })
            })
            .transpose()?;
        let mirror = raw
            .mirror
            .map(|m| -> Result<MirrorPolicy> {
                Ok(MirrorPolicy {
                    keys: load_keys(&m.keys, base, path, "mirror.keys")?,
                    channels: m.channels,
                    profiles: m.profiles,
                })
            })
            .transpose()?;
        let root = raw
            .root
            .map(|r| -> Result<RootPolicy> {
                let keys = load_keys(&r.keys, base, path, "root.keys")?;
                let threshold = check_threshold(r.threshold, keys.len(), "root", path)?;
                Ok(RootPolicy { keys, threshold })
            })
            .transpose()?;
        let mut p = TrustPolicy {
            path: path.to_path_buf(),
            sha256: Sha256Digest::of(bytes),
            product: raw.product,
            vendor,
            transfer,
            mirror,
            root,
            chain: Vec::new(),
            version1: None,
        };
        p.version1 = crate::trust::TrustDoc::from_policy(&p).map(Arc::new);
        Ok(p)
    }

    /// The newest trust-chain version applied (1: the policy file alone).
    #[must_use]
    pub fn trust_version(&self) -> u64 {
        1 + self.chain.len() as u64
    }

    /// The keys that may sign the next trust-chain version: the newest
    /// applied version's root, or the policy's `[root]`.
    #[must_use]
    pub fn root_keys(&self) -> Option<(KeySet, usize)> {
        match self.chain.last() {
            Some(a) => Some((a.root_keys.clone(), a.root_threshold)),
            None => self.root.as_ref().map(|r| (r.keys.clone(), r.threshold)),
        }
    }

    /// `[vendor]`, or a configuration error saying it is needed.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn vendor(&self) -> Result<&VendorPolicy> {
        self.vendor
            .as_ref()
            .ok_or_else(|| Error::config(&self.path, "this command needs a [vendor] section"))
    }

    /// `[transfer]`, or a configuration error saying it is needed.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn transfer(&self) -> Result<&TransferPolicy> {
        self.transfer.as_ref().ok_or_else(|| {
            Error::config(
                &self.path,
                "this command needs a [transfer] section with keys and threshold",
            )
        })
    }

    /// `[mirror]` with at least one key, or a configuration error.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn mirror(&self) -> Result<&MirrorPolicy> {
        match &self.mirror {
            Some(m) if !m.keys.is_empty() => Ok(m),
            _ => Err(Error::config(
                &self.path,
                "this command needs a [mirror] section with at least one key",
            )),
        }
    }

    /// The channel pins of `[mirror]` (empty: any channel).
    #[must_use]
    pub fn pinned_channels(&self) -> &[Name] {
        self.mirror.as_ref().map_or(&[], |m| &m.channels)
    }

    /// The profile pins of `[mirror]` (empty: any profile).
    #[must_use]
    pub fn pinned_profiles(&self) -> &[Name] {
        self.mirror.as_ref().map_or(&[], |m| &m.profiles)
    }
}

fn check_threshold(t: i64, keys: usize, section: &str, policy: &Path) -> Result<usize> {
    if t < 1 {
        return Err(Error::config(
            policy,
            format!("{section}.threshold is {t}; it must be at least 1"),
        ));
    }
    let threshold = usize::try_from(t).unwrap_or(usize::MAX);
    if threshold > keys {
        return Err(Error::config(
            policy,
            format!(
                "{section}.threshold is {threshold} but only {keys} distinct key(s) are listed"
            ),
        ));
    }
    Ok(threshold)
}

fn load_keys(list: &[String], base: &Path, policy: &Path, field: &str) -> Result<KeySet> {
    let mut keys = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let what = format!("{field}[{i}]");
        let key = PublicKey::inline_or_path(entry, base, &what);
        keys.push(key.map_err(|e| Error::config(policy, format!("{what}: {e}")))?);
    }
    KeySet::new(keys).map_err(|m| Error::config(policy, format!("{field}: {m}")))
}
