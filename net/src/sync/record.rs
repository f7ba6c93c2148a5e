//! Step 5 of a sync: the new workspace state, written last; files no
//! longer selected go, and a signed manifest of other contents is cleared.

use std::collections::{BTreeMap, BTreeSet};

use ferry_manifests::index::ReleaseIndex;
use ferry_manifests::manifest::{FileEntry, ManifestArtifact, ManifestRelease, Selection, Source};
use ferry_manifests::path::BundlePath;
use ferry_manifests::release::YankNotice;
use ferry_manifests::time::Timestamp;
use ferry_workspace::{STATE_SCHEMA, State, Workspace};
use semver::Version;

use super::index::FetchedIndex;
use super::tasks::{DoneKind, TaskDone};
use super::{SyncOptions, SyncReport, SyncedRelease};
use crate::download::Outcome;
use crate::error::{Error, Result};
use crate::select::Selected;

/// Records what the tasks fetched as the workspace's new state.
pub(super) fn record(
    ws: &Workspace,
    opts: &SyncOptions,
    old: Option<&State>,
    fetched: &FetchedIndex,
    selected: &[Selected<'_>],
    results: BTreeMap<usize, TaskDone>,
) -> Result<SyncReport> {
    let index = &fetched.index;
    let mut report = empty_report(opts, fetched);
    let mut fetched_files = collect(results, &mut report);
    let releases = manifest_releases(opts, selected, &mut fetched_files, &mut report)?;
    let mut files = fetched_files.files;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let (seen, yanks) = seen_and_yanked(index, old, &releases);
    let state = State {
        schema: STATE_SCHEMA.to_string(),
        product: index.product.clone(),
        source: Source {
            index_url: ferry_manifests::redact::redact_url(&opts.index_url),
            index_sha256: fetched.sha256,
            fetched: Timestamp::now(),
        },
        selection: Selection {
            channels: opts.channels.clone(),
            profiles: opts.profiles.clone(),
        },
        releases,
        files,
        seen_versions: seen.into_iter().collect(),
        yanks: yanks.clone(),
        last_sequence: old.and_then(|o| o.last_sequence),
        index_generated: Some(
            old.and_then(|o| o.index_generated)
                .map_or(index.generated, |g| g.max(index.generated)),
        ),
    };
    remove_unselected(ws, old, &state, &mut report)?;
    if old.is_none_or(|o| !o.same_content(&state)) {
        report.cleared_signed = ws.root().join("ferry").exists();
        ws.clear_signed()?;
    }
    ws.save_state(&state)?;
    report.files = state.files.len();
    report.bytes = state.files.iter().map(|f| f.size).sum();
    report.yanks = yanks;
    Ok(report)
}

/// The report of this sync before anything is counted.
fn empty_report(opts: &SyncOptions, fetched: &FetchedIndex) -> SyncReport {
    SyncReport {
        product: fetched.index.product.clone(),
        index_url: ferry_manifests::redact::redact_url(&opts.index_url),
        index_sha256: fetched.sha256,
        index_key_id: fetched.key_id.to_string(),
        releases: Vec::new(),
        files: 0,
        bytes: 0,
        downloaded: 0,
        resumed: 0,
        present: 0,
        removed: Vec::new(),
        yanks: Vec::new(),
        cleared_signed: false,
        ignored: Vec::new(),
    }
}

/// The tasks' results, sorted by what they are for.
struct Fetched {
    files: Vec<FileEntry>,
    arts_by_version: BTreeMap<Version, Vec<ManifestArtifact>>,
    notes_by_version: BTreeMap<Version, BundlePath>,
}

/// Gathers the tasks' files, artifacts and notes; counts the downloads and
/// notes the ignored signatures in `report`.
fn collect(results: BTreeMap<usize, TaskDone>, report: &mut SyncReport) -> Fetched {
    let mut out = Fetched {
        files: Vec::new(),
        arts_by_version: BTreeMap::new(),
        notes_by_version: BTreeMap::new(),
    };
    for done in results.into_values() {
        for (entry, outcome) in done.files {
            match outcome {
                Outcome::Downloaded { resumed } => {
                    report.downloaded += 1;
                    report.resumed += usize::from(resumed);
                }
                Outcome::Present => report.present += 1,
            }
            out.files.push(entry);
        }
        report.ignored.extend(done.ignored);
        match done.kind {
            DoneKind::Notes(version, path) => {
                out.notes_by_version.insert(version, path);
            }
            DoneKind::Artifact(version, art) => {
                out.arts_by_version.entry(version).or_default().push(*art);
            }
        }
    }
    out
}

/// The selected releases as the state records them (each with the
/// artifacts and notes fetched for it), also listed in `report`.
fn manifest_releases(
    opts: &SyncOptions,
    selected: &[Selected<'_>],
    fetched: &mut Fetched,
    report: &mut SyncReport,
) -> Result<Vec<ManifestRelease>> {
    let mut releases = Vec::new();
    for (r, channels, _) in selected {
        let artifacts = fetched
            .arts_by_version
            .remove(&r.version)
            .unwrap_or_default();
        report.releases.push(SyncedRelease {
            version: r.version.clone(),
            artifacts: artifacts.iter().map(|a| a.path.to_string()).collect(),
        });
        releases.push(ManifestRelease {
            version: r.version.clone(),
            channels: channels.clone(),
            published: r.published,
            supported_from: r.supported_from.clone(),
            required: r.required,
            yanked: None,
            advisories: r.advisories.clone(),
            notes: fetched.notes_by_version.remove(&r.version).ok_or_else(|| {
                Error::io(
                    &opts.workspace,
                    "collect release notes",
                    std::io::Error::other("missing notes result"),
                )
            })?,
            artifacts,
        });
    }
    Ok(releases)
}

/// Every version this workspace has carried (before and now), and those of
/// them the vendor has yanked.
fn seen_and_yanked(
    index: &ReleaseIndex,
    old: Option<&State>,
    releases: &[ManifestRelease],
) -> (BTreeSet<Version>, Vec<YankNotice>) {
    let mut seen: BTreeSet<Version> = old
        .map(|o| o.seen_versions.iter().cloned().collect())
        .unwrap_or_default();
    seen.extend(releases.iter().map(|r| r.version.clone()));
    let yanks: Vec<YankNotice> = index
        .releases
        .iter()
        .filter(|r| seen.contains(&r.version))
        .filter_map(|r| {
            r.yanked.as_ref().map(|y| YankNotice {
                version: r.version.clone(),
                reason: y.reason.clone(),
            })
        })
        .collect();
    (seen, yanks)
}

/// Files an earlier sync carried that are no longer selected go away (they
/// were ferry's own verified downloads).
fn remove_unselected(
    ws: &Workspace,
    old: Option<&State>,
    state: &State,
    report: &mut SyncReport,
) -> Result<()> {
    if let Some(o) = old {
        let keep: BTreeSet<&BundlePath> = state.files.iter().map(|f| &f.path).collect();
        for f in &o.files {
            if !keep.contains(&f.path) {
                ws.remove_file(&f.path)?;
                report.removed.push(f.path.to_string());
            }
        }
    }
    Ok(())
}
