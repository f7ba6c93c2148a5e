//! The tar.gz path of the bundle reader: `bundle::verify_bundle` on a file
//! holding the input (the gzip decoder, ferry's gzip-header and
//! trailing-member rules, then the strict tar reader and the checker).
//! The private `read_targz` is reached only through a path, so the input
//! is written to a per-process scratch file; inputs without the gzip magic
//! are skipped (they would take the plain-tar path, fuzzed by `tar_bundle`).
#![no_main]

use ferry_bundle::{Input, Repair, verify_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if !data.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    let path = ferry_fuzz::scratch_file("bundle.tar.gz", data);
    let _ = verify_bundle(
        &Input::Path(path),
        ferry_fuzz::policy(),
        &ferry_fuzz::opts(),
        &Repair::No,
    );
});
