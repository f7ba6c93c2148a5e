//! `ferry sync` (SPEC §4): fetch the vendor index and its signature,
//! verify the signature against the policy's vendor keys **before**
//! parsing, parse those same bytes, select releases (channel, profile,
//! version range, platform; never a yanked one), then download every file
//! in parallel (bounded), checking size, SHA-256 and vendor signatures as
//! `[vendor].require` says while the bytes arrive. A file enters the
//! workspace only once it passed; the state file is written last.

//!
//! The steps live in modules of their own: [`index`] fetches and verifies
//! the vendor index, [`tasks`] plans and runs the downloads, [`record`]
//! writes the new workspace state.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::name::Name;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::release::YankNotice;
use ferry_workspace::{State, Workspace};
use semver::{Version, VersionReq};
use serde::Serialize;

use crate::client::{self, ClientOptions};
use crate::download::Context;
use crate::error::{Error, Result};
use crate::progress::Progress;

mod image;
mod index;
mod record;
mod tasks;

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
    /// Registries (`host[:port]`, as an image reference names them) asked
    /// over plain HTTP instead of HTTPS (`--registry-http`). Image bytes
    /// are verified by digest either way; HTTPS also hides what is pulled
    /// and protects a registry token.
    pub registry_http: Vec<String>,
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
    let index_url = check_options(opts)?;
    let ws = Workspace::open(&opts.workspace)?;
    let _lock = ws.lock()?;
    let old = ws.load_state()?;
    check_workspace_product(opts, policy, old.as_ref())?;
    let client = client::build(&opts.client)?;

    // 1. The index and its signature; verify, then parse the same bytes.
    let fetched = index::fetch_verified(&client, &index_url, opts.retries, &vendor, policy).await?;
    index::check_replay(
        &fetched.index,
        old.as_ref(),
        opts.allow_older_index,
        progress.as_ref(),
    )?;

    // 2. Selection.
    let selected = crate::select::select(
        &fetched.index,
        crate::select::Selection {
            channels: &opts.channels,
            profiles: &opts.profiles,
            platforms: &opts.platforms,
            versions: opts.versions.as_ref(),
        },
    )?;

    // 3. Tasks: notes and artifacts; 4. run them.
    let (planned, total_bytes) = tasks::plan(&selected, &index_url, &opts.registry_http)?;
    progress.begin(planned.len(), total_bytes);
    let ctx = Arc::new(Context {
        client: client.clone(),
        workspace: ws.clone(),
        retries: opts.retries,
        progress: progress.clone(),
    });
    let results = tasks::run_all(ctx, Arc::new(vendor), planned, opts).await;
    progress.finish();
    let results = results?;

    // 5. The new state.
    record::record(&ws, opts, old.as_ref(), &fetched, &selected, results)
}

/// Options that are wrong before anything is fetched (exit 2).
fn check_options(opts: &SyncOptions) -> Result<reqwest::Url> {
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
    Ok(index_url)
}

/// A workspace holds one product: the policy's.
fn check_workspace_product(
    opts: &SyncOptions,
    policy: &TrustPolicy,
    old: Option<&State>,
) -> Result<()> {
    if let Some(o) = old
        && o.product != policy.product
    {
        return Err(ferry_durable::Error::Refused {
            what: opts.workspace.display().to_string(),
            reason: format!(
                "this workspace holds product \"{}\", the policy is for \"{}\"",
                o.product, policy.product
            ),
        }
        .into());
    }
    Ok(())
}
