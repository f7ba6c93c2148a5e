//! The vendor folder convention and the index builder behind
//! `ferry index build` (used by vendors, the demo and the tests).
//!
//! ```text
//! FROM/
//!   product.toml                 product = "novantra"
//!   <version>/                   one folder per release, named by its SemVer version
//!     release.toml               channels, published, supported_from, required,
//!                                yanked, notes, [[advisories]], [[artifacts]]
//!     NOTES.md                   the release notes (name set by `notes`)
//!     <profile>/<file>           each artifact, in the folder of its profile
//!     <profile>/<file>.minisig   optional: a vendor signature made elsewhere
//!     <profile>/<file>.sigstore.json   optional: a Sigstore bundle made elsewhere
//!     <profile>/<layout>/        a container image (`format = "oci"`): an OCI
//!                                image layout, as `skopeo copy … oci:DIR:TAG` writes
//! ```
//!
//! An image artifact (SPEC §3.12) names its layout folder and the image in
//! the vendor's registry; the builder walks the layout (every blob checked)
//! for its digest and size, signs the root manifest's bytes with the vendor
//! key (`<file>.minisig` in `OUT/<version>/<profile>/`) unless a
//! `<profile>/<file>.minisig` exists, and copies `<profile>/<file>.sigstore.json`.
//! The layout itself is not copied: the vendor pushes it to its registry.
//!
//! ```toml
//! [[artifacts]]
//! file = "onprem"            # the artifact's name
//! profile = "no-training"
//! platform = "linux-amd64"
//! format = "oci"
//! image = "registry.novantra.example/novantra/onprem"
//! tag = "3.2.1"              # optional: the registry tag, and the root picked in the layout
//! layout = "onprem.oci"      # the layout folder in <profile>/
//! ```
//!
//! The builder copies every file into `OUT/` in the same layout (hashing as
//! it copies), signs each artifact that has no `.minisig` yet with the
//! vendor key, then writes `OUT/index.json` and `OUT/index.json.minisig`.
//! Artifact URLs in the index are relative to it.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::digest::{BUF_SIZE, OciDigest, Sha256Digest, Sha256Hasher};
use crate::error::{Error, Result};
use crate::image::{ImageRef, OCI_FORMAT};
use crate::index::{IndexArtifact, IndexFile, IndexRelease, IndexSignature, ReleaseIndex, SCHEMA};
use crate::minisig::{SecretKey, read_small_bytes};
use crate::name::Name;
use crate::progress::ProgressHandle;
use crate::release::{Advisory, SigKind, Yank};
use crate::time::Timestamp;

const MAX_TOML_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductToml {
    product: Name,
}

/// `release.toml`: the metadata of one release folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseToml {
    channels: Vec<Name>,
    published: Timestamp,
    #[serde(default)]
    supported_from: Option<VersionReq>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    yanked: Option<String>,
    #[serde(default = "default_notes")]
    notes: Name,
    #[serde(default)]
    advisories: Vec<Advisory>,
    artifacts: Vec<ArtifactToml>,
}

fn default_notes() -> Name {
    Name::new("NOTES.md").expect("valid")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArtifactToml {
    file: Name,
    profile: Name,
    platform: Name,
    format: Name,
    /// `oci` only: the image in the vendor's registry.
    #[serde(default)]
    image: Option<ImageRef>,
    /// `oci` only: its tag.
    #[serde(default)]
    tag: Option<String>,
    /// `oci` only: the OCI image layout folder in `<profile>/`.
    #[serde(default)]
    layout: Option<Name>,
}

/// What [`ImageDescriber::describe`] learns from an image layout.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    /// The root (manifest or index) digest.
    pub digest: OciDigest,
    /// The sum of the sizes of every blob the image reaches.
    pub size: u64,
    /// The root's bytes (what a vendor signature over the image signs).
    pub root: Vec<u8>,
}

/// Reads an image from an OCI image layout for the builder. ferry-oci
/// implements it (`ferry_oci::describe::LayoutDescriber`): this crate
/// cannot depend on it, ferry-oci depends on this one.
pub trait ImageDescriber {
    /// Walks the layout at `layout` from the root tagged `tag` (or its only
    /// root) for `platform`, checking every blob.
    ///
    /// # Errors
    /// A sentence naming the blob or file.
    fn describe(
        &self,
        layout: &Path,
        tag: Option<&str>,
        platform: &str,
    ) -> std::result::Result<ImageFacts, String>;
}

