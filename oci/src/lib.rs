//! # ferry-oci
//!
//! Container images for ferry (SPEC §3.12), as pure logic over bytes and
//! folders, no network: OCI digests (`sha256:` + 64 lowercase hex, the
//! type lives in [`ferry_manifests::digest::OciDigest`] beside ferry's
//! other digests), media types of OCI and Docker schema 2, strict parsing
//! of image manifests and indexes (bytes checked against their digest
//! first), platform selection, image layouts, the verifying [`walk()`] (the
//! one home of "an image is intact") and OCI archives.
//!
//! ```
//! use ferry_oci::{Digest, PlatformName};
//! let d: Digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//!     .parse().unwrap();
//! assert_eq!(d, Digest::of(b"abc"));
//! assert!("sha512:00".parse::<Digest>().is_err());
//! let p: PlatformName = "linux-amd64".parse().unwrap();
//! assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "amd64"));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod archive;
pub mod describe;
pub mod error;
pub mod image;
pub mod layout;
pub mod media;
pub mod model;
pub mod platform;
pub mod verify;
pub mod walk;

pub use error::{Error, Result};
pub use ferry_manifests::digest::OciDigest as Digest;
pub use layout::{Layout, LayoutWriter};
pub use model::{
    Descriptor, Document, Expect, ImageIndex, ImageManifest, Platform, parse_document,
};
pub use platform::PlatformName;
pub use walk::{BlobRole, BlobSource, Reached, walk};
