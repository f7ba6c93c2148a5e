//! Sigstore bundles carried as upstream signatures
//! (`sigstore::SigstoreBundle::parse`: ferry's strict JSON, the media
//! type, then the sigstore crate's bundle model).
#![no_main]

use ferry_manifests::sigstore::SigstoreBundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = SigstoreBundle::parse(data, "fuzz.sigstore.json") {
        let _ = b.media_type();
        let _ = b.wants_sha512();
    }
});
