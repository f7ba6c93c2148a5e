//! `ferry-mirror export-state`: the mirror's state document
//! ([`ferry_manifests::mirror_state`]) read from its verified index.

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::KeySet;
pub use ferry_manifests::mirror_state::{LoadedState, MirrorState, SCHEMA};

use super::Mirror;
use crate::error::Result;

impl Mirror {
    /// The state of the mirror, read from its verified index.
    ///
    /// # Errors
    /// [`crate::Error::Manifest`] if the index does not verify with `keys`.
    pub fn export_state(&self, keys: &KeySet) -> Result<MirrorState> {
        let (index, bytes) = self.read_index(keys)?;
        Ok(MirrorState {
            schema: SCHEMA.into(),
            product: index.product.clone(),
            manifest_sequence: index.manifest_sequence,
            index_sequence: index.sequence,
            index_sha256: Sha256Digest::of(&bytes),
            files: index
                .files
                .into_iter()
                .filter(|f| {
                    f.path.starts_with_dir("releases")
                        || f.path.starts_with_dir(super::images::OCI_DIR)
                })
                .collect(),
        })
    }
}
