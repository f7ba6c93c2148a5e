//! The strict zip bundle reader (`bundle::zip_read::verify_zip`: end
//! records, central directory walk, local-header framing, then each entry
//! through the checker). It takes a path, so the input is written to a
//! per-process scratch file.
#![no_main]

use ferry_bundle::NullSink;
use ferry_bundle::checker::Checker;
use ferry_bundle::zip_read::verify_zip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = ferry_fuzz::scratch_file("bundle.zip", data);
    let mut checker = Checker::new(ferry_fuzz::policy(), ferry_fuzz::opts()).expect("checker");
    if verify_zip(&path, &mut checker, &mut NullSink, false).is_ok() {
        let _ = checker.finish();
    }
});
