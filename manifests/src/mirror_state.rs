//! The mirror state document (`ferry.mirror-state/v1`, written by `ferry-mirror export-state`): what a mirror
//! holds, so the connected side can `ferry sign --since` / `ferry pack
//! --since` a bundle carrying only what that mirror lacks.
//!
//! The state is not signed: it only decides what to leave out of a bundle.
//! A wrong state can make a bundle miss files (its import then lacks them
//! and `fsck`/hand-off see no such release) but never lets bad bytes in:
//! every file a bundle carries is verified as usual, and a path already on
//! the mirror with other bytes is refused at import.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::Result;
use crate::manifest::FileEntry;
use crate::minisig::read_small_bytes;
use crate::name::Name;

/// The schema string.
pub const SCHEMA: &str = "ferry.mirror-state/v1";

/// What a mirror holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorState {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// Highest transfer-manifest sequence imported.
    pub manifest_sequence: u64,
    /// The mirror's index sequence when exported.
    pub index_sequence: u64,
    /// SHA-256 of the signed `index.json` the state was read from.
    pub index_sha256: Sha256Digest,
    /// Every file under `releases/`, and every image blob under `oci/`
    /// (path, size, sha256).
    pub files: Vec<FileEntry>,
}

/// A state file as read: the document and the SHA-256 of its bytes (what
/// an incremental manifest records as `base_state_sha256`).
#[derive(Debug, Clone)]
pub struct LoadedState {
    /// The document.
    pub state: MirrorState,
    /// SHA-256 of the file's bytes.
    pub sha256: Sha256Digest,
}

impl MirrorState {
    /// The bytes `export-state` writes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::json::to_document_bytes(self)
    }

    /// Reads a state file.
    ///
    /// # Errors
    /// [`crate::Error`] for an unreadable or malformed file.
    pub fn load(path: &Path) -> Result<LoadedState> {
        let bytes = read_small_bytes(path, crate::json::MAX_DOCUMENT_BYTES)?;
        let state: MirrorState =
            crate::json::parse_document(&bytes, &path.display().to_string(), SCHEMA)?;
        Ok(LoadedState {
            state,
            sha256: Sha256Digest::of(&bytes),
        })
    }

    /// Whether the mirror holds `path` with exactly these bytes. An image
    /// blob (`…/<name>.oci/blobs/sha256/<hex>`) is held when the mirror's
    /// blob store has it (`oci/blobs/sha256/<hex>`, SPEC §3.12): the store
    /// keeps each blob once, under its digest, for every version.
    #[must_use]
    pub fn holds(&self, f: &FileEntry) -> bool {
        let same = |x: &FileEntry, path: &str| {
            x.path.as_str() == path && x.sha256 == f.sha256 && x.size == f.size
        };
        if self.files.iter().any(|x| same(x, f.path.as_str())) {
            return true;
        }
        let hex = f.sha256.to_hex();
        let is_blob = f
            .path
            .as_str()
            .ends_with(&format!(".oci/blobs/sha256/{hex}"));
        let stored = format!("oci/blobs/sha256/{hex}");
        is_blob && self.files.iter().any(|x| same(x, &stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::BundlePath;

    fn entry(path: &str, bytes: &[u8]) -> FileEntry {
        FileEntry {
            path: BundlePath::new(path).unwrap(),
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(bytes),
        }
    }

    #[test]
    fn an_image_blob_is_held_when_the_blob_store_has_it() {
        let hex = Sha256Digest::of(b"layer").to_hex();
        let state = MirrorState {
            schema: SCHEMA.into(),
            product: Name::new("novantra").unwrap(),
            manifest_sequence: 7,
            index_sequence: 2,
            index_sha256: Sha256Digest::of(b"index"),
            files: vec![
                entry(&format!("oci/blobs/sha256/{hex}"), b"layer"),
                entry("releases/3.2.1/NOTES.md", b"notes"),
            ],
        };
        // Another version's layout naming the same blob.
        let blob = entry(
            &format!("releases/3.3.0/no-training/onprem.oci/blobs/sha256/{hex}"),
            b"layer",
        );
        assert!(state.holds(&blob));
        assert!(state.holds(&entry("releases/3.2.1/NOTES.md", b"notes")));
        // Not a blob path, or other bytes under the name: not held.
        let elsewhere = entry(&format!("releases/3.3.0/no-training/x/{hex}"), b"layer");
        assert!(!state.holds(&elsewhere));
        let other = entry(
            &format!("releases/3.3.0/no-training/onprem.oci/blobs/sha256/{hex}"),
            b"other",
        );
        assert!(!state.holds(&other));
    }
}
