//! [`PathIndex`]: a manifest's files and roles by path, for lookups a file.

use super::{FileEntry, FileRole, Manifest, SHA256SUMS_PATH};
use crate::path::BundlePath;

/// Where each path sits in one manifest, built once: checking a bundle of
/// 100,000 files looks each file up by binary search instead of scanning
/// every release and file list for it (issue 17: the scans made verify and
/// import quadratic, 94 s for a 100,001-file bundle that hashes in 1.6 s).
///
/// Holds positions sorted by the path they point at, not copies of the
/// paths (a hash map of owned paths was 34 MB of a 100,000-file import),
/// so it can live beside the manifest it indexes; use it only with that
/// manifest (unchanged since).
#[derive(Debug, Clone, Default)]
pub struct PathIndex {
    files: Vec<usize>,
    roles: Vec<RoleAt>,
    image_dirs: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
enum RoleAt {
    Notes(usize),
    Artifact(usize, usize),
    Upstream(usize, usize, usize),
}

impl RoleAt {
    fn path(self, m: &Manifest) -> &str {
        let r = &m.releases[self.release()];
        match self {
            RoleAt::Notes(_) => r.notes.as_str(),
            RoleAt::Artifact(_, ai) => r.artifacts[ai].path.as_str(),
            RoleAt::Upstream(_, ai, ui) => r.artifacts[ai].upstream[ui].path().as_str(),
        }
    }

    fn release(self) -> usize {
        match self {
            RoleAt::Notes(ri) | RoleAt::Artifact(ri, _) | RoleAt::Upstream(ri, _, _) => ri,
        }
    }
}

/// Sorts `v` by the path `key` gives, keeping the first of equal paths
/// (stable sort, then dedup), as the linear lookups would find it.
fn sort_first<'m, T: Copy>(v: &mut Vec<T>, key: impl Fn(T) -> &'m str) {
    v.sort_by(|a, b| key(*a).cmp(key(*b)));
    v.dedup_by(|later, first| key(*later) == key(*first));
}

fn find<'m, T: Copy>(v: &[T], path: &str, key: impl Fn(T) -> &'m str) -> Option<T> {
    v.binary_search_by(|x| key(*x).cmp(path)).ok().map(|i| v[i])
}

impl PathIndex {
    /// Indexes `m`. Where two entries claim one path, the first wins, as in
    /// [`Manifest::role_of`] and [`Manifest::file`].
    #[must_use]
    pub fn of(m: &Manifest) -> Self {
        let mut ix = PathIndex {
            files: (0..m.files.len()).collect(),
            ..PathIndex::default()
        };
        for (ri, r) in m.releases.iter().enumerate() {
            ix.roles.push(RoleAt::Notes(ri));
            for (ai, a) in r.artifacts.iter().enumerate() {
                ix.roles.push(RoleAt::Artifact(ri, ai));
                if a.is_image() {
                    ix.image_dirs.push((ri, ai));
                }
                for ui in 0..a.upstream.len() {
                    ix.roles.push(RoleAt::Upstream(ri, ai, ui));
                }
            }
        }
        sort_first(&mut ix.files, |i| m.files[i].path.as_str());
        sort_first(&mut ix.roles, |r| r.path(m));
        sort_first(&mut ix.image_dirs, |(ri, ai)| {
            m.releases[ri].artifacts[ai].path.as_str()
        });
        ix
    }

    /// [`Manifest::file`] of the indexed manifest `m`.
    #[must_use]
    pub fn file<'m>(&self, m: &'m Manifest, path: &str) -> Option<&'m FileEntry> {
        find(&self.files, path, |i| m.files[i].path.as_str()).and_then(|i| m.files.get(i))
    }

    /// [`Manifest::role_of`] of the indexed manifest `m`.
    #[must_use]
    pub fn role<'m>(&self, m: &'m Manifest, path: &BundlePath) -> Option<FileRole<'m>> {
        if path.as_str() == SHA256SUMS_PATH {
            return Some(FileRole::Sha256Sums);
        }
        let at = |ri: usize, ai: usize| {
            let r = m.releases.get(ri)?;
            Some((r, r.artifacts.get(ai)?))
        };
        if let Some(role) = find(&self.roles, path.as_str(), |r| r.path(m)) {
            return match role {
                RoleAt::Notes(ri) => m.releases.get(ri).map(FileRole::Notes),
                RoleAt::Artifact(ri, ai) => at(ri, ai).map(|(r, a)| FileRole::Artifact(r, a)),
                RoleAt::Upstream(ri, ai, ui) => at(ri, ai).and_then(|(r, a)| {
                    a.upstream
                        .get(ui)
                        .map(|u| FileRole::UpstreamSignature(r, a, u))
                }),
            };
        }
        // A file inside an image layout: the nearest enclosing folder that
        // is an image artifact's path.
        let s = path.as_str();
        let mut end = s.len();
        while let Some(slash) = s[..end].rfind('/') {
            if let Some((ri, ai)) = find(&self.image_dirs, &s[..slash], |(ri, ai)| {
                m.releases[ri].artifacts[ai].path.as_str()
            }) {
                return at(ri, ai).map(|(r, a)| FileRole::ImageFile(r, a));
            }
            end = slash;
        }
        None
    }
}
