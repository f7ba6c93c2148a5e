//! The transfer manifest, `ferry.manifest/v1` (SPEC §3.3), and the rules
//! that tie it to the files of a bundle.

use std::collections::{BTreeSet, HashMap, HashSet};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::digest::{OciDigest, Sha256Digest};
use crate::error::{Error, Result};
use crate::image::ImageRef;
use crate::json;
use crate::name::Name;
use crate::path::{BundlePath, check_conflicts};
use crate::release::{Advisory, Yank, YankNotice, unique_names};
use crate::time::Timestamp;

/// The schema string of a transfer manifest.
pub const SCHEMA: &str = "ferry.manifest/v1";
/// Where the manifest sits in a bundle.
pub const MANIFEST_PATH: &str = "ferry/manifest.json";
/// Where the signatures sit in a bundle.
pub const SIGNATURES_DIR: &str = "ferry/signatures";
/// Where the `sha256sum -c` file sits in a bundle.
pub const SHA256SUMS_PATH: &str = "ferry/SHA256SUMS";

/// A transfer manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// Strictly increasing per product across all manifests a signing side issues.
    pub sequence: u64,
    /// When it was written.
    pub created: Timestamp,
    /// When the transfer stops being acceptable.
    pub expires: Timestamp,
    /// Where the releases came from.
    pub source: Source,
    /// What the operator selected.
    pub selection: Selection,
    /// For incremental bundles: the SHA-256 of the mirror state they build on.
    #[serde(default)]
    pub base_state_sha256: Option<Sha256Digest>,
    /// The releases carried.
    pub releases: Vec<ManifestRelease>,
    /// Releases pulled since an earlier transfer.
    #[serde(default)]
    pub yanks: Vec<YankNotice>,
    /// Every file of the bundle but the manifest and its signatures.
    pub files: Vec<FileEntry>,
}

/// Provenance of the vendor index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The index URL.
    pub index_url: String,
    /// SHA-256 of the exact index bytes that were verified.
    pub index_sha256: Sha256Digest,
    /// When it was fetched.
    pub fetched: Timestamp,
}

/// The channels and profiles a transfer was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Channels.
    pub channels: Vec<Name>,
    /// Profiles.
    pub profiles: Vec<Name>,
}

/// One release in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRelease {
    /// Version.
    pub version: Version,
    /// Channels (within the selection).
    pub channels: Vec<Name>,
    /// Publication time.
    pub published: Timestamp,
    /// One-hop upgrade range (`null`: at most two majors older).
    #[serde(default)]
    pub supported_from: Option<VersionReq>,
    /// Never skipped by an upgrade path.
    #[serde(default)]
    pub required: bool,
    /// Set when pulled.
    #[serde(default)]
    pub yanked: Option<Yank>,
    /// Advisories.
    #[serde(default)]
    pub advisories: Vec<Advisory>,
    /// Path of the release notes (`releases/<version>/<name>`).
    pub notes: BundlePath,
    /// Artifacts.
    pub artifacts: Vec<ManifestArtifact>,
}

/// One artifact in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestArtifact {
    /// `releases/<version>/<profile>/<name>`; for an image (`format` oci)
    /// the layout folder `releases/<version>/<profile>/<name>.oci`, every
    /// file of which is listed in `files` (SPEC §3.12).
    pub path: BundlePath,
    /// Profile.
    pub profile: Name,
    /// Platform.
    pub platform: Name,
    /// Format.
    pub format: Name,
    /// `oci` only: the image in the vendor's registry it was pulled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
    /// `oci` only: the vendor's tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `oci` only: the pinned root (image manifest or index) digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<OciDigest>,
    /// Upstream signatures that were checked.
    #[serde(default)]
    pub upstream: Vec<Upstream>,
}

/// An upstream signature that passed on the connected side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Upstream {
    /// A minisign signature by a vendor key.
    Minisign {
        /// Path of the `.minisig` in the bundle.
        path: BundlePath,
        /// The vendor key id (16 upper-case hex digits).
        key_id: String,
    },
    /// A Sigstore bundle.
    Sigstore {
        /// Path of the bundle in the bundle.
        path: BundlePath,
        /// Certificate identity (SAN), or `null` for a managed key.
        #[serde(default)]
        identity: Option<String>,
        /// OIDC issuer, or `null` for a managed key.
        #[serde(default)]
        issuer: Option<String>,
        /// Transparency-log index.
        #[serde(default)]
        log_index: Option<u64>,
    },
}

