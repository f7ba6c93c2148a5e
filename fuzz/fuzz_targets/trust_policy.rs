//! The trust policy TOML (`policy::TrustPolicy::from_bytes`). Key entries
//! that are not inline keys are paths relative to the policy: the policy
//! "lives" in an empty per-process scratch directory, so those resolve to
//! nothing (absolute paths are opened read-only, regular files only).
#![no_main]

use ferry_manifests::policy::TrustPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = ferry_fuzz::scratch_dir().join("ferry-trust.toml");
    if let Ok(p) = TrustPolicy::from_bytes(data, &path) {
        let _ = p.vendor();
        let _ = p.transfer();
        let _ = p.mirror();
        let _ = p.pinned_channels();
        let _ = p.pinned_profiles();
    }
});