/// What [`build_index`] did.
#[derive(Debug)]
pub struct BuildReport {
    /// The index written.
    pub index: ReleaseIndex,
    /// `OUT/index.json`.
    pub index_path: PathBuf,
    /// SHA-256 of the index bytes.
    pub index_sha256: Sha256Digest,
    /// Artifacts signed by this run.
    pub signed: usize,
}

/// Builds and signs a vendor release index from `from` into `out`.
///
/// # Errors
/// [`Error::Config`] for a malformed folder, [`Error::Io`] for I/O.
pub fn build_index(
    from: &Path,
    out: &Path,
    key: &SecretKey,
    generated: Timestamp,
) -> Result<BuildReport> {
    build_index_with_progress(from, out, key, generated, &ProgressHandle::default(), None)
}

/// As [`build_index`], reporting the bytes copied and hashed to `progress`
/// (issue 16).
///
/// # Errors
/// As [`build_index`].
pub fn build_index_with_progress(
    from: &Path,
    out: &Path,
    key: &SecretKey,
    generated: Timestamp,
    progress: &ProgressHandle,
    images: Option<&dyn ImageDescriber>,
) -> Result<BuildReport> {
    let product_path = from.join("product.toml");
    let product: ProductToml = read_toml(&product_path)?;
    fs::create_dir_all(out).map_err(|e| Error::io(out, "create directory", e))?;
    let mut builder = Builder {
        out,
        key,
        generated,
        signed: 0,
        progress,
        images,
    };
    let dirs = release_dirs(from)?;
    progress.start("index build", dirs.iter().map(|(_, d)| tree_bytes(d)).sum());
    let mut releases = Vec::new();
    for (version, dir) in dirs {
        releases.push(builder.release(version, &dir)?);
    }
    progress.finish();
    let index = ReleaseIndex {
        schema: SCHEMA.to_string(),
        product: product.product,
        generated,
        releases,
    };
    index.validate(&product_path.display().to_string())?;
    let (index_path, bytes) = write_signed_index(out, key, &index, generated)?;
    Ok(BuildReport {
        index_sha256: Sha256Digest::of(&bytes),
        index,
        index_path,
        signed: builder.signed,
    })
}

/// Bytes of the regular files below `dir` (an estimate of what a build
/// copies, for progress only; unreadable entries count 0).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// The release folders of `from` (every folder in it), in version order.
fn release_dirs(from: &Path) -> Result<Vec<(Version, PathBuf)>> {
    let mut dirs: Vec<(Version, PathBuf)> = Vec::new();
    for entry in fs::read_dir(from).map_err(|e| Error::io(from, "read directory", e))? {
        let entry = entry.map_err(|e| Error::io(from, "read directory", e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let ft = entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), "stat", e))?;
        if !ft.is_dir() {
            continue;
        }
        let version = Version::parse(&name).map_err(|e| {
            Error::config(
                entry.path(),
                format!("a release folder is named by its SemVer version: {e}"),
            )
        })?;
        dirs.push((version, entry.path()));
    }
    dirs.sort();
    Ok(dirs)
}

/// Writes `OUT/index.json` and its signature; returns the index's path and
/// bytes.
fn write_signed_index(
    out: &Path,
    key: &SecretKey,
    index: &ReleaseIndex,
    generated: Timestamp,
) -> Result<(PathBuf, Vec<u8>)> {
    let bytes = index.to_bytes();
    let index_path = out.join("index.json");
    write_file(&index_path, &bytes)?;
    let comment = format!(
        "timestamp:{}\tfile:index.json\tproduct:{}",
        generated.unix(),
        index.product
    );
    let sig = key.sign(&bytes[..], &comment)?;
    write_file(&out.join("index.json.minisig"), sig.as_bytes())?;
    Ok((index_path, bytes))
}

