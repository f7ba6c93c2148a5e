//! `ferry.toml`: the flags of `ferry sync` (SPEC §4) as keys, for repeated
//! syncs. Flags given on the command line override the file; relative paths
//! in the file are relative to the file's folder. Unknown keys are refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ferry_cli::UsageError;
use ferry_manifests::name::Name;
use serde::Deserialize;

/// One value or a list of values (`channel = "stable"` or `["stable", "lts"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(Name),
    Many(Vec<Name>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<Name> {
        match self {
            OneOrMany::One(n) => vec![n],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The keys of `ferry.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct FerryToml {
    pub(crate) index: Option<String>,
    pub(crate) trust: Option<PathBuf>,
    pub(crate) channel: Option<OneOrMany>,
    pub(crate) profile: Option<OneOrMany>,
    pub(crate) versions: Option<String>,
    pub(crate) platform: Option<OneOrMany>,
    pub(crate) workspace: Option<PathBuf>,
    pub(crate) ca_cert: Option<PathBuf>,
    pub(crate) registry_http: Option<Vec<String>>,
    pub(crate) jobs: Option<usize>,
    pub(crate) retries: Option<u32>,
}

impl FerryToml {
    /// Loads `path`; relative paths become relative to its folder.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let bytes = ferry_manifests::minisig::read_small_bytes(path, 1024 * 1024)
            .with_context(|| format!("--config {}", path.display()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| UsageError(format!("{}: not UTF-8", path.display())))?;
        let mut cfg: FerryToml = toml::from_str(text)
            .map_err(|e| UsageError(format!("{}: {}", path.display(), e.to_string().trim())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut cfg.trust, &mut cfg.workspace, &mut cfg.ca_cert]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }
}