impl Upstream {
    /// The signature file's path.
    #[must_use]
    pub fn path(&self) -> &BundlePath {
        match self {
            Upstream::Minisign { path, .. } | Upstream::Sigstore { path, .. } => path,
        }
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> crate::release::SigKind {
        match self {
            Upstream::Minisign { .. } => crate::release::SigKind::Minisign,
            Upstream::Sigstore { .. } => crate::release::SigKind::Sigstore,
        }
    }
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path in the bundle.
    pub path: BundlePath,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Sha256Digest,
}

/// What a file under `releases/` is, as the manifest names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole<'a> {
    /// An artifact.
    Artifact(&'a ManifestRelease, &'a ManifestArtifact),
    /// An upstream signature of an artifact.
    UpstreamSignature(&'a ManifestRelease, &'a ManifestArtifact, &'a Upstream),
    /// A file of an image's layout folder (`<path>/oci-layout`,
    /// `<path>/index.json`, `<path>/blobs/sha256/<hex>`).
    ImageFile(&'a ManifestRelease, &'a ManifestArtifact),
    /// Release notes.
    Notes(&'a ManifestRelease),
    /// `ferry/SHA256SUMS`.
    Sha256Sums,
}

impl Manifest {
    /// Parses and validates manifest bytes. Call only on bytes whose
    /// signatures were checked (verify the bytes, then parse those bytes).
    ///
    /// # Errors
    /// [`Error::Format`] naming the field and rule.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let m: Manifest = json::parse_document(bytes, MANIFEST_PATH, SCHEMA)?;
        m.validate()?;
        Ok(m)
    }

    /// The manifest as the bytes ferry writes and signs.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        json::to_document_bytes(self)
    }

    /// Checks every rule of SPEC §3.3 that types alone do not carry.
    ///
    /// # Errors
    /// [`Error::Format`] naming the field and rule.
    pub fn validate(&self) -> Result<()> {
        self.check_dates_and_selection()?;
        self.check_file_places()?;
        let mut claims = Claims {
            listed: self.files.iter().map(|f| &f.path).collect(),
            named: HashSet::new(),
        };
        let mut versions = HashSet::new();
        for (i, r) in self.releases.iter().enumerate() {
            self.check_release(i, r, &mut versions, &mut claims)?;
        }
        self.check_every_file_named(&claims.named)?;
        self.check_yanks()
    }

    /// `expires` after `created`; a selection of unique channels and
    /// profiles, at least one of each.
    fn check_dates_and_selection(&self) -> Result<()> {
        if self.expires <= self.created {
            return Err(invalid(
                "expires".into(),
                "must be later than created".into(),
            ));
        }
        if self.selection.channels.is_empty() || self.selection.profiles.is_empty() {
            return Err(invalid(
                "selection".into(),
                "needs at least one channel and one profile".into(),
            ));
        }
        unique_names(&self.selection.channels, "selection.channels")
            .map_err(|m| invalid("selection".into(), m))?;
        unique_names(&self.selection.profiles, "selection.profiles")
            .map_err(|m| invalid("selection".into(), m))?;
        Ok(())
    }

