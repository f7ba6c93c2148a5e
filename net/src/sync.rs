//! `ferry sync` (SPEC §4): fetch the vendor index and its signature,
//! verify the signature against the policy's vendor keys **before**
//! parsing, parse those same bytes, select releases (channel, profile,
//! version range, platform; never a yanked one), then download every file
//! in parallel (bounded), checking size, SHA-256 and vendor signatures as
//! `[vendor].require` says while the bytes arrive. A file enters the
//! workspace only once it passed; the state file is written last.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use ferry_durable::fsutil;
use ferry_manifests::decide::{self, Counter, Seen, VendorChecks};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::index::{IndexArtifact, ReleaseIndex};
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::manifest::{
    FileEntry, ManifestArtifact, ManifestRelease, Selection, Source, Upstream,
};
use ferry_manifests::minisig::{SignatureFile, verify_document};
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::{TrustPolicy, VendorPolicy};
use ferry_manifests::release::{SigKind, YankNotice};
use ferry_manifests::time::Timestamp;
use ferry_workspace::{STATE_SCHEMA, State, Workspace};
use semver::{Version, VersionReq};
use serde::Serialize;

use crate::client::{self, ClientOptions};
use crate::download::{
    self, Context, FileJob, MAX_SIGNATURE_BYTES, Outcome, OwnedMinisign, fetch_small_retry,
};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Default number of parallel downloads.
pub const DEFAULT_JOBS: usize = 4;
/// Default retries after a network failure.
pub const DEFAULT_RETRIES: u32 = 3;

/// What to sync, where.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The vendor's `index.json` URL (`index.json.minisig` beside it).
    pub index_url: String,
    /// Channels to take (at least one).
    pub channels: Vec<Name>,
    /// Profiles to take (at least one).
    pub profiles: Vec<Name>,
    /// Only versions in this SemVer range.
    pub versions: Option<VersionReq>,
    /// Only these platforms (empty: all).
    pub platforms: Vec<Name>,
    /// The workspace folder (created if needed).
    pub workspace: PathBuf,
    /// HTTP client settings.
    pub client: ClientOptions,
    /// Parallel downloads (at least 1).
    pub jobs: usize,
    /// Retries after a network failure, per file.
    pub retries: u32,
    /// Accept a vendor index older than one this workspace accepted (the
    /// loud escape hatch of SPEC §5 rule 7; off by default).
    pub allow_older_index: bool,
}

/// One release carried.
#[derive(Debug, Clone, Serialize)]
pub struct SyncedRelease {
    /// Version.
    pub version: Version,
    /// Workspace paths of its artifacts.
    pub artifacts: Vec<String>,
}

/// What a sync did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The product.
    pub product: Name,
    /// The index URL.
    pub index_url: String,
    /// SHA-256 of the verified index bytes.
    pub index_sha256: Sha256Digest,
    /// The vendor key that signed the index.
    pub index_key_id: String,
    /// Releases selected.
    pub releases: Vec<SyncedRelease>,
    /// Files in the workspace after the sync.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Files downloaded by this run.
    pub downloaded: usize,
    /// Of those, continued from a partial download.
    pub resumed: usize,
    /// Files already present and re-verified.
    pub present: usize,
    /// Files removed (no longer selected).
    pub removed: Vec<String>,
    /// Versions an earlier sync carried that the vendor has since yanked.
    pub yanks: Vec<YankNotice>,
    /// Whether `ferry/` was cleared (the workspace changed since signing).
    pub cleared_signed: bool,
    /// Upstream signatures not checked, and why.
    pub ignored: Vec<String>,
}

/// [`sync`] on a runtime of its own, for callers that are not async.
///
/// # Errors
/// As [`sync`].
pub fn sync_blocking(
    opts: &SyncOptions,
    policy: &TrustPolicy,
    progress: Arc<dyn Progress>,
) -> Result<SyncReport> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.jobs.clamp(1, 4))
        .enable_all()
        .build()
        .map_err(|e| Error::io(&opts.workspace, "start the async runtime", e))?;
    rt.block_on(sync(opts, policy, progress))
}

