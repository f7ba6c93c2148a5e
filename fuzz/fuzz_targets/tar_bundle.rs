//! The strict ustar/PAX bundle reader (`bundle::tar_read::read_tar`) with
//! the bundle checker behind it, over arbitrary bytes held in memory: once
//! as `ferry-verify manifest` reads (manifest-only), once as
//! `ferry-verify bundle` does (every entry, then `finish`).
#![no_main]

use ferry_bundle::NullSink;
use ferry_bundle::checker::Checker;
use ferry_bundle::tar_read::read_tar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = ferry_fuzz::policy();

    let mut checker = Checker::manifest_only(policy, ferry_fuzz::opts()).expect("checker");
    if read_tar(data, "fuzz.tar", &mut checker, &mut NullSink).is_ok() {
        let _ = checker.into_manifest();
    }

    let mut checker = Checker::new(policy, ferry_fuzz::opts()).expect("checker");
    if read_tar(data, "fuzz.tar", &mut checker, &mut NullSink).is_ok() {
        let _ = checker.finish();
    }
});
