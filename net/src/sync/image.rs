//! An image artifact of a sync (SPEC §3.12): the root manifest or index by
//! its pinned digest, the platform's manifest, then config and layers by
//! digest, each verified as it arrives, into an OCI image layout at the
//! artifact's path (`releases/<v>/<p>/<name>.oci/`). Blobs go through the
//! same resumable, size-capped, hashed download as files; the layout's
//! `oci-layout` and `index.json` are written last, once every blob passed.

use ferry_manifests::digest::OciDigest;
use ferry_manifests::image::ImageRef;
use ferry_manifests::manifest::{FileEntry, ManifestArtifact};
use ferry_manifests::path::BundlePath;
use ferry_oci::layout::{INDEX_FILE, LayoutIndex, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE};
use ferry_oci::model::{Descriptor, Document, Expect, ImageManifest};
use ferry_oci::{PlatformName, platform};

use super::tasks::{ArtifactTask, DoneKind, HeldSignature, TaskDone, keep_bytes, keep_signatures};
use crate::download::{self, Context, FileJob, Outcome, OwnedMinisign};
use crate::error::Result;
use crate::oci_pull::Registry;

/// The image an artifact names.
pub(super) struct ImageSource {
    /// The image in the vendor's registry.
    pub(super) image: ImageRef,
    /// The tag written into the layout's `index.json` (the vendor's, else
    /// the version).
    pub(super) tag: String,
    /// The pinned root.
    pub(super) digest: OciDigest,
    /// Whether the registry is asked over plain HTTP (`--registry-http`).
    pub(super) plain_http: bool,
}

/// A manifest or index already verified, to write into the layout.
struct Doc {
    digest: OciDigest,
    media_type: String,
    bytes: Vec<u8>,
}

/// Pulls the image of `t` into the workspace. Upstream signatures were
/// fetched and (Sigstore) checked against the pinned digest; minisign
/// signatures are checked here over the root's bytes.
///
/// # Errors
/// The first blob that fails, named by digest (exit 1; nothing unverified
/// kept), or network trouble (exit 3).
pub(super) async fn pull(
    ctx: &Context,
    t: &ArtifactTask,
    src: &ImageSource,
    held: Vec<HeldSignature>,
    minisign: &[OwnedMinisign],
    ignored: Vec<String>,
) -> Result<TaskDone> {
    let registry = Registry::new(ctx.client.clone(), &src.image, src.plain_http)?;
    let wanted: PlatformName = t.artifact.platform.as_str().parse().map_err(|m: String| {
        ferry_manifests::Error::format("index.json", format!("{}.platform", t.artifact.name), m)
    })?;
    let (docs, image) = manifests(&registry, src, &wanted).await?;
    for m in minisign {
        m.key.verify(
            &docs[0].bytes,
            &m.sig,
            ferry_manifests::minisig::Legacy::Refuse,
            &m.what,
        )?;
    }
    let blobs = image_blobs(&image);
    check_total(t, src, &docs, &blobs)?;
    let auth = registry.auth().await;
    let mut files = Vec::new();
    for d in &blobs {
        let path = blob_path(&t.path, &d.digest)?;
        let job = FileJob {
            url: registry.blob_url(&d.digest),
            path: path.clone(),
            sha256: d.digest.0,
            size: d.size,
            minisign: Vec::new(),
            auth: auth.clone(),
        };
        let outcome = download::fetch(ctx, &job).await?;
        files.push((
            FileEntry {
                path,
                size: d.size,
                sha256: d.digest.0,
            },
            outcome,
        ));
    }
    // Every blob passed: the documents, then the layout's own files.
    for doc in &docs {
        files.push(keep_bytes(
            ctx,
            &blob_path(&t.path, &doc.digest)?,
            &doc.bytes,
        )?);
    }
    let root = Descriptor::new(&docs[0].media_type, src.digest, docs[0].bytes.len() as u64);
    let index = LayoutIndex::single(&root, &src.tag).to_bytes();
    files.push(keep_bytes(
        ctx,
        &t.path.join(OCI_LAYOUT_FILE)?,
        OCI_LAYOUT_CONTENT,
    )?);
    files.push(keep_bytes(ctx, &t.path.join(INDEX_FILE)?, &index)?);
    files.extend(keep_signatures(ctx, &held)?);
    Ok(done(t, src, held, files, ignored))
}

