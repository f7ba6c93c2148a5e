//! # ferry-manifests
//!
//! The formats of ferry (SPEC §3) as strict types, and the checks that
//! carry trust: SHA-256 hashing, minisign signatures with threshold
//! counting, the trust policy.
//!
//! Every document is read the same way: verify the bytes, then parse those
//! same bytes with [`json::parse_document`], which refuses unknown fields,
//! duplicate keys and unknown schemas with an error naming the field.
//!
//! ```
//! use ferry_manifests::path::BundlePath;
//! assert!(BundlePath::new("releases/3.2.1/no-training/app.deb").is_ok());
//! assert!(BundlePath::new("releases/../etc/passwd").is_err());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod artifact;
pub mod decide;
pub mod digest;
pub mod error;
pub mod hints;
pub mod hops;
pub mod image;
pub mod index;
pub mod input;
pub mod json;
pub mod license;
pub mod manifest;
pub mod minisig;
pub mod mirror_state;
pub mod name;
pub mod path;
pub mod policy;
pub mod prehash;
pub mod progress;
pub mod redact;
pub mod release;
pub mod sigstore;
pub mod spot;
pub mod time;
pub mod trust;
pub mod vendor;
pub mod volumes;

pub use error::{Error, ErrorClass, Result};
