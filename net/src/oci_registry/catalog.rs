//! What the registry serves, behind one trait: an OCI image layout folder
//! (the demo's vendor registry, the tests) or the mirror's `oci/` store
//! (`ferry-mirror serve`, SPEC §3.12) answer the same three questions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry_oci::Digest as OciDigest;

use crate::error::{Error, Result};

/// The answer of a catalog lookup: OCI tells an unknown repository
/// (`NAME_UNKNOWN`) from an unknown manifest or blob of a known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Found.
    Found(T),
    /// The repository is known but holds no such tag, manifest or blob.
    Missing,
    /// No repository by that name.
    NoRepository,
}

/// A blob on disk: where, and the size the catalog expects. Manifests are
/// blobs too (an OCI layout keeps them under `blobs/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobFile {
    /// The file holding the blob's bytes.
    pub path: PathBuf,
    /// Its size in bytes, as recorded (a file of another size is damaged).
    pub size: u64,
}

/// The read side a registry needs. Every method takes the repository name
/// (`novantra/onprem`) so a catalog can scope tags and blobs to it.
pub trait ImageCatalog: Send + Sync {
    /// Every tag of `repo`.
    ///
    /// # Errors
    /// When the catalog itself cannot be read (answered 500).
    fn tags(&self, repo: &str) -> Result<Lookup<Vec<String>>>;

    /// The manifest (or image index) digest `tag` names in `repo`.
    ///
    /// # Errors
    /// As [`ImageCatalog::tags`].
    fn resolve(&self, repo: &str, tag: &str) -> Result<Lookup<OciDigest>>;

    /// A blob `repo` holds, by digest.
    ///
    /// # Errors
    /// As [`ImageCatalog::tags`].
    fn blob(&self, repo: &str, digest: &OciDigest) -> Result<Lookup<BlobFile>>;
}

/// Repositories each backed by an OCI image layout folder
/// (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), with the tags given
/// when each was added. Every blob of a layout is served for its
/// repository (one layout holds one vendor image).
#[derive(Debug, Default, Clone)]
pub struct LayoutCatalog {
    repos: BTreeMap<String, LayoutRepo>,
}

#[derive(Debug, Clone)]
struct LayoutRepo {
    dir: PathBuf,
    tags: BTreeMap<String, OciDigest>,
}

impl LayoutCatalog {
    /// An empty catalog.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `tag` of `repo` as the manifest `digest` from the layout at
    /// `layout`; a repository added twice must name the same layout.
    ///
    /// # Errors
    /// [`Error::Usage`] for a repository name the OCI grammar refuses, a
    /// tag it refuses, or a second layout for one repository.
    pub fn add(
        &mut self,
        repo: &str,
        layout: &Path,
        tag: &str,
        digest: OciDigest,
    ) -> Result<&mut Self> {
        if !super::route::valid_repository(repo) {
            return Err(usage(repo, "not an OCI repository name"));
        }
        if !super::route::valid_tag(tag) {
            return Err(usage(tag, "not an OCI tag"));
        }
        let entry = self
            .repos
            .entry(repo.to_string())
            .or_insert_with(|| LayoutRepo {
                dir: layout.to_path_buf(),
                tags: BTreeMap::new(),
            });
        if entry.dir != layout {
            return Err(usage(repo, "already served from another layout"));
        }
        entry.tags.insert(tag.to_string(), digest);
        Ok(self)
    }
}

impl LayoutCatalog {
    /// Serves every tagged root of the layout at `layout` (its
    /// `index.json`, read by [`ferry_oci::Layout`]) as `repo:<tag>`.
    ///
    /// # Errors
    /// [`Error::Usage`] for a layout ferry-oci refuses (naming the file),
    /// or as [`LayoutCatalog::add`].
    pub fn add_layout(&mut self, repo: &str, layout: &Path) -> Result<&mut Self> {
        let opened = ferry_oci::Layout::open(layout).map_err(|e| Error::Usage {
            what: layout.display().to_string(),
            reason: e.to_string(),
        })?;
        for d in &opened.index().manifests {
            if let Some(tag) = d.annotations.get(ferry_oci::layout::REF_NAME) {
                self.add(repo, layout, tag, d.digest)?;
            }
        }
        Ok(self)
    }
}

fn usage(what: &str, reason: &str) -> Error {
    Error::Usage {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

impl ImageCatalog for LayoutCatalog {
    fn tags(&self, repo: &str) -> Result<Lookup<Vec<String>>> {
        Ok(match self.repos.get(repo) {
            Some(r) => Lookup::Found(r.tags.keys().cloned().collect()),
            None => Lookup::NoRepository,
        })
    }

    fn resolve(&self, repo: &str, tag: &str) -> Result<Lookup<OciDigest>> {
        Ok(match self.repos.get(repo) {
            Some(r) => r
                .tags
                .get(tag)
                .map_or(Lookup::Missing, |d| Lookup::Found(*d)),
            None => Lookup::NoRepository,
        })
    }

    fn blob(&self, repo: &str, digest: &OciDigest) -> Result<Lookup<BlobFile>> {
        let Some(r) = self.repos.get(repo) else {
            return Ok(Lookup::NoRepository);
        };
        let path = r.dir.join("blobs/sha256").join(digest.hex());
        Ok(match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => Lookup::Found(BlobFile {
                path,
                size: m.len(),
            }),
            Ok(_) => Lookup::Missing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Lookup::Missing,
            Err(e) => return Err(Error::io(path, "look up a blob", e)),
        })
    }
}
