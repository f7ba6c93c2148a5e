//! Strict JSON (`json::parse_document`, `json::parse_strict`) and every
//! document type read from untrusted bytes: the transfer manifest, the
//! vendor release index, the hint feed, the mirror index, and the
//! `published.json` envelope (parse, both signatures, both documents).
#![no_main]

use ferry_manifests::hints::Hints;
use ferry_manifests::index::ReleaseIndex;
use ferry_manifests::json;
use ferry_manifests::manifest::Manifest;
use ferry_mirror_layout::mirror::index::MirrorIndex;
use ferry_mirror_layout::mirror::published::verify_published;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = json::parse_strict::<serde_json::Value>(data, "fuzz.json");
    let _ = json::parse_document::<serde_json::Value>(data, "fuzz.json", "ferry.fuzz/v1");
    if let Ok(m) = Manifest::parse(data) {
        // What ferry writes reads back.
        let again = Manifest::parse(&m.to_bytes()).expect("a parsed manifest reads back");
        assert_eq!(again, m);
        let _ = m.total_size();
        for f in &m.files {
            let _ = m.role_of(&f.path);
        }
    }
    if let Ok(i) = ReleaseIndex::parse(data, "index.json") {
        let _ = ReleaseIndex::parse(&i.to_bytes(), "again").expect("an index reads back");
    }
    if let Ok(h) = Hints::parse(data, "hints.json") {
        let _ = Hints::parse(&h.to_bytes(), "again").expect("a feed reads back");
    }
    if let Ok(i) = MirrorIndex::parse(data, "index.json") {
        let _ = MirrorIndex::parse(&i.to_bytes(), "again").expect("a mirror index reads back");
    }
    let _ = verify_published(data, ferry_fuzz::mirror_keys(), "published.json");
});
