//! Rollback and equivocation at import ([`decide::freshness`] against the
//! signed index).

use ferry_bundle::VerifiedManifest;
use ferry_manifests::decide::{self, Counter, Freshness, Seen};
use ferry_manifests::manifest::MANIFEST_PATH;

use super::super::index::MirrorIndex;
use crate::error::{Error, Result};

/// Rollback and equivocation against what the mirror imported
/// ([`decide::freshness`]).
pub(super) fn check_fresh(index: &MirrorIndex, vm: &VerifiedManifest) -> Result<()> {
    let accepted = Seen {
        value: index.manifest_sequence,
        sha256: index
            .manifests
            .iter()
            .find(|im| im.sequence == index.manifest_sequence)
            .map(|im| im.sha256),
    };
    let offered = Seen {
        value: vm.manifest.sequence,
        sha256: Some(vm.sha256),
    };
    let fresh = decide::freshness(
        MANIFEST_PATH,
        Counter::ManifestSequence,
        &offered,
        Some(&accepted),
    )
    .map_err(|r| ferry_manifests::Error::from(r.advise("this mirror imported it before")))?;
    if fresh == Freshness::Repeat {
        // The same sequence, yet not this manifest (importing the very
        // same one again is a no-op before this check).
        return Err(Error::refused(
            MANIFEST_PATH,
            format!(
                "sequence {} was already imported with other bytes: equivocation refused",
                vm.manifest.sequence
            ),
        ));
    }
    Ok(())
}
