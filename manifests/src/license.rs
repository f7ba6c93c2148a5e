//! Product licenses for the hand-off's pre-flight check (issue 7): a small
//! JSON document, `ferry.license/v1`, signed by the vendor with minisign
//! (`<file>.minisig` beside it, trusted comment
//! `ferry-license product=<p> sha256=<hex of the license bytes>`).
//! Its signature, product and profile are checked before its expiry counts.

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::json;
use crate::minisig::{KeySet, SecretKey, verify_document};
use crate::name::Name;
use crate::time::Timestamp;

/// The schema string of a license.
pub const SCHEMA: &str = "ferry.license/v1";

/// A product license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The product.
    pub product: Name,
    /// The deployment profile licensed.
    pub profile: Name,
    /// Who holds it.
    pub licensee: String,
    /// When it was issued.
    pub issued: Timestamp,
    /// When it stops being valid.
    pub expires: Timestamp,
}

/// The trusted comment of a license signature.
#[must_use]
pub fn trusted_comment(product: &Name, sha256: &Sha256Digest) -> String {
    format!("ferry-license product={product} sha256={sha256}")
}

impl License {
    /// The bytes ferry writes and signs.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        json::to_document_bytes(self)
    }

    /// Signs license bytes with the vendor key; returns the `.minisig` text.
    ///
    /// # Errors
    /// A signing error.
    pub fn sign(bytes: &[u8], product: &Name, key: &SecretKey) -> Result<String> {
        key.sign(bytes, &trusted_comment(product, &Sha256Digest::of(bytes)))
    }

    /// Verifies license bytes and signature with the vendor keys, then
    /// parses those bytes and checks product and profile.
    ///
    /// # Errors
    /// [`Error::Signature`] for a signature by another key or over other
    /// bytes, [`Error::Policy`] for another product or profile.
    pub fn verify(
        bytes: &[u8],
        sig: &[u8],
        vendor_keys: &KeySet,
        product: &Name,
        profile: &Name,
        what: &str,
    ) -> Result<License> {
        // The comment names the product: check it before parsing anything.
        let expected = trusted_comment(product, &Sha256Digest::of(bytes));
        verify_document(
            vendor_keys,
            bytes,
            sig,
            Some(&expected),
            &format!("{what}.minisig"),
        )?;
        let lic: License = json::parse_document(bytes, what, SCHEMA)?;
        if &lic.product != product {
            return Err(Error::policy(
                what,
                format!("is a license for product {}, not {product}", lic.product),
            ));
        }
        if &lic.profile != profile {
            return Err(Error::policy(
                what,
                format!("licenses the {} profile, not {profile}", lic.profile),
            ));
        }
        if lic.expires <= lic.issued {
            return Err(Error::policy(what, "expires before it was issued"));
        }
        Ok(lic)
    }
}
