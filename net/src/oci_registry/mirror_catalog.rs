//! The mirror's images as a registry catalog (`ferry-mirror serve`, SPEC
//! §3.12): repositories `<product>/<name>`, tags `<version>-<profile>` and,
//! where the mirror holds one profile of that image and version, plain
//! `<version>`; blobs from `oci/blobs/sha256/`, each only for a repository
//! whose images list it, with the size the signed index records.
//!
//! What is served is read from the index `serve` vouches for
//! ([`Mirror::check_served`]: signature, published envelope, audit head),
//! re-read only when `published.json` or `index.json` changed. Only images
//! of the mirror's own profiles are served: a `no-training` mirror never
//! answers for a `default` image (SPEC §5 rule 5), even one that got into
//! its index some other way.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_mirror_layout::mirror::Mirror;
use ferry_mirror_layout::mirror::images::blob_path;
use ferry_mirror_layout::mirror::index::MirrorIndex;
use ferry_oci::Digest as OciDigest;

use super::catalog::{BlobFile, ImageCatalog, Lookup};
use crate::error::Result;

/// One image the mirror serves, with every tag it answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedImage {
    /// `<product>/<name>`.
    pub repository: String,
    /// The tags, `<version>-<profile>` first.
    pub tags: Vec<String>,
    /// The root digest.
    pub digest: OciDigest,
    /// The release's version.
    pub version: String,
    /// The artifact's profile.
    pub profile: String,
}

/// Every image of `index` the mirror serves (its own profiles only).
#[must_use]
pub fn served_images(index: &MirrorIndex) -> Vec<ServedImage> {
    let mut out = Vec::new();
    let mut images_of: HashMap<(String, String), usize> = HashMap::new();
    for r in &index.releases {
        for a in &r.artifacts {
            let Some(i) = &a.image else { continue };
            if !index.profiles.contains(&a.profile) {
                continue;
            }
            let repository = format!("{}/{}", index.product, i.name);
            let version = r.version.to_string();
            *images_of
                .entry((repository.clone(), version.clone()))
                .or_default() += 1;
            out.push(ServedImage {
                tags: vec![format!("{version}-{}", a.profile)],
                repository,
                digest: i.digest,
                version,
                profile: a.profile.to_string(),
            });
        }
    }
    for s in &mut out {
        if images_of.get(&(s.repository.clone(), s.version.clone())) == Some(&1) {
            s.tags.push(s.version.clone());
        }
    }
    drop_ambiguous_tags(&mut out);
    out
}

/// A tag that would name two images (one per platform, say) names none:
/// the registry never picks one silently (SPEC §5 rule 8); each stays
/// pullable by digest.
fn drop_ambiguous_tags(images: &mut [ServedImage]) {
    let mut digests: HashMap<(String, String), Vec<OciDigest>> = HashMap::new();
    for s in images.iter() {
        for t in &s.tags {
            let ds = digests
                .entry((s.repository.clone(), t.clone()))
                .or_default();
            if !ds.contains(&s.digest) {
                ds.push(s.digest);
            }
        }
    }
    for s in images.iter_mut() {
        let repo = s.repository.clone();
        s.tags.retain(|t| {
            digests
                .get(&(repo.clone(), t.clone()))
                .is_none_or(|d| d.len() == 1)
        });
    }
}

/// A repository: its tags and the blobs its images list (digest → size).
#[derive(Debug, Default)]
struct Repo {
    tags: BTreeMap<String, OciDigest>,
    blobs: HashMap<OciDigest, u64>,
}

/// What the catalog answers from: the repositories of one verified index.
#[derive(Debug, Default)]
struct Snapshot {
    stamp: Vec<(u64, i64, i64, u64)>,
    repos: BTreeMap<String, Repo>,
}

/// The mirror at a root, as an [`ImageCatalog`].
#[derive(Debug)]
pub struct MirrorCatalog {
    root: PathBuf,
    cache: Mutex<Option<Arc<Snapshot>>>,
}

impl MirrorCatalog {
    /// The catalog of the mirror at `root` (read at the first request).
    #[must_use]
    pub fn new(root: &Path) -> Self {
        MirrorCatalog {
            root: root.to_path_buf(),
            cache: Mutex::new(None),
        }
    }

    /// The repositories of the current publish, re-read when it changed.
    fn snapshot(&self) -> Result<Arc<Snapshot>> {
        let stamp = self.stamp();
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(Arc::clone));
        if let Some(s) = &cached
            && s.stamp == stamp
        {
            return Ok(Arc::clone(s));
        }
        let loaded = Mirror::open(&self.root).and_then(|m| m.check_served());
        // A commit is under way (its lock is held): the last verified
        // publish stays served, as a reader of the previous index still
        // finds every file it names until the commit's end.
        if let (Err(ferry_mirror_layout::Error::Locked { .. }), Some(c)) = (&loaded, &cached) {
            return Ok(Arc::clone(c));
        }
        let index = loaded?.index;
        let snap = Arc::new(build(&index, stamp));
        if let Ok(mut guard) = self.cache.lock() {
            *guard = Some(Arc::clone(&snap));
        }
        Ok(snap)
    }

    /// Inode, modification time and size of what a commit replaces.
    fn stamp(&self) -> Vec<(u64, i64, i64, u64)> {
        ["published.json", "index.json"]
            .iter()
            .filter_map(|f| std::fs::metadata(self.root.join(f)).ok())
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.size()))
            .collect()
    }
}