/// Copies release folders into `out`, signing artifacts that have no
/// vendor signature yet.
struct Builder<'a> {
    out: &'a Path,
    key: &'a SecretKey,
    generated: Timestamp,
    /// Artifacts signed so far.
    signed: usize,
    /// Where the bytes copied are reported.
    progress: &'a ProgressHandle,
    /// Reads image layouts (`None`: images cannot be described).
    images: Option<&'a dyn ImageDescriber>,
}

impl Builder<'_> {
    /// One release folder `dir`: its notes and artifacts copied, its index
    /// entry.
    fn release(&mut self, version: Version, dir: &Path) -> Result<IndexRelease> {
        let meta_path = dir.join("release.toml");
        let meta: ReleaseToml = read_toml(&meta_path)?;
        let vdir = version.to_string();
        let notes_rel = format!("{vdir}/{}", meta.notes);
        let (notes_sha, notes_size) = copy_hashed(
            self.progress,
            &dir.join(meta.notes.as_str()),
            &self.out.join(&notes_rel),
        )?;
        let mut artifacts = Vec::new();
        for a in &meta.artifacts {
            artifacts.push(self.artifact(dir, &vdir, a)?);
        }
        Ok(IndexRelease {
            version,
            channels: meta.channels,
            published: meta.published,
            supported_from: meta.supported_from,
            required: meta.required,
            yanked: meta.yanked.map(|reason| Yank { reason }),
            notes: IndexFile {
                url: notes_rel,
                size: notes_size,
                sha256: notes_sha,
            },
            advisories: meta.advisories,
            artifacts,
        })
    }

    /// One artifact of the release folder `dir` (`vdir` in `out`), with
    /// its signatures.
    fn artifact(&mut self, dir: &Path, vdir: &str, a: &ArtifactToml) -> Result<IndexArtifact> {
        if a.format.as_str() == OCI_FORMAT {
            return self.image_artifact(dir, vdir, a);
        }
        if a.image.is_some() || a.tag.is_some() || a.layout.is_some() {
            return Err(Error::config(
                dir.join("release.toml"),
                format!(
                    "artifact {}: image, tag and layout are for format = \"oci\" only",
                    a.file
                ),
            ));
        }
        let rel_dir = format!("{vdir}/{}", a.profile);
        let rel = format!("{rel_dir}/{}", a.file);
        let src = dir.join(a.profile.as_str()).join(a.file.as_str());
        let dst = self.out.join(&rel);
        let (sha256, size) = copy_hashed(self.progress, &src, &dst)?;
        let signatures = self.signatures(&src, &dst, &rel, a)?;
        Ok(IndexArtifact {
            name: a.file.clone(),
            profile: a.profile.clone(),
            platform: a.platform.clone(),
            format: a.format.clone(),
            image: None,
            tag: None,
            digest: None,
            url: Some(rel),
            size,
            sha256: Some(sha256),
            signatures,
        })
    }

    /// The artifact's minisign signature (copied from `src`'s side, or made
    /// now over the copy `dst`), and its Sigstore bundle if there is one.
    fn signatures(
        &mut self,
        src: &Path,
        dst: &Path,
        rel: &str,
        a: &ArtifactToml,
    ) -> Result<Vec<IndexSignature>> {
        let mut signatures = Vec::new();
        let sig_src = PathBuf::from(format!("{}.minisig", src.display()));
        let sig_dst = PathBuf::from(format!("{}.minisig", dst.display()));
        if sig_src.exists() {
            copy_hashed(self.progress, &sig_src, &sig_dst)?;
        } else {
            let file = fs::File::open(dst).map_err(|e| Error::io(dst, "open", e))?;
            let comment = format!(
                "timestamp:{}\tfile:{}\tprehashed",
                self.generated.unix(),
                a.file
            );
            let text = self.key.sign(file, &comment)?;
            write_file(&sig_dst, text.as_bytes())?;
            self.signed += 1;
        }
        signatures.push(IndexSignature {
            kind: SigKind::Minisign,
            url: format!("{rel}.minisig"),
        });
        let sigstore_src = PathBuf::from(format!("{}.sigstore.json", src.display()));
        if sigstore_src.exists() {
            copy_hashed(
                self.progress,
                &sigstore_src,
                &PathBuf::from(format!("{}.sigstore.json", dst.display())),
            )?;
            signatures.push(IndexSignature {
                kind: SigKind::Sigstore,
                url: format!("{rel}.sigstore.json"),
            });
        }
        Ok(signatures)
    }
}