fn usage(what: &str, reason: impl Into<String>) -> Error {
    Error::Usage {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Syncs the selected releases of a vendor index into a workspace.
///
/// # Errors
/// Verification failures naming the file (exit 1), network errors
/// (exit 3), bad options (exit 2).
pub async fn sync(
    opts: &SyncOptions,
    policy: &TrustPolicy,
    progress: Arc<dyn Progress>,
) -> Result<SyncReport> {
    let vendor = policy.vendor()?.clone();
    if opts.channels.is_empty() || opts.profiles.is_empty() {
        return Err(usage(
            "selection",
            "give at least one --channel and one --profile",
        ));
    }
    if opts.jobs == 0 {
        return Err(usage("--jobs", "must be at least 1"));
    }
    let index_url = reqwest::Url::parse(&opts.index_url)
        .map_err(|e| usage(&format!("--index {}", opts.index_url), e.to_string()))?;
    if !matches!(index_url.scheme(), "http" | "https") {
        return Err(usage(
            &format!("--index {}", opts.index_url),
            "only http:// and https:// URLs are supported",
        ));
    }
    let ws = Workspace::open(&opts.workspace)?;
    let _lock = ws.lock()?;
    let old = ws.load_state()?;
    if let Some(o) = &old
        && o.product != policy.product
    {
        return Err(ferry_mirror_layout::Error::Refused {
            what: opts.workspace.display().to_string(),
            reason: format!(
                "this workspace holds product \"{}\", the policy is for \"{}\"",
                o.product, policy.product
            ),
        }
        .into());
    }
    let client = client::build(&opts.client)?;

    // 1. The index and its signature; verify, then parse the same bytes.
    let index_bytes = match fetch_small_retry(
        &client,
        &index_url,
        MAX_DOCUMENT_BYTES,
        "index.json",
        opts.retries,
    )
    .await?
    {
        Ok(b) => b,
        Err(status) => {
            return Err(Error::Status {
                url: index_url.to_string(),
                status,
            });
        }
    };
    let mut sig_url = index_url.clone();
    sig_url.set_path(&format!("{}.minisig", index_url.path()));
    let sig_bytes = match fetch_small_retry(
        &client,
        &sig_url,
        MAX_SIGNATURE_BYTES,
        "index.json.minisig",
        opts.retries,
    )
    .await?
    {
        Ok(b) => b,
        Err(status) if (400..500).contains(&status) => {
            return Err(Error::MissingSignature {
                what: "index.json".into(),
                url: sig_url.to_string(),
                status,
                reason: "a vendor index is only trusted with a valid signature by a vendor key of the trust policy".into(),
            });
        }
        Err(status) => {
            return Err(Error::Status {
                url: sig_url.to_string(),
                status,
            });
        }
    };
    let key_id = verify_document(
        &vendor.minisign_keys,
        &index_bytes,
        &sig_bytes,
        None,
        "index.json.minisig (vendor index signature)",
    )?;
    let index = ReleaseIndex::parse(&index_bytes, "index.json")?;
    if index.product != policy.product {
        return Err(ferry_manifests::Error::policy(
            "index.json",
            format!(
                "is for product \"{}\", the trust policy for \"{}\"",
                index.product, policy.product
            ),
        )
        .into());
    }
    let index_sha256 = Sha256Digest::of(&index_bytes);
    // SPEC §5 rule 7: never an older vendor index than one accepted here.
    let accepted = old.as_ref().and_then(|o| o.index_generated).map(|g| Seen {
        value: g,
        sha256: None,
    });
    let offered = Seen {
        value: index.generated,
        sha256: None,
    };
    match decide::freshness("index.json", Counter::Generated, &offered, accepted.as_ref()) {
        Ok(_) => {}
        Err(r) if opts.allow_older_index => progress.note(&format!(
            "WARNING: --allow-older-index: accepting it anyway ({r}); replay protection is off for this run"
        )),
        Err(r) => {
            return Err(ferry_manifests::Error::from(r.advise(
                "a replayed or frozen vendor index (suspect the server or a proxy in between); nothing was changed. If the vendor really withdrew a newer index, re-run with --allow-older-index",
            ))
            .into());
        }
    }

    // 2. Selection.
    let selected = crate::select::select(
        &index,
        crate::select::Selection {
            channels: &opts.channels,
            profiles: &opts.profiles,
            platforms: &opts.platforms,
            versions: opts.versions.as_ref(),
        },
    )?;

    // 3. Tasks: notes and artifacts.
    let mut tasks: Vec<Task> = Vec::new();
    let mut total_bytes = 0u64;
    for (r, _, arts) in &selected {
        let v = r.version.to_string();
        let notes_name = last_segment(&r.notes.url)?;
        let notes_path = BundlePath::from_components(["releases", v.as_str(), &notes_name])?;
        total_bytes = total_bytes.saturating_add(r.notes.size);
        tasks.push(Task::Notes(FileJob {
            url: join(&index_url, &r.notes.url)?,
            path: notes_path,
            sha256: r.notes.sha256,
            size: r.notes.size,
            minisign: Vec::new(),
        }));
        for a in arts {
            total_bytes = total_bytes.saturating_add(a.size);
            let path = BundlePath::from_components([
                "releases",
                v.as_str(),
                a.profile.as_str(),
                a.name.as_str(),
            ])?;
            let mut sigs = Vec::new();
            for s in &a.signatures {
                sigs.push((s.kind, join(&index_url, &s.url)?));
            }
            tasks.push(Task::Artifact(ArtifactTask {
                version: r.version.clone(),
                artifact: (*a).clone(),
                url: join(&index_url, &a.url)?,
                path,
                sigs,
            }));
        }
    }
    progress.begin(tasks.len(), total_bytes);

    // 4. Run, at most `jobs` at a time; stop scheduling at the first error.
    let ctx = Arc::new(Context {
        client: client.clone(),
        workspace: ws.clone(),
        retries: opts.retries,
        progress: progress.clone(),
    });
    let vendor = Arc::new(vendor);
    let mut set = tokio::task::JoinSet::new();
    let mut queue = tasks.into_iter().enumerate();
    let mut results: BTreeMap<usize, TaskDone> = BTreeMap::new();
    let mut first_err: Option<Error> = None;
    for (i, t) in queue.by_ref().take(opts.jobs) {
        set.spawn(run_task(ctx.clone(), vendor.clone(), i, t));
    }
    while let Some(joined) = set.join_next().await {
        let res = joined.map_err(|e| {
            Error::io(
                &opts.workspace,
                "run a download task",
                std::io::Error::other(e.to_string()),
            )
        });
        match res.and_then(|r| r) {
            Ok((i, done)) => {
                results.insert(i, done);
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                } else {
                    progress.note(&format!("also: {e}"));
                }
            }
        }
        if first_err.is_none()
            && let Some((i, t)) = queue.next()
        {
            set.spawn(run_task(ctx.clone(), vendor.clone(), i, t));
        }
    }
    progress.finish();
    if let Some(e) = first_err {
        return Err(e);
    }

    // 5. The new state.
    let mut report = SyncReport {
        product: index.product.clone(),
        index_url: ferry_manifests::redact::redact_url(&opts.index_url),
        index_sha256,
        index_key_id: key_id.to_string(),
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
    };
    let mut files: Vec<FileEntry> = Vec::new();
    let mut arts_by_version: BTreeMap<Version, Vec<ManifestArtifact>> = BTreeMap::new();
    let mut notes_by_version: BTreeMap<Version, BundlePath> = BTreeMap::new();
    for done in results.into_values() {
        for (entry, outcome) in done.files {
            match outcome {
                Outcome::Downloaded { resumed } => {
                    report.downloaded += 1;
                    report.resumed += usize::from(resumed);
                }
                Outcome::Present => report.present += 1,
            }
            files.push(entry);
        }
        report.ignored.extend(done.ignored);
        match done.kind {
            DoneKind::Notes(version, path) => {
                notes_by_version.insert(version, path);
            }
            DoneKind::Artifact(version, art) => {
                arts_by_version.entry(version).or_default().push(art);
            }
        }
    }
    let mut releases = Vec::new();
    for (r, channels, _) in &selected {
        let artifacts = arts_by_version.remove(&r.version).unwrap_or_default();
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
            notes: notes_by_version.remove(&r.version).ok_or_else(|| {
                Error::io(
                    &opts.workspace,
                    "collect release notes",
                    std::io::Error::other("missing notes result"),
                )
            })?,
            artifacts,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut seen: BTreeSet<Version> = old
        .as_ref()
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
    let state = State {
        schema: STATE_SCHEMA.to_string(),
        product: index.product.clone(),
        source: Source {
            index_url: ferry_manifests::redact::redact_url(&opts.index_url),
            index_sha256,
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
        last_sequence: old.as_ref().and_then(|o| o.last_sequence),
        index_generated: Some(
            old.as_ref()
                .and_then(|o| o.index_generated)
                .map_or(index.generated, |g| g.max(index.generated)),
        ),
    };
    // Files an earlier sync carried that are no longer selected go away
    // (they were ferry's own verified downloads).
    if let Some(o) = &old {
        let keep: BTreeSet<&BundlePath> = state.files.iter().map(|f| &f.path).collect();
        for f in &o.files {
            if !keep.contains(&f.path) {
                ws.remove_file(&f.path)?;
                report.removed.push(f.path.to_string());
            }
        }
    }
    if old.as_ref().is_none_or(|o| !o.same_content(&state)) {
        report.cleared_signed = ws.root().join("ferry").exists();
        ws.clear_signed()?;
    }
    ws.save_state(&state)?;
    report.files = state.files.len();
    report.bytes = state.files.iter().map(|f| f.size).sum();
    report.yanks = yanks;
    Ok(report)
}

fn join(base: &reqwest::Url, rel: &str) -> Result<reqwest::Url> {
    let u = base.join(rel).map_err(|e| {
        ferry_manifests::Error::format("index.json", "url", format!("\"{rel}\": {e}"))
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(ferry_manifests::Error::format(
            "index.json",
            "url",
            format!("\"{u}\": only http and https URLs are fetched"),
        )
        .into());
    }
    Ok(u)
}

fn last_segment(url: &str) -> Result<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or(path);
    Name::new(name).map_err(|m| {
        Error::from(ferry_manifests::Error::format(
            "index.json",
            "notes.url",
            format!("the notes file name \"{name}\": {m}"),
        ))
    })?;
    Ok(name.to_string())
}

struct ArtifactTask {
    version: Version,
    artifact: IndexArtifact,
    url: reqwest::Url,
    path: BundlePath,
    sigs: Vec<(SigKind, reqwest::Url)>,
}

enum Task {
    Notes(FileJob),
    Artifact(ArtifactTask),
}

enum DoneKind {
    Notes(Version, BundlePath),
    Artifact(Version, ManifestArtifact),
}

struct TaskDone {
    kind: DoneKind,
    files: Vec<(FileEntry, Outcome)>,
    ignored: Vec<String>,
}

async fn run_task(
    ctx: Arc<Context>,
    vendor: Arc<VendorPolicy>,
    i: usize,
    task: Task,
) -> Result<(usize, TaskDone)> {
    match task {
        Task::Notes(job) => {
            let outcome = download::fetch(&ctx, &job).await?;
            let version = job
                .path
                .components()
                .nth(1)
                .and_then(|v| Version::parse(v).ok())
                .unwrap_or_else(|| Version::new(0, 0, 0));
            Ok((
                i,
                TaskDone {
                    kind: DoneKind::Notes(version, job.path.clone()),
                    files: vec![(
                        FileEntry {
                            path: job.path.clone(),
                            size: job.size,
                            sha256: job.sha256,
                        },
                        outcome,
                    )],
                    ignored: Vec::new(),
                },
            ))
        }
        Task::Artifact(t) => artifact(&ctx, &vendor, t).await.map(|d| (i, d)),
    }
}

/// One signature file kept in memory until its artifact passed.
/// Largest Sigstore bundle fetched (bundles with certificate chains are a
/// few KiB).
const MAX_SIGSTORE_BYTES: u64 = 1024 * 1024;

struct HeldSignature {
    path: BundlePath,
    bytes: Vec<u8>,
    upstream: Upstream,
}

async fn artifact(ctx: &Context, vendor: &VendorPolicy, t: ArtifactTask) -> Result<TaskDone> {
    let what = t.path.to_string();
    let mut ignored = Vec::new();
    let mut held: Vec<HeldSignature> = Vec::new();
    let mut minisign: Vec<OwnedMinisign> = Vec::new();
    let need = VendorChecks::required(vendor);
    let (require_minisign, require_sigstore) = (need.minisign, need.sigstore);
    for (kind, url) in &t.sigs {
        match kind {
            SigKind::Minisign => {
                if !minisign.is_empty() {
                    ignored.push(format!(
                        "{url}: a second minisign signature for {what} (one is checked)"
                    ));
                    continue;
                }
                let sig_path = BundlePath::new(&format!("{what}.minisig"))?;
                let in_place = ctx.workspace.path(&sig_path);
                // A signature an earlier sync kept is checked again and kept
                // (vendors re-sign; the manifest should not churn). If it no
                // longer verifies, the error names it.
                let bytes = if in_place.exists() {
                    ferry_manifests::minisig::read_small_bytes(&in_place, MAX_SIGNATURE_BYTES)?
                } else {
                    match fetch_small_retry(
                        &ctx.client,
                        url,
                        MAX_SIGNATURE_BYTES,
                        sig_path.as_str(),
                        ctx.retries,
                    )
                    .await?
                    {
                        Ok(b) => b,
                        Err(status) if require_minisign && (400..500).contains(&status) => {
                            return Err(Error::MissingSignature {
                            what: what.clone(),
                            url: url.to_string(),
                            status,
                            reason: "the trust policy requires a vendor minisign signature on every artifact".into(),
                        });
                        }
                        Err(status) if require_minisign => {
                            return Err(Error::Status {
                                url: url.to_string(),
                                status,
                            });
                        }
                        Err(status) => {
                            ignored
                                .push(format!("{url}: HTTP {status}; not required by the policy"));
                            continue;
                        }
                    }
                };
                let sig = SignatureFile::parse(&bytes, sig_path.as_str())?;
                let Some(key) = vendor.minisign_keys.get(sig.key_id()) else {
                    if require_minisign {
                        return Err(ferry_manifests::Error::signature(
                            sig_path.as_str(),
                            format!(
                                "made by key {}, which the trust policy does not list as a vendor key",
                                sig.key_id()
                            ),
                        )
                        .into());
                    }
                    ignored.push(format!(
                        "{sig_path}: key {} is not a vendor key of the policy; not required, not kept",
                        sig.key_id()
                    ));
                    continue;
                };
                minisign.push(OwnedMinisign {
                    key: key.clone(),
                    sig,
                    legacy: vendor.legacy,
                    what: sig_path.to_string(),
                });
                held.push(HeldSignature {
                    upstream: Upstream::Minisign {
                        path: sig_path.clone(),
                        key_id: key.id().to_string(),
                    },
                    path: sig_path,
                    bytes,
                });
            }
            SigKind::Sigstore => {
                if !require_sigstore {
                    ignored.push(format!(
                        "{url}: Sigstore bundle not required by the policy; not kept"
                    ));
                    continue;
                }
                let sig_path = BundlePath::new(&format!("{what}.sigstore.json"))?;
                let in_place = ctx.workspace.path(&sig_path);
                let bytes = if in_place.exists() {
                    ferry_manifests::minisig::read_small_bytes(&in_place, MAX_SIGSTORE_BYTES)?
                } else {
                    match fetch_small_retry(
                        &ctx.client,
                        url,
                        MAX_SIGSTORE_BYTES,
                        sig_path.as_str(),
                        ctx.retries,
                    )
                    .await?
                    {
                        Ok(b) => b,
                        Err(status) if (400..500).contains(&status) => {
                            return Err(Error::MissingSignature {
                                what: what.clone(),
                                url: url.to_string(),
                                status,
                                reason: "the trust policy requires a vendor Sigstore bundle on every artifact".into(),
                            });
                        }
                        Err(status) => {
                            return Err(Error::Status {
                                url: url.to_string(),
                                status,
                            });
                        }
                    }
                };
                // The bundle signs the index's digest; the streamed bytes
                // must then hash to exactly that digest (checked by the
                // download), so the artifact kept is the one signed.
                let outcome = ferry_manifests::sigstore::check_vendor_sigstore(
                    vendor,
                    &bytes,
                    sig_path.as_str(),
                    &t.artifact.sha256,
                )?;
                held.push(HeldSignature {
                    upstream: Upstream::Sigstore {
                        path: sig_path.clone(),
                        identity: outcome.identity,
                        issuer: outcome.issuer,
                        log_index: outcome.log_index,
                    },
                    path: sig_path,
                    bytes,
                });
            }
        }
    }
    let present = VendorChecks {
        minisign: !minisign.is_empty(),
        sigstore: held
            .iter()
            .any(|h| matches!(h.upstream, Upstream::Sigstore { .. })),
    };
    decide::vendor_checks(&what, vendor, present)
        .map_err(|r| r.advise("the vendor index lists none for it"))
        .map_err(ferry_manifests::Error::from)?;
    let job = FileJob {
        url: t.url.clone(),
        path: t.path.clone(),
        sha256: t.artifact.sha256,
        size: t.artifact.size,
        minisign,
    };
    let outcome = download::fetch(ctx, &job).await?;
    // The artifact passed: keep its signatures beside it.
    let mut files = Vec::new();
    for h in &held {
        let dest = ctx.workspace.path(&h.path);
        if dest.exists() {
            // These bytes were read from `dest` above and just verified.
            files.push((entry(&h.path, &h.bytes), Outcome::Present));
            continue;
        }
        let partial = ctx.workspace.partial_path(&h.path);
        fsutil::write_atomic_creating(&partial, &h.bytes)?;
        ctx.workspace.commit_partial(&h.path)?;
        files.push((
            entry(&h.path, &h.bytes),
            Outcome::Downloaded { resumed: false },
        ));
    }
    files.push((
        FileEntry {
            path: t.path.clone(),
            size: t.artifact.size,
            sha256: t.artifact.sha256,
        },
        outcome,
    ));
    Ok(TaskDone {
        kind: DoneKind::Artifact(
            t.version,
            ManifestArtifact {
                path: t.path,
                profile: t.artifact.profile,
                platform: t.artifact.platform,
                format: t.artifact.format,
                upstream: held.into_iter().map(|h| h.upstream).collect(),
            },
        ),
        files,
        ignored,
    })
}

fn entry(path: &BundlePath, bytes: &[u8]) -> FileEntry {
    FileEntry {
        path: path.clone(),
        size: bytes.len() as u64,
        sha256: Sha256Digest::of(bytes),
    }
}