fn build(index: &MirrorIndex, stamp: Vec<(u64, i64, i64, u64)>) -> Snapshot {
    let sizes: HashMap<&str, u64> = index
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.size))
        .collect();
    let mut repos: BTreeMap<String, Repo> = BTreeMap::new();
    for s in served_images(index) {
        let repo = repos.entry(s.repository.clone()).or_default();
        for t in &s.tags {
            repo.tags.insert(t.clone(), s.digest);
        }
        let blobs = index
            .releases
            .iter()
            .flat_map(|r| r.artifacts.iter())
            .filter_map(|a| a.image.as_ref())
            .filter(|i| i.digest == s.digest)
            .flat_map(|i| i.blobs.iter());
        for b in blobs {
            if let Some(size) = sizes.get(blob_path(b).as_str()) {
                repo.blobs.insert(*b, *size);
            }
        }
    }
    Snapshot { stamp, repos }
}

impl ImageCatalog for MirrorCatalog {
    fn tags(&self, repo: &str) -> Result<Lookup<Vec<String>>> {
        let snap = self.snapshot()?;
        Ok(match snap.repos.get(repo) {
            Some(r) => Lookup::Found(r.tags.keys().cloned().collect()),
            None => Lookup::NoRepository,
        })
    }

    fn resolve(&self, repo: &str, tag: &str) -> Result<Lookup<OciDigest>> {
        let snap = self.snapshot()?;
        Ok(match snap.repos.get(repo) {
            Some(r) => r
                .tags
                .get(tag)
                .map_or(Lookup::Missing, |d| Lookup::Found(*d)),
            None => Lookup::NoRepository,
        })
    }

    fn blob(&self, repo: &str, digest: &OciDigest) -> Result<Lookup<BlobFile>> {
        let snap = self.snapshot()?;
        let Some(r) = snap.repos.get(repo) else {
            return Ok(Lookup::NoRepository);
        };
        Ok(match r.blobs.get(digest) {
            Some(size) => Lookup::Found(BlobFile {
                path: self.root.join(blob_path(digest)),
                size: *size,
            }),
            None => Lookup::Missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index with `images`: (version, profile, root digest byte).
    fn index(profiles: &[&str], images: &[(&str, &str, u8)]) -> MirrorIndex {
        let zero = "0".repeat(64);
        let releases: Vec<serde_json::Value> = images
            .iter()
            .map(|(v, p, d)| {
                let digest = OciDigest::of(&[*d]);
                serde_json::json!({
                    "version": v, "channels": ["stable"], "published": "2026-11-01T00:00:00Z",
                    "notes": format!("releases/{v}/NOTES.md"),
                    "artifacts": [{
                        "path": format!("releases/{v}/{p}/onprem.oci"), "profile": p,
                        "platform": "linux-amd64", "format": "oci", "size": 1,
                        "sha256": digest.hex(),
                        "image": {"name": "onprem", "reference": "registry.example/novantra/onprem",
                                  "digest": digest.to_string(), "blobs": [digest.to_string()]}
                    }]
                })
            })
            .collect();
        let files: Vec<serde_json::Value> = images
            .iter()
            .map(|(_, _, d)| {
                let hex = OciDigest::of(&[*d]).hex();
                serde_json::json!({"path": format!("oci/blobs/sha256/{hex}"), "size": 1, "sha256": hex})
            })
            .collect();
        let doc = serde_json::json!({
            "schema": "ferry.mirror-index/v1", "product": "novantra", "channels": ["stable"],
            "profiles": profiles, "sequence": 2, "manifest_sequence": 7,
            "generated": "2026-11-21T00:00:00Z", "audit_head": {"seq": 1, "sha256": zero},
            "releases": releases, "files": files
        });
        MirrorIndex::parse(&serde_json::to_vec(&doc).unwrap(), "index.json").unwrap()
    }

    fn tags(index: &MirrorIndex) -> Vec<Vec<String>> {
        served_images(index).into_iter().map(|s| s.tags).collect()
    }

    #[test]
    fn one_profile_gets_both_tags_two_profiles_only_the_long_one() {
        let one = index(&["no-training"], &[("3.2.1", "no-training", 1)]);
        assert_eq!(tags(&one), [["3.2.1-no-training", "3.2.1"]]);
        let two = index(
            &["default", "no-training"],
            &[("3.2.1", "no-training", 1), ("3.2.1", "default", 2)],
        );
        assert_eq!(tags(&two), [["3.2.1-no-training"], ["3.2.1-default"]]);
        assert_eq!(served_images(&two)[0].repository, "novantra/onprem");
    }

    #[test]
    fn a_tag_two_images_would_share_names_neither() {
        // Two platforms of one version and profile: pulled by digest only.
        let two = index(
            &["no-training"],
            &[("3.2.1", "no-training", 1), ("3.2.1", "no-training", 2)],
        );
        assert!(tags(&two).iter().all(Vec::is_empty), "{:?}", tags(&two));
        assert_eq!(served_images(&two).len(), 2);
    }

    #[test]
    fn an_image_of_a_profile_the_mirror_does_not_hold_is_never_served() {
        let forged = index(
            &["no-training"],
            &[("3.2.1", "no-training", 1), ("3.3.0", "default", 2)],
        );
        let served = served_images(&forged);
        assert_eq!(served.len(), 1);
        assert_eq!(served[0].profile, "no-training");
        let snap = build(&forged, Vec::new());
        let repo = &snap.repos["novantra/onprem"];
        assert!(repo.tags.keys().all(|t| t.starts_with("3.2.1")));
        assert!(repo.blobs.contains_key(&OciDigest::of(&[1])));
        assert!(!repo.blobs.contains_key(&OciDigest::of(&[2])));
    }
}