impl Builder<'_> {
    /// An image artifact: its layout walked for digest and size, its root
    /// signed (or its `.minisig` copied), its Sigstore bundle copied.
    fn image_artifact(
        &mut self,
        dir: &Path,
        vdir: &str,
        a: &ArtifactToml,
    ) -> Result<IndexArtifact> {
        let toml = dir.join("release.toml");
        let need = |field: &str| {
            Error::config(
                &toml,
                format!(
                    "artifact {}: {field} is required for format = \"oci\"",
                    a.file
                ),
            )
        };
        let image = a.image.clone().ok_or_else(|| need("image"))?;
        let layout = a.layout.as_ref().ok_or_else(|| need("layout"))?;
        let src_dir = dir.join(a.profile.as_str());
        let layout_dir = src_dir.join(layout.as_str());
        let describer = self.images.ok_or_else(|| {
            Error::config(
                &layout_dir,
                "describing an image needs ferry's image support (`ferry index build`)",
            )
        })?;
        let facts = describer
            .describe(&layout_dir, a.tag.as_deref(), a.platform.as_str())
            .map_err(|m| Error::config(&layout_dir, m))?;
        self.progress.advance(facts.size);
        let rel = format!("{vdir}/{}/{}", a.profile, a.file);
        let src = src_dir.join(a.file.as_str());
        let dst = self.out.join(&rel);
        let sig_src = PathBuf::from(format!("{}.minisig", src.display()));
        let sig_dst = PathBuf::from(format!("{}.minisig", dst.display()));
        if sig_src.exists() {
            copy_hashed(self.progress, &sig_src, &sig_dst)?;
        } else {
            let comment = format!(
                "timestamp:{}\tfile:{}@{}\tprehashed",
                self.generated.unix(),
                a.file,
                facts.digest
            );
            let text = self.key.sign(&facts.root[..], &comment)?;
            write_file(&sig_dst, text.as_bytes())?;
            self.signed += 1;
        }
        let mut signatures = vec![IndexSignature {
            kind: SigKind::Minisign,
            url: format!("{rel}.minisig"),
        }];
        let sigstore_src = PathBuf::from(format!("{}.sigstore.json", src.display()));
        if sigstore_src.exists() {
            let sigstore_dst = PathBuf::from(format!("{}.sigstore.json", dst.display()));
            copy_hashed(self.progress, &sigstore_src, &sigstore_dst)?;
            signatures.push(IndexSignature {
                kind: SigKind::Sigstore,
                url: format!("{rel}.sigstore.json"),
            });
        }
        Ok(IndexArtifact {
            name: a.file.clone(),
            profile: a.profile.clone(),
            platform: a.platform.clone(),
            format: a.format.clone(),
            image: Some(image),
            tag: a.tag.clone(),
            digest: Some(facts.digest),
            url: None,
            size: facts.size,
            sha256: None,
            signatures,
        })
    }
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read_small_bytes(path, MAX_TOML_BYTES)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::config(path, "not UTF-8"))?;
    toml::from_str(text).map_err(|e| Error::config(path, e.to_string().trim().to_string()))
}

/// Copies `src` to `dst` (unless they are the same file), hashing as it goes.
fn copy_hashed(progress: &ProgressHandle, src: &Path, dst: &Path) -> Result<(Sha256Digest, u64)> {
    let mut input = fs::File::open(src).map_err(|e| Error::io(src, "open", e))?;
    let same = match (fs::canonicalize(src), fs::canonicalize(dst)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let mut output = if same {
        None
    } else {
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create directory", e))?;
        }
        Some(fs::File::create(dst).map_err(|e| Error::io(dst, "create", e))?)
    };
    let mut hasher = Sha256Hasher::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| Error::io(src, "read", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        progress.advance(n as u64);
        if let Some(o) = &mut output {
            o.write_all(&buf[..n])
                .map_err(|e| Error::io(dst, "write", e))?;
        }
    }
    if let Some(o) = output {
        o.sync_all().map_err(|e| Error::io(dst, "sync", e))?;
    }
    Ok(hasher.finish())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create directory", e))?;
    }
    fs::write(path, bytes).map_err(|e| Error::io(path, "write", e))
}
