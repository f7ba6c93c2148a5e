//! Step 1 of a sync: the vendor index, verified before it is parsed, and
//! never older than one this workspace accepted (SPEC §5 rule 7).

use ferry_manifests::decide::{self, Counter, Seen};
use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::index::ReleaseIndex;
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::minisig::{KeyId, verify_document};
use ferry_manifests::policy::{TrustPolicy, VendorPolicy};
use ferry_workspace::State;

use crate::download::{MAX_SIGNATURE_BYTES, fetch_small_retry};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// The verified index.
pub(super) struct FetchedIndex {
    /// The parsed document.
    pub(super) index: ReleaseIndex,
    /// SHA-256 of its bytes.
    pub(super) sha256: Sha256Digest,
    /// The vendor key that signed it.
    pub(super) key_id: KeyId,
}

/// Fetches `index.json` and its `.minisig`, verifies the signature with
/// the policy's vendor keys, then parses those bytes.
pub(super) async fn fetch_verified(
    client: &reqwest::Client,
    index_url: &reqwest::Url,
    retries: u32,
    vendor: &VendorPolicy,
    policy: &TrustPolicy,
) -> Result<FetchedIndex> {
    let index_bytes =
        match fetch_small_retry(client, index_url, MAX_DOCUMENT_BYTES, "index.json", retries)
            .await?
        {
            Ok(b) => b,
            Err(status) => {
                return Err(Error::Status {
                    url: index_url.to_string(),
                    status,
                });
            }
        };
    let mut sig_url = index_url.clone();
    sig_url.set_path(&format!("{}.minisig", index_url.path()));
    let sig_bytes = match fetch_small_retry(
        client,
        &sig_url,
        MAX_SIGNATURE_BYTES,
        "index.json.minisig",
        retries,
    )
    .await?
    {
        Ok(b) => b,
        Err(status) if (400..500).contains(&status) => {
            return Err(Error::MissingSignature {
                what: "index.json".into(),
                url: sig_url.to_string(),
                status,
                reason: "a vendor index is only trusted with a valid signature by a vendor key of the trust policy".into(),
            });
        }
        Err(status) => {
            return Err(Error::Status {
                url: sig_url.to_string(),
                status,
            });
        }
    };
    let key_id = verify_document(
        &vendor.minisign_keys,
        &index_bytes,
        &sig_bytes,
        None,
        "index.json.minisig (vendor index signature)",
    )?;
    let index = ReleaseIndex::parse(&index_bytes, "index.json")?;
    if index.product != policy.product {
        return Err(ferry_manifests::Error::policy(
            "index.json",
            format!(
                "is for product \"{}\", the trust policy for \"{}\"",
                index.product, policy.product
            ),
        )
        .into());
    }
    Ok(FetchedIndex {
        sha256: Sha256Digest::of(&index_bytes),
        index,
        key_id,
    })
}

/// Refuses an index generated before one this workspace accepted, unless
/// `allow_older` (then says so loudly).
pub(super) fn check_replay(
    index: &ReleaseIndex,
    old: Option<&State>,
    allow_older_index: bool,
    progress: &dyn Progress,
) -> Result<()> {
    let accepted = old.and_then(|o| o.index_generated).map(|g| Seen {
        value: g,
        sha256: None,
    });
    let offered = Seen {
        value: index.generated,
        sha256: None,
    };
    match decide::freshness("index.json", Counter::Generated, &offered, accepted.as_ref()) {
        Ok(_) => {}
        Err(r) if allow_older_index => progress.note(&format!(
            "WARNING: --allow-older-index: accepting it anyway ({r}); replay protection is off for this run"
        )),
        Err(r) => {
            return Err(ferry_manifests::Error::from(r.advise(
                "a replayed or frozen vendor index (suspect the server or a proxy in between); nothing was changed. If the vendor really withdrew a newer index, re-run with --allow-older-index",
            ))
            .into());
        }
    }
    Ok(())
}
