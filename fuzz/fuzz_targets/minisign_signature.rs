//! minisign signature files (`minisig::SignatureFile::parse`), and what
//! is done with a parsed one: the threshold count over the org keys and
//! a check by the vendor key (legacy allowed and refused, one-shot,
//! against a prehash and in a batch).
#![no_main]

use ferry_manifests::minisig::{
    KeyId, Legacy, OfferedSignature, SignatureFile, verify_document, verify_threshold,
};
use libfuzzer_sys::fuzz_target;

const DATA: &[u8] = b"ferry fuzz data\n";

fuzz_target!(|data: &[u8]| {
    let Ok(sig) = SignatureFile::parse(data, "fuzz.minisig") else {
        return;
    };
    let id = sig.key_id();
    let _ = KeyId::parse(&id.to_string()).expect("a key id reads back");
    let _ = sig.is_prehashed();
    let comment = sig.trusted_comment().to_string();

    let offered = [OfferedSignature {
        name: "fuzz.minisig".into(),
        bytes: data.to_vec(),
    }];
    let _ = verify_threshold(ferry_fuzz::org_keys(), 1, DATA, &comment, &offered, "fuzz");
    let _ = verify_document(ferry_fuzz::org_keys(), DATA, data, Some(&comment), "fuzz");

    let key = ferry_fuzz::vendor_key();
    let _ = key.verify(DATA, &sig, Legacy::Allow, "fuzz");
    let _ = key.verify(DATA, &sig, Legacy::Refuse, "fuzz");
    let mut h = ferry_manifests::prehash::Prehasher::new();
    h.update(DATA);
    let prehash = h.finish();
    let _ = key.verify_prehash(&sig, &prehash, "fuzz");
    let mut batch = ferry_manifests::minisig::BatchVerifier::new();
    if batch.push(key, sig, prehash, "fuzz".into()).is_ok() {
        let _ = batch.finish();
    }
});
