//! The `--json` documents of `ferry-mirror` (docs/json.md): one variant a
//! command, tagged `type` with the command's name in kebab-case.

use std::path::Path;

use ferry_manifests::hints::ChannelProfile;
use ferry_manifests::name::Name;
use ferry_manifests::release::Advisory;
use ferry_manifests::time::Timestamp;
use ferry_mirror_layout::mirror::import::ImportOutcome;
use ferry_mirror_layout::mirror::index::ImportedManifest;
use ferry_mirror_layout::mirror::prune::PruneOutcome;
use ferry_mirror_layout::mirror::repair::RepairOutcome;
use ferry_mirror_layout::mirror::{FsckReport, MirrorConfig};
use ferry_publish::PublishOutcome;
use ferry_publish::check::CheckReport;
use serde::Serialize;
use std::collections::BTreeMap;

/// One document a run.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum Output<'a> {
    /// `init`.
    Init {
        mirror: &'a Path,
        config: &'a MirrorConfig,
    },
    /// `import`, one a bundle.
    Import {
        bundle: &'a Path,
        outcome: &'a ImportOutcome,
    },
    /// `prune`.
    Prune { outcome: &'a PruneOutcome },
    /// `export-state`.
    ExportState {
        out: &'a Path,
        files: usize,
        manifest_sequence: u64,
    },
    /// `serve`, once listening.
    Serve { url: String, mirror: &'a Path },
    /// `fsck`.
    Fsck {
        ok: bool,
        report: &'a FsckReport,
        repair: Option<&'a RepairOutcome>,
    },
    /// `publish`.
    Publish { outcome: &'a PublishOutcome },
    /// `fsck --remote URL`.
    FsckRemote {
        ok: bool,
        url: &'a str,
        report: &'a CheckReport,
    },
    /// `status`.
    Status {
        product: &'a Name,
        sequence: u64,
        manifest_sequence: u64,
        generated: Timestamp,
        channels: &'a BTreeMap<Name, BTreeMap<Name, ChannelProfile>>,
        advisories: &'a [Advisory],
        releases: usize,
        last_import: Option<&'a ImportedManifest>,
    },
}
