//! # ferry-mirror-layout
//!
//! Bundles and the mirror tree: bundle read/write, the internal mirror and
//! its atomic import, the mirror index and hint feed, the audit log.
//! The binaries' rendering, exit codes and key loading live in
//! `ferry-cli` (`cli/`); the hand-off and the upgrade planner in
//! `ferry-handoff-core` (`handoff/`), which `ferry-verify` does not link.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod bundle;
pub mod error;
pub mod fsutil;
pub mod mirror;
pub mod workspace;

pub use error::{Error, Result};
