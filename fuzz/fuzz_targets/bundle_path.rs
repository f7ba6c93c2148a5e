//! Bundle paths (`path::BundlePath::new`, SPEC §3.1), the methods built on
//! a valid one, and the case/Unicode conflict check over a list of paths
//! (one per line). A path that is accepted must satisfy the documented
//! rule: relative, at most 1024 bytes, components of `[A-Za-z0-9._+-]`,
//! 1 to 255 bytes, never `.` or `..`.
#![no_main]

use ferry_manifests::path::{BundlePath, check_conflicts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = BundlePath::new(text) {
        let s = p.as_str();
        assert_eq!(s, text);
        assert!(!s.is_empty() && s.len() <= 1024 && !s.starts_with('/'));
        for c in p.components() {
            assert!(!c.is_empty() && c.len() <= 255 && c != "." && c != "..");
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
            );
        }
        assert_eq!(BundlePath::new(s).expect("reads back"), p);
        assert_eq!(
            BundlePath::from_components(p.components()).expect("rebuilds"),
            p
        );
        let _ = p.file_name();
        let _ = p.case_key();
        for a in p.ancestors() {
            assert!(p.starts_with_dir(a.as_str()));
        }
        if let Some(parent) = p.parent() {
            let _ = parent.join(p.file_name()).expect("parent + name");
        }
        let _ = p.join("x");
        let _ = p.under(std::path::Path::new("/fuzz-root"));
    }
    let paths: Vec<BundlePath> = text
        .lines()
        .filter_map(|l| BundlePath::new(l).ok())
        .collect();
    let _ = check_conflicts(paths.iter());
});
