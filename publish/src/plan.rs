//! What a publish uploads, and in which order (SPEC §3.14): the content
//! the store lacks first (`releases/`, `manifests/`, `trust/`), then the
//! documents that name it. Readers follow the documents, so no reader is
//! ever sent to an object that is not there yet.

use std::collections::HashMap;

use serde::Serialize;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::manifest::FileEntry;
use ferry_mirror_layout::mirror::index::MirrorIndex;
use ferry_mirror_layout::mirror::published::PUBLISHED_FILE;
use ferry_mirror_layout::mirror::{AUDIT_FILE, HINTS_FILE, INDEX_FILE};

/// The mutable documents, in the order a store without conditional
/// writes receives them: the audit log, the feed, `published.json` (what
/// ferry's readers read, in one object), then the index and its signature.
pub const DOCUMENTS: [&str; 6] = [
    AUDIT_FILE,
    HINTS_FILE,
    "feed/hints.json.minisig",
    PUBLISHED_FILE,
    INDEX_FILE,
    "index.json.minisig",
];

/// With conditional writes the index goes first of the documents: its
/// compare-and-swap decides which publisher wins before any other shared
/// object changes; `published.json` still comes last, so ferry's readers
/// switch at once.
pub const DOCUMENTS_CAS: [&str; 6] = [
    INDEX_FILE,
    "index.json.minisig",
    AUDIT_FILE,
    HINTS_FILE,
    "feed/hints.json.minisig",
    PUBLISHED_FILE,
];

/// Every document of a publish in upload order, with the views (SPEC
/// §3.13) among them: under a lock, the audit log, the views, the feed,
/// `published.json`, then the index; with conditional writes, the index
/// first (its compare-and-swap decides the winner before any other shared
/// object changes, so a losing publisher never overwrites the views), then
/// the rest in the same order.
#[must_use]
pub fn document_order(views: &[String], cas: bool) -> Vec<String> {
    let fixed: &[&str] = if cas { &DOCUMENTS_CAS } else { &DOCUMENTS };
    let mut out = Vec::new();
    for rel in fixed {
        if *rel == HINTS_FILE {
            out.extend(views.iter().cloned());
        }
        out.push((*rel).to_string());
    }
    out
}

/// One content object to upload.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    /// Path below the mirror root (= object name below the prefix).
    pub path: String,
    /// Size the signed index records.
    pub size: u64,
    /// SHA-256 the signed index records.
    pub sha256: Sha256Digest,
}

/// What a publish uploads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Content the store's verified index does not list, in upload order.
    pub content: Vec<Upload>,
    /// Content the store's verified index already lists (not uploaded).
    pub unchanged: usize,
}

impl Plan {
    /// Bytes of content to upload.
    #[must_use]
    pub fn content_bytes(&self) -> u64 {
        self.content.iter().map(|u| u.size).sum()
    }

    /// Objects to upload: the content and the documents.
    #[must_use]
    pub fn objects(&self) -> usize {
        self.content.len() + DOCUMENTS.len()
    }
}

/// Every file `local` lists that `remote` (the store's index, verified)
/// does not list with the same size and digest, `releases/` first, then
/// `manifests/`, then `trust/`.
#[must_use]
pub fn plan(local: &MirrorIndex, remote: Option<&MirrorIndex>) -> Plan {
    let there: HashMap<&str, (&Sha256Digest, u64)> = remote
        .map(|r| {
            r.files
                .iter()
                .chain(&r.trust)
                .map(|f| (f.path.as_str(), (&f.sha256, f.size)))
                .collect()
        })
        .unwrap_or_default();
    let mut p = Plan::default();
    for f in local.files.iter().chain(&local.trust) {
        if there.get(f.path.as_str()) == Some(&(&f.sha256, f.size)) {
            p.unchanged += 1;
        } else {
            p.content.push(upload(f));
        }
    }
    p.content
        .sort_by(|a, b| (rank(&a.path), &a.path).cmp(&(rank(&b.path), &b.path)));
    p
}

fn upload(f: &FileEntry) -> Upload {
    Upload {
        path: f.path.as_str().to_string(),
        size: f.size,
        sha256: f.sha256,
    }
}

fn rank(path: &str) -> u8 {
    if path.starts_with("releases/") {
        0
    } else if path.starts_with("manifests/") {
        1
    } else {
        2
    }
}
