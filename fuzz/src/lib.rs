//! Shared setup of the fuzz targets: a fixed trust policy built from the
//! test-only demo keys of `keys/demo/` (inline, so loading it reads no
//! file), a fixed "now", and a scratch file for the readers that take a
//! path.
//!
//! The seed corpus (`corpus/`, made by `examples/gen_corpus.rs`) holds
//! bundles signed by the same demo keys, so the bundle targets get past the
//! manifest's signature check and reach the per-entry rules.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ferry_manifests::minisig::{KeySet, PublicKey};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use ferry_bundle::VerifyOptions;

/// The product of the seeds.
pub const PRODUCT: &str = "novantra";
/// A "now" inside the seed manifest's validity window.
pub const NOW: &str = "2026-11-21T00:00:00Z";

const VENDOR_PUB: &str = include_str!("../../keys/demo/vendor.pub");
const ORG1_PUB: &str = include_str!("../../keys/demo/org1.pub");
const ORG2_PUB: &str = include_str!("../../keys/demo/org2.pub");
const ORG3_PUB: &str = include_str!("../../keys/demo/org3.pub");
const MIRROR_PUB: &str = include_str!("../../keys/demo/mirror.pub");

/// The base64 line of a `.pub` file.
#[must_use]
pub fn b64(pub_file: &str) -> &str {
    pub_file
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .expect("a demo .pub file has a key line")
}

/// The trust policy text every bundle target uses (the tests' fixture
/// policy: vendor key, org1–org3 with threshold 2, max_validity 45d, a
/// site pinned to stable / no-training), keys inline.
#[must_use]
pub fn policy_text() -> String {
    format!(
        "product = \"{PRODUCT}\"\n\n[vendor]\nminisign_keys = [\"{}\"]\n\n[transfer]\nkeys = [\"{}\", \"{}\", \"{}\"]\nthreshold = 2\nmax_validity = \"45d\"\n\n[mirror]\nkeys = [\"{}\"]\nchannels = [\"stable\"]\nprofiles = [\"no-training\"]\n",
        b64(VENDOR_PUB),
        b64(ORG1_PUB),
        b64(ORG2_PUB),
        b64(ORG3_PUB),
        b64(MIRROR_PUB),
    )
}

/// The fixed policy (parsed once).
pub fn policy() -> &'static TrustPolicy {
    static P: OnceLock<TrustPolicy> = OnceLock::new();
    P.get_or_init(|| {
        TrustPolicy::from_bytes(
            policy_text().as_bytes(),
            Path::new("/nonexistent/ferry-trust.toml"),
        )
        .expect("the fuzz policy parses")
    })
}

/// The mirror key, as a set (for the published envelope).
pub fn mirror_keys() -> &'static KeySet {
    static K: OnceLock<KeySet> = OnceLock::new();
    K.get_or_init(|| {
        KeySet::new(vec![
            PublicKey::from_text(MIRROR_PUB, "mirror.pub").expect("demo mirror key"),
        ])
        .expect("one key")
    })
}

/// The org keys, as a set (for threshold checks of signature files).
pub fn org_keys() -> &'static KeySet {
    static K: OnceLock<KeySet> = OnceLock::new();
    K.get_or_init(|| {
        KeySet::new(
            [ORG1_PUB, ORG2_PUB, ORG3_PUB]
                .iter()
                .map(|t| PublicKey::from_text(t, "org.pub").expect("demo org key"))
                .collect(),
        )
        .expect("three keys")
    })
}

/// The vendor key.
pub fn vendor_key() -> &'static PublicKey {
    static K: OnceLock<PublicKey> = OnceLock::new();
    K.get_or_init(|| PublicKey::from_text(VENDOR_PUB, "vendor.pub").expect("demo vendor key"))
}

/// Fixed verification options: [`NOW`], no state file.
#[must_use]
pub fn opts() -> VerifyOptions {
    VerifyOptions {
        now: NOW.parse::<Timestamp>().expect("NOW parses"),
        state: None,
        progress: Default::default(),
    }
}

/// A per-process scratch directory (under `$TMPDIR`; `scripts/fuzz.sh`
/// points that at a directory it removes afterwards).
pub fn scratch_dir() -> &'static Path {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("ferry-fuzz-")
            .tempdir()
            .expect("scratch directory")
    })
    .path()
}

/// Writes `data` to `name` in the scratch directory and returns its path,
/// for the readers that take a path.
#[must_use]
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let p = scratch_dir().join(name);
    std::fs::write(&p, data).expect("write the scratch file");
    p
}