    /// files: unique (also by case), allowed places.
    fn check_file_places(&self) -> Result<()> {
        check_conflicts(self.files.iter().map(|f| &f.path))?;
        for (i, f) in self.files.iter().enumerate() {
            let p = f.path.as_str();
            let ok_place = if f.path.starts_with_dir("ferry") {
                p == SHA256SUMS_PATH
            } else {
                f.path.starts_with_dir("releases")
            };
            if !ok_place {
                return Err(invalid(
                    format!("files[{i}].path"),
                    format!(
                        "\"{p}\" is not a place a bundle file may be (only ferry/SHA256SUMS and files under releases/)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// One release: a version listed once, channels of the selection, its
    /// notes and artifacts in its folder, each file listed and named once.
    fn check_release<'a>(
        &'a self,
        i: usize,
        r: &'a ManifestRelease,
        versions: &mut HashSet<&'a Version>,
        claims: &mut Claims<'a>,
    ) -> Result<()> {
        let at = format!("releases[{i}]");
        if !versions.insert(&r.version) {
            return Err(invalid(
                format!("{at}.version"),
                format!("{} listed twice", r.version),
            ));
        }
        if r.channels.is_empty() {
            return Err(invalid(
                format!("{at}.channels"),
                "a release needs at least one channel".into(),
            ));
        }
        unique_names(&r.channels, "channels").map_err(|m| invalid(at.clone(), m))?;
        for c in &r.channels {
            if !self.selection.channels.contains(c) {
                return Err(invalid(
                    format!("{at}.channels"),
                    format!("channel \"{c}\" is not in the selection"),
                ));
            }
        }
        let version_dir = format!("releases/{}", r.version);
        // SPEC §3.3: notes at releases/<version>/<name>.
        if r.notes.parent().map(|d| d.as_str().to_string()) != Some(version_dir.clone()) {
            return Err(invalid(
                format!("{at}.notes"),
                format!("\"{}\" must be directly under {version_dir}/", r.notes),
            ));
        }
        claims.claim(&r.notes, || format!("{at}.notes"))?;
        for (j, a) in r.artifacts.iter().enumerate() {
            self.check_artifact(&format!("{at}.artifacts[{j}]"), &version_dir, a, claims)?;
        }
        Ok(())
    }

    /// One artifact (at `at`): a profile of the selection, it and its
    /// upstream signatures in `<version_dir>/<profile>/`, each claimed once.
    fn check_artifact<'a>(
        &'a self,
        at: &str,
        version_dir: &str,
        a: &'a ManifestArtifact,
        claims: &mut Claims<'a>,
    ) -> Result<()> {
        if !self.selection.profiles.contains(&a.profile) {
            return Err(invalid(
                format!("{at}.profile"),
                format!("profile \"{}\" is not in the selection", a.profile),
            ));
        }
        let dir = format!("{version_dir}/{}", a.profile);
        if a.path.parent().map(|d| d.as_str().to_string()) != Some(dir.clone()) {
            return Err(invalid(
                format!("{at}.path"),
                format!("\"{}\" must be directly under {dir}/", a.path),
            ));
        }
        if a.is_image() {
            image_files::check(at, a, &self.files, claims)?;
        } else {
            image_files::check_not_image(at, a)?;
            claims.claim(&a.path, || format!("{at}.path"))?;
        }
        for (k, u) in a.upstream.iter().enumerate() {
            let at = format!("{at}.upstream[{k}]");
            if u.path().parent().map(|d| d.as_str().to_string()) != Some(dir.clone()) {
                return Err(invalid(
                    format!("{at}.path"),
                    format!("\"{}\" must be directly under {dir}/", u.path()),
                ));
            }
            claims.claim(u.path(), || format!("{at}.path"))?;
            if let Upstream::Minisign { key_id, .. } = u {
                crate::minisig::KeyId::parse(key_id)
                    .map_err(|m| invalid(format!("{at}.key_id"), m))?;
            }
        }
        Ok(())
    }

    /// Every file under `releases/` is named by some release.
    fn check_every_file_named(&self, named: &HashSet<&BundlePath>) -> Result<()> {
        for (i, f) in self.files.iter().enumerate() {
            if f.path.starts_with_dir("releases") && !named.contains(&f.path) {
                return Err(invalid(
                    format!("files[{i}].path"),
                    format!(
                        "\"{}\" is not named by any release (artifact, upstream signature or notes)",
                        f.path
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Each yanked version once.
    fn check_yanks(&self) -> Result<()> {
        let mut yanked = HashSet::new();
        for (i, y) in self.yanks.iter().enumerate() {
            if !yanked.insert(&y.version) {
                return Err(invalid(
                    format!("yanks[{i}].version"),
                    format!("{} listed twice", y.version),
                ));
            }
        }
        Ok(())
    }

    /// The role of a listed file, or `None` if the manifest does not list
    /// it. A linear search: for a lookup a file, build a [`PathIndex`] once.
    #[must_use]
    pub fn role_of(&self, path: &BundlePath) -> Option<FileRole<'_>> {
        if path.as_str() == SHA256SUMS_PATH {
            return Some(FileRole::Sha256Sums);
        }
        for r in &self.releases {
            if &r.notes == path {
                return Some(FileRole::Notes(r));
            }
            for a in &r.artifacts {
                if &a.path == path {
                    return Some(FileRole::Artifact(r, a));
                }
                if a.is_image() && path.starts_with_dir(a.path.as_str()) {
                    return Some(FileRole::ImageFile(r, a));
                }
                for u in &a.upstream {
                    if u.path() == path {
                        return Some(FileRole::UpstreamSignature(r, a, u));
                    }
                }
            }
        }
        None
    }

    /// The file entry for a path. A linear search: for a lookup a file,
    /// build a [`PathIndex`] once.
    #[must_use]
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path.as_str() == path)
    }

    /// Sum of all file sizes (saturating).
    #[must_use]
    pub fn total_size(&self) -> u64 {
        self.files
            .iter()
            .fold(0u64, |acc, f| acc.saturating_add(f.size))
    }

    /// The set of profiles of all artifacts.
    #[must_use]
    pub fn artifact_profiles(&self) -> BTreeSet<&Name> {
        self.releases
            .iter()
            .flat_map(|r| r.artifacts.iter().map(|a| &a.profile))
            .collect()
    }
}

#[path = "manifest_paths.rs"]
mod paths;
pub use paths::PathIndex;

#[path = "manifest_image.rs"]
mod image_files;

/// A rule of SPEC §3.3 broken at `field` of the manifest.
fn invalid(field: String, msg: String) -> Error {
    Error::format(MANIFEST_PATH, field, msg)
}

/// The files a manifest lists, and which release field names each one
/// (a file is named once, and only if listed).
struct Claims<'a> {
    listed: HashSet<&'a BundlePath>,
    named: HashSet<&'a BundlePath>,
}

impl<'a> Claims<'a> {
    /// `what` names the claiming field, formatted only for an error.
    fn claim(&mut self, p: &'a BundlePath, what: impl Fn() -> String) -> Result<()> {
        if !self.listed.contains(p) {
            return Err(invalid(what(), format!("\"{p}\" is not listed in files")));
        }
        if !self.named.insert(p) {
            return Err(invalid(what(), format!("\"{p}\" is named twice")));
        }
        Ok(())
    }
}

/// The trusted comment a manifest signature must carry (SPEC §3.4).
#[must_use]
pub fn trusted_comment(product: &Name, sequence: u64, manifest_sha256: &Sha256Digest) -> String {
    format!("ferry-manifest product={product} sequence={sequence} sha256={manifest_sha256}")
}

/// Renders `ferry/SHA256SUMS` for `files` (every file but itself), in the
/// `sha256sum -c` format, paths relative to the bundle root.
#[must_use]
pub fn render_sha256sums(files: &[FileEntry]) -> Vec<u8> {
    let mut out = String::new();
    for f in files {
        if f.path.as_str() == SHA256SUMS_PATH {
            continue;
        }
        out.push_str(&format!("{}  {}\n", f.sha256, f.path));
    }
    out.into_bytes()
}

/// Checks that `ferry/SHA256SUMS` bytes agree with the manifest's `files`
/// (SPEC §3.6): exactly one line per listed file but itself, same digests.
///
/// # Errors
/// [`Error::Format`] naming the line.
pub fn check_sha256sums(bytes: &[u8], manifest: &Manifest) -> Result<()> {
    let doc = SHA256SUMS_PATH;
    let text =
        std::str::from_utf8(bytes).map_err(|_| Error::format(doc, "(document)", "not UTF-8"))?;
    let mut expected: HashMap<&str, &Sha256Digest> = manifest
        .files
        .iter()
        .filter(|f| f.path.as_str() != SHA256SUMS_PATH)
        .map(|f| (f.path.as_str(), &f.sha256))
        .collect();
    for (n, line) in text.lines().enumerate() {
        let at = format!("line {}", n + 1);
        let (digest, path) = line
            .split_once("  ")
            .ok_or_else(|| Error::format(doc, &at, "not of the form \"<sha256>  <path>\""))?;
        let digest: Sha256Digest = digest
            .parse()
            .map_err(|m: String| Error::format(doc, &at, m))?;
        match expected.remove(path) {
            Some(d) if *d == digest => {}
            Some(d) => {
                return Err(Error::format(
                    doc,
                    &at,
                    format!("{path}: {digest} disagrees with the manifest's {d}"),
                ));
            }
            None => {
                return Err(Error::format(
                    doc,
                    &at,
                    format!(
                        "\"{}\" is not a file of the manifest (or listed twice)",
                        crate::error::escape_untrusted(path)
                    ),
                ));
            }
        }
    }
    if let Some((path, _)) = expected.into_iter().next() {
        return Err(Error::format(
            doc,
            "(document)",
            format!("{path} is missing"),
        ));
    }
    Ok(())
}
