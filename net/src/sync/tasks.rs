//! Steps 3 and 4 of a sync: the download tasks (release notes, and each
//! artifact with its upstream signatures), run at most `jobs` at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_durable::fsutil;
use ferry_manifests::decide::{self, VendorChecks};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::image::IMAGE_DIR_SUFFIX;
use ferry_manifests::index::{ArtifactSource, IndexArtifact};
use ferry_manifests::manifest::{FileEntry, ManifestArtifact, Upstream};
use ferry_manifests::minisig::SignatureFile;
use ferry_manifests::name::Name;
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::VendorPolicy;
use ferry_manifests::release::SigKind;
use semver::Version;

use super::SyncOptions;
use super::image::ImageSource;
use crate::download::{
    self, Context, FileJob, MAX_SIGNATURE_BYTES, Outcome, OwnedMinisign, fetch_small_retry,
};
use crate::error::{Error, Result};
use crate::select::Selected;

/// The download tasks of a selection, and their total size.
pub(super) fn plan(
    selected: &[Selected<'_>],
    index_url: &reqwest::Url,
    registry_http: &[String],
) -> Result<(Vec<Task>, u64)> {
    let mut tasks: Vec<Task> = Vec::new();
    let mut total_bytes = 0u64;
    for (r, _, arts) in selected {
        let v = r.version.to_string();
        let notes_name = last_segment(&r.notes.url)?;
        let notes_path = BundlePath::from_components(["releases", v.as_str(), &notes_name])?;
        total_bytes = total_bytes.saturating_add(r.notes.size);
        tasks.push(Task::Notes(Box::new(FileJob {
            url: join(index_url, &r.notes.url)?,
            path: notes_path,
            sha256: r.notes.sha256,
            size: r.notes.size,
            minisign: Vec::new(),
            auth: None,
        })));
        for a in arts {
            total_bytes = total_bytes.saturating_add(a.size);
            let file_name = if a.is_image() {
                format!("{}{IMAGE_DIR_SUFFIX}", a.name)
            } else {
                a.name.to_string()
            };
            let path = BundlePath::from_components([
                "releases",
                v.as_str(),
                a.profile.as_str(),
                file_name.as_str(),
            ])?;
            let mut sigs = Vec::new();
            for s in &a.signatures {
                sigs.push((s.kind, join(index_url, &s.url)?));
            }
            let (sha256, fetch) = match a.source() {
                Some(ArtifactSource::File { url, sha256 }) => {
                    (*sha256, Fetch::File(join(index_url, url)?))
                }
                Some(ArtifactSource::Image { image, tag, digest }) => (
                    digest.0,
                    Fetch::Image(ImageSource {
                        plain_http: registry_http.iter().any(|h| h == image.registry()),
                        image: image.clone(),
                        tag: tag.map_or_else(|| r.version.to_string(), str::to_string),
                        digest: *digest,
                    }),
                ),
                None => {
                    return Err(ferry_manifests::Error::format(
                        "index.json",
                        a.name.as_str(),
                        "an artifact with fields of the wrong kind",
                    )
                    .into());
                }
            };
            tasks.push(Task::Artifact(Box::new(ArtifactTask {
                version: r.version.clone(),
                artifact: (*a).clone(),
                sha256,
                fetch,
                path,
                sigs,
            })));
        }
    }
    Ok((tasks, total_bytes))
}

/// Runs `tasks`, at most `opts.jobs` at a time; stops scheduling at the
/// first error and returns it (later errors are noted).
pub(super) async fn run_all(
    ctx: Arc<Context>,
    vendor: Arc<VendorPolicy>,
    tasks: Vec<Task>,
    opts: &SyncOptions,
) -> Result<BTreeMap<usize, TaskDone>> {
    let progress = ctx.progress.clone();
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
    match first_err {
        Some(e) => Err(e),
        None => Ok(results),
    }
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

pub(super) struct ArtifactTask {
    pub(super) version: Version,
    pub(super) artifact: IndexArtifact,
    /// A file's SHA-256; an image's root digest (what a Sigstore bundle signs).
    pub(super) sha256: Sha256Digest,
    fetch: Fetch,
    pub(super) path: BundlePath,
    sigs: Vec<(SigKind, reqwest::Url)>,
}

/// Where an artifact's bytes come from.
enum Fetch {
    File(reqwest::Url),
    Image(ImageSource),
}

pub(super) enum Task {
    Notes(Box<FileJob>),
    Artifact(Box<ArtifactTask>),
}

pub(super) enum DoneKind {
    Notes(Version, BundlePath),
    Artifact(Version, Box<ManifestArtifact>),
}

pub(super) struct TaskDone {
    pub(super) kind: DoneKind,
    pub(super) files: Vec<(FileEntry, Outcome)>,
    pub(super) ignored: Vec<String>,
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
        Task::Artifact(t) => artifact(&ctx, &vendor, *t).await.map(|d| (i, d)),
    }
}

/// One signature file kept in memory until its artifact passed.
/// Largest Sigstore bundle fetched (bundles with certificate chains are a
/// few KiB).
const MAX_SIGSTORE_BYTES: u64 = 1024 * 1024;

pub(super) struct HeldSignature {
    path: BundlePath,
    bytes: Vec<u8>,
    pub(super) upstream: Upstream,
}

/// The upstream signatures of one artifact, as far as fetched and checked
/// before the artifact streams.
#[derive(Default)]
struct Signatures {
    held: Vec<HeldSignature>,
    minisign: Vec<OwnedMinisign>,
    ignored: Vec<String>,
}

/// What a signature fetch found: bytes, or nothing (`None`) when the
/// policy does not require it (the reason is in `ignored`).
async fn fetch_signature(
    ctx: &Context,
    url: &reqwest::Url,
    sig_path: &BundlePath,
    limit: u64,
    required: Option<&'static str>,
    what: &str,
    ignored: &mut Vec<String>,
) -> Result<Option<Vec<u8>>> {
    let in_place = ctx.workspace.path(sig_path);
    // A signature an earlier sync kept is checked again and kept (vendors
    // re-sign; the manifest should not churn). If it no longer verifies,
    // the error names it.
    if in_place.exists() {
        return Ok(Some(ferry_manifests::minisig::read_small_bytes(
            &in_place, limit,
        )?));
    }
    match fetch_small_retry(&ctx.client, url, limit, sig_path.as_str(), ctx.retries).await? {
        Ok(b) => Ok(Some(b)),
        Err(status) => match required {
            Some(reason) if (400..500).contains(&status) => Err(Error::MissingSignature {
                what: what.to_string(),
                url: url.to_string(),
                status,
                reason: reason.into(),
            }),
            Some(_) => Err(Error::Status {
                url: url.to_string(),
                status,
            }),
            None => {
                ignored.push(format!("{url}: HTTP {status}; not required by the policy"));
                Ok(None)
            }
        },
    }
}

impl Signatures {
    async fn minisign(
        &mut self,
        ctx: &Context,
        vendor: &VendorPolicy,
        what: &str,
        url: &reqwest::Url,
    ) -> Result<()> {
        let require_minisign = VendorChecks::required(vendor).minisign;
        if !self.minisign.is_empty() {
            self.ignored.push(format!(
                "{url}: a second minisign signature for {what} (one is checked)"
            ));
            return Ok(());
        }
        let sig_path = BundlePath::new(&format!("{what}.minisig"))?;
        let required = require_minisign
            .then_some("the trust policy requires a vendor minisign signature on every artifact");
        let Some(bytes) = fetch_signature(
            ctx,
            url,
            &sig_path,
            MAX_SIGNATURE_BYTES,
            required,
            what,
            &mut self.ignored,
        )
        .await?
        else {
            return Ok(());
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
            self.ignored.push(format!(
                "{sig_path}: key {} is not a vendor key of the policy; not required, not kept",
                sig.key_id()
            ));
            return Ok(());
        };
        self.minisign.push(OwnedMinisign {
            key: key.clone(),
            sig,
            legacy: vendor.legacy,
            what: sig_path.to_string(),
        });
        self.held.push(HeldSignature {
            upstream: Upstream::Minisign {
                path: sig_path.clone(),
                key_id: key.id().to_string(),
            },
            path: sig_path,
            bytes,
        });
        Ok(())
    }

    async fn sigstore(
        &mut self,
        ctx: &Context,
        vendor: &VendorPolicy,
        t: &ArtifactTask,
        url: &reqwest::Url,
    ) -> Result<()> {
        let what = t.path.as_str();
        if !VendorChecks::required(vendor).sigstore {
            self.ignored.push(format!(
                "{url}: Sigstore bundle not required by the policy; not kept"
            ));
            return Ok(());
        }
        let sig_path = BundlePath::new(&format!("{what}.sigstore.json"))?;
        let Some(bytes) = fetch_signature(
            ctx,
            url,
            &sig_path,
            MAX_SIGSTORE_BYTES,
            Some("the trust policy requires a vendor Sigstore bundle on every artifact"),
            what,
            &mut self.ignored,
        )
        .await?
        else {
            return Ok(());
        };
        // The bundle signs the index's digest; the streamed bytes
        // must then hash to exactly that digest (checked by the
        // download), so the artifact kept is the one signed.
        let outcome = ferry_manifests::sigstore::check_vendor_sigstore(
            vendor,
            &bytes,
            sig_path.as_str(),
            &t.sha256,
        )?;
        self.held.push(HeldSignature {
            upstream: Upstream::Sigstore {
                path: sig_path.clone(),
                identity: outcome.identity,
                issuer: outcome.issuer,
                log_index: outcome.log_index,
            },
            path: sig_path,
            bytes,
        });
        Ok(())
    }
}

async fn artifact(ctx: &Context, vendor: &VendorPolicy, t: ArtifactTask) -> Result<TaskDone> {
    let what = t.path.to_string();
    let mut sigs = Signatures::default();
    for (kind, url) in &t.sigs {
        match kind {
            SigKind::Minisign => sigs.minisign(ctx, vendor, &what, url).await?,
            SigKind::Sigstore => sigs.sigstore(ctx, vendor, &t, url).await?,
        }
    }
    let Signatures {
        held,
        minisign,
        ignored,
    } = sigs;
    let present = VendorChecks {
        minisign: !minisign.is_empty(),
        sigstore: held
            .iter()
            .any(|h| matches!(h.upstream, Upstream::Sigstore { .. })),
    };
    decide::vendor_checks(&what, vendor, present)
        .map_err(|r| r.advise("the vendor index lists none for it"))
        .map_err(ferry_manifests::Error::from)?;
    let url = match &t.fetch {
        Fetch::File(url) => url.clone(),
        Fetch::Image(src) => {
            return super::image::pull(ctx, &t, src, held, &minisign, ignored).await;
        }
    };
    let job = FileJob {
        url,
        path: t.path.clone(),
        sha256: t.sha256,
        size: t.artifact.size,
        minisign,
        auth: None,
    };
    let outcome = download::fetch(ctx, &job).await?;
    // The artifact passed: keep its signatures beside it.
    let mut files = keep_signatures(ctx, &held)?;
    files.push((
        FileEntry {
            path: t.path.clone(),
            size: t.artifact.size,
            sha256: t.sha256,
        },
        outcome,
    ));
    Ok(TaskDone {
        kind: DoneKind::Artifact(
            t.version,
            Box::new(ManifestArtifact {
                path: t.path,
                profile: t.artifact.profile,
                platform: t.artifact.platform,
                format: t.artifact.format,
                image: None,
                tag: None,
                digest: None,
                upstream: held.into_iter().map(|h| h.upstream).collect(),
            }),
        ),
        files,
        ignored,
    })
}

/// Writes signatures (checked, and their artifact verified) into the
/// workspace; one already there was read from there and checked.
pub(super) fn keep_signatures(
    ctx: &Context,
    held: &[HeldSignature],
) -> Result<Vec<(FileEntry, Outcome)>> {
    let mut files = Vec::new();
    for h in held {
        files.push(keep_bytes(ctx, &h.path, &h.bytes)?);
    }
    Ok(files)
}

/// Writes verified `bytes` at `path` in the workspace (through the
/// partial folder and a rename). The same bytes already there are kept;
/// other bytes there are an error naming the file: ferry never replaces
/// a workspace file silently.
pub(super) fn keep_bytes(
    ctx: &Context,
    path: &BundlePath,
    bytes: &[u8],
) -> Result<(FileEntry, Outcome)> {
    let dest = ctx.workspace.path(path);
    if dest.exists() {
        if fs_err_read(&dest)? == bytes {
            return Ok((entry(path, bytes), Outcome::Present));
        }
        return Err(Error::Layout(ferry_mirror_layout::Error::Refused {
            what: path.to_string(),
            reason: "already in the workspace with other bytes than the vendor's (verified) ones; ferry never replaces it silently: move it away and run sync again".into(),
        }));
    }
    let partial = ctx.workspace.partial_path(path);
    fsutil::write_atomic_creating(&partial, bytes)?;
    ctx.workspace.commit_partial(path)?;
    Ok((entry(path, bytes), Outcome::Downloaded { resumed: false }))
}

fn fs_err_read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, "read", e))
}

pub(super) fn entry(path: &BundlePath, bytes: &[u8]) -> FileEntry {
    FileEntry {
        path: path.clone(),
        size: bytes.len() as u64,
        sha256: Sha256Digest::of(bytes),
    }
}
