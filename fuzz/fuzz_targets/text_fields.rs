//! The small text fields every document and policy is made of, parsed on
//! their own so the fuzzer reaches their corners quickly: timestamps,
//! durations (and their sum), names, key ids, SHA-256 digests.
#![no_main]

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::minisig::KeyId;
use ferry_manifests::name::Name;
use ferry_manifests::time::{Duration, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = text.parse::<Timestamp>() {
        let _ = t.to_string();
        let _ = t.plus(Duration::MAX);
    }
    if let Ok(d) = text.parse::<Duration>() {
        assert_eq!(d.to_string().parse::<Duration>().expect("reads back"), d);
        let now = ferry_fuzz::NOW.parse::<Timestamp>().expect("NOW");
        let _ = now.plus(d).to_string();
        let _ = now.checked_plus(d);
    }
    if let Ok(n) = Name::new(text) {
        assert_eq!(n.as_str(), text);
    }
    if let Ok(k) = KeyId::parse(text) {
        assert_eq!(k.to_string(), text);
    }
    if let Ok(d) = text.parse::<Sha256Digest>() {
        let _ = d.to_hex();
    }
});
