//! # ferry-mirror-layout
//!
//! The mirror store (SPEC §3.7): its atomic import and commit journal,
//! the signed index and hint feed, the published envelope, prune, fsck and
//! repair, the audit log. Bundles are read through `ferry-bundle`;
//! crash-safe writes come from `ferry-durable`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod mirror;

pub use ferry_durable::{Error, Result, error, fsutil};
