//! # ferry-durable
//!
//! Crash-safe files, the one home of the rule "a reader sees the old bytes
//! or the new, never a mix": [`fsutil::write_atomic`] (temp file, fsync,
//! rename, directory fsync), durable folder creation, the modes every
//! published file gets, and the one error type of the store-level crates
//! (`ferry-bundle`, `ferry-mirror-layout`, `ferry-workspace`), whose I/O
//! errors always name the path.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod fsutil;
pub use ferry_manifests::progress;
pub mod trust_state;

pub use error::{Error, Result};