/// The root (by the pinned digest) and, for an index, the platform's
/// manifest: each verified against its digest before it is parsed.
async fn manifests(
    registry: &Registry,
    src: &ImageSource,
    wanted: &PlatformName,
) -> Result<(Vec<Doc>, ImageManifest)> {
    let (bytes, doc) = registry.manifest(Expect::digest(&src.digest)).await?;
    let mut docs = vec![Doc {
        digest: src.digest,
        media_type: doc.media_type().to_string(),
        bytes,
    }];
    let image = match doc {
        Document::Manifest(m) => *m,
        Document::Index(index) => {
            let chosen = platform::select(src.digest, &index, wanted)?.clone();
            let (bytes, doc) = registry.manifest(Expect::descriptor(&chosen)).await?;
            docs.push(Doc {
                digest: chosen.digest,
                media_type: chosen.media_type.clone(),
                bytes,
            });
            match doc {
                Document::Manifest(m) => *m,
                Document::Index(_) => {
                    return Err(ferry_oci::Error::Format {
                        blob: chosen.digest,
                        field: "(document)".into(),
                        reason: "an image index inside an image index is not supported".into(),
                    }
                    .into());
                }
            }
        }
    };
    Ok((docs, image))
}

/// Config and layers, each once.
fn image_blobs(m: &ImageManifest) -> Vec<Descriptor> {
    let mut out: Vec<Descriptor> = Vec::new();
    for d in std::iter::once(&m.config).chain(&m.layers) {
        if !out.iter().any(|o| o.digest == d.digest) {
            out.push(d.clone());
        }
    }
    out
}

/// The index's `size` is the sum of every blob the image reaches: checked
/// before a layer is fetched (a vendor index and registry that disagree
/// are refused, not reconciled).
fn check_total(
    t: &ArtifactTask,
    src: &ImageSource,
    docs: &[Doc],
    blobs: &[Descriptor],
) -> Result<()> {
    let total = docs
        .iter()
        .map(|d| d.bytes.len() as u64)
        .chain(blobs.iter().map(|d| d.size))
        .fold(0u64, u64::saturating_add);
    if total != t.artifact.size {
        return Err(ferry_manifests::Error::SizeMismatch {
            what: format!("{} (image {}@{})", t.path, src.image, src.digest),
            expected: t.artifact.size,
            actual: total,
        }
        .into());
    }
    Ok(())
}

/// `<layout>/blobs/sha256/<hex>`.
fn blob_path(layout: &BundlePath, blob: &OciDigest) -> Result<BundlePath> {
    Ok(layout.join("blobs")?.join("sha256")?.join(&blob.hex())?)
}

fn done(
    t: &ArtifactTask,
    src: &ImageSource,
    held: Vec<HeldSignature>,
    files: Vec<(FileEntry, Outcome)>,
    ignored: Vec<String>,
) -> TaskDone {
    TaskDone {
        kind: DoneKind::Artifact(
            t.version.clone(),
            Box::new(ManifestArtifact {
                path: t.path.clone(),
                profile: t.artifact.profile.clone(),
                platform: t.artifact.platform.clone(),
                format: t.artifact.format.clone(),
                image: Some(src.image.clone()),
                tag: t.artifact.tag.clone(),
                digest: Some(src.digest),
                upstream: held.into_iter().map(|h| h.upstream).collect(),
            }),
        ),
        files,
        ignored,
    }
}
