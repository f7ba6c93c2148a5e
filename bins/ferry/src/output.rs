//! The `--json` documents of `ferry` (docs/json.md): one variant a
//! command, tagged `type` with the command's name in kebab-case.

use std::path::Path;

use ferry_bundle::PackReport;
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::license::License;
use ferry_manifests::name::Name;
use ferry_net::sync::SyncReport;
use ferry_workspace::SignReport;
use serde::Serialize;

/// One document a run.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum Output<'a> {
    /// `sync`: the report and the workspace.
    Sync {
        workspace: &'a Path,
        #[serde(flatten)]
        report: &'a SyncReport,
    },
    /// `sign`.
    Sign(&'a SignReport),
    /// `pack`.
    Pack(&'a PackReport),
    /// `index build`.
    IndexBuild {
        index: &'a Path,
        index_sha256: Sha256Digest,
        product: &'a Name,
        releases: usize,
        artifacts: usize,
        signed: usize,
        key_id: String,
    },
    /// `keygen` (never the secret).
    Keygen {
        key_id: String,
        secret_key: &'a Path,
        public_key: &'a Path,
        encrypted: bool,
    },
    /// `license issue`.
    License {
        file: &'a Path,
        signature: &'a Path,
        key_id: String,
        license: &'a License,
    },
    /// `trust new`.
    TrustNew {
        file: &'a Path,
        version: u64,
        sha256: Sha256Digest,
    },
    /// `trust sign`.
    TrustSign {
        file: &'a Path,
        signature: &'a Path,
        version: u64,
        key_id: String,
    },
    /// `trust show`: each version; with `--trust`, the version in force.
    TrustShow {
        dir: &'a Path,
        versions: &'a [crate::trust::ShownVersion],
        in_force: Option<u64>,
    },
}
