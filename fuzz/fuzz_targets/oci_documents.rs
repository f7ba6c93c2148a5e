//! Container-image documents from a registry or an image layout
//! (`ferry_oci::parse_document` with the bytes' own digest, so the fuzzer
//! gets past the digest check to the strict parser; a layout's
//! `index.json`; image references, tags, digests, platform names).
//! Whatever parses must re-serialize and parse to the same value.
#![no_main]

use ferry_manifests::digest::OciDigest;
use ferry_manifests::image::{ImageRef, check_tag};
use ferry_oci::layout::LayoutIndex;
use ferry_oci::{Document, Expect, PlatformName, media, parse_document};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let digest = OciDigest::of(data);
    if let Ok(doc) = parse_document(data, Expect::digest(&digest)) {
        // The same bytes, pointed at with the type they declare, parse the same.
        let mt = doc.media_type().to_string();
        let again = parse_document(
            data,
            Expect { digest: &digest, size: Some(data.len() as u64), media_type: Some(&mt) },
        )
        .expect("a document parses again when pointed at with its own type");
        assert_eq!(doc, again);
        if let Document::Index(i) = &doc {
            let _ = ferry_oci::platform::select(digest, i, &"linux-amd64".parse().unwrap());
        }
    }
    // A wrong digest is refused before anything is parsed.
    let wrong = OciDigest::of(b"not these bytes");
    if data != b"not these bytes" {
        assert!(parse_document(data, Expect::digest(&wrong)).is_err());
    }
    let _ = parse_document(
        data,
        Expect { digest: &digest, size: None, media_type: Some(media::DOCKER_MANIFEST) },
    );
    if let Ok(index) = ferry_manifests::json::parse_strict::<LayoutIndex>(data, "index.json") {
        let bytes = index.to_bytes();
        let back: LayoutIndex =
            ferry_manifests::json::parse_strict(&bytes, "index.json").expect("round trip");
        assert_eq!(back, index);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = s.parse::<ImageRef>() {
            assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r);
        }
        if let Ok(d) = s.parse::<OciDigest>() {
            assert_eq!(d.to_string(), s);
        }
        if let Ok(p) = s.parse::<PlatformName>() {
            assert_eq!(p.to_string(), s);
        }
        let _ = check_tag(s);
    }
});
