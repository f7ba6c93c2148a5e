//! [`PathIndex`]: a manifest's files and roles by path, for lookups a file.

use std::collections::HashMap;

use super::{FileEntry, FileRole, Manifest, SHA256SUMS_PATH};
use crate::path::BundlePath;

/// Where each path sits in one manifest, built once: checking a bundle of
/// 100,000 files looks each file up in a hash map instead of scanning every
/// release and file list for it (issue 17: the scans made verify and import
/// quadratic, 94 s for a 100,001-file bundle that hashes in 1.6 s).
///
/// Holds positions, not references, so it can live beside the manifest it
/// indexes; use it only with that manifest (unchanged since).
#[derive(Debug, Clone, Default)]
pub struct PathIndex {
    files: HashMap<Box<str>, usize>,
    roles: HashMap<Box<str>, RoleAt>,
    image_dirs: HashMap<Box<str>, (usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
enum RoleAt {
    Notes(usize),
    Artifact(usize, usize),
    Upstream(usize, usize, usize),
}

impl PathIndex {
    /// Indexes `m`. Where two entries claim one path, the first wins, as in
    /// [`Manifest::role_of`] and [`Manifest::file`].
    #[must_use]
    pub fn of(m: &Manifest) -> Self {
        let mut ix = PathIndex::default();
        for (i, f) in m.files.iter().enumerate() {
            ix.files.entry(f.path.as_str().into()).or_insert(i);
        }
        for (ri, r) in m.releases.iter().enumerate() {
            ix.roles
                .entry(r.notes.as_str().into())
                .or_insert(RoleAt::Notes(ri));
            for (ai, a) in r.artifacts.iter().enumerate() {
                ix.roles
                    .entry(a.path.as_str().into())
                    .or_insert(RoleAt::Artifact(ri, ai));
                if a.is_image() {
                    ix.image_dirs
                        .entry(a.path.as_str().into())
                        .or_insert((ri, ai));
                }
                for (ui, u) in a.upstream.iter().enumerate() {
                    ix.roles
                        .entry(u.path().as_str().into())
                        .or_insert(RoleAt::Upstream(ri, ai, ui));
                }
            }
        }
        ix
    }

    /// [`Manifest::file`] of the indexed manifest `m`.
    #[must_use]
    pub fn file<'m>(&self, m: &'m Manifest, path: &str) -> Option<&'m FileEntry> {
        self.files.get(path).and_then(|&i| m.files.get(i))
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
        if let Some(&role) = self.roles.get(path.as_str()) {
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
            if let Some(&(ri, ai)) = self.image_dirs.get(&s[..slash]) {
                return at(ri, ai).map(|(r, a)| FileRole::ImageFile(r, a));
            }
            end = slash;
        }
        None
    }
}
