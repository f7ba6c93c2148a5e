//! minisign public keys: the text of a `.pub` file
//! (`minisig::PublicKey::from_text`), a bare base64 line
//! (`PublicKey::from_base64`), the inline-or-path decision
//! (`PublicKey::is_inline`), and key-set building.
#![no_main]

use ferry_manifests::minisig::{KeySet, PublicKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = PublicKey::is_inline(text);
    let _ = PublicKey::from_base64(text, "fuzz");
    if let Ok(k) = PublicKey::from_text(text, "fuzz.pub") {
        // What ferry writes for a key reads back as the same key.
        let again =
            PublicKey::from_text(&k.to_pub_file(), "again").expect("to_pub_file reads back");
        assert_eq!(again.raw(), k.raw());
        assert_eq!(again.id(), k.id());
        let _ = KeySet::new(vec![k.clone(), again]).expect("the same key twice is one key");
        let _ = KeySet::new(vec![k, ferry_fuzz::vendor_key().clone()]);
    }
});
