//! # ferry-mirror-layout
//!
//! Bundles and the mirror tree: bundle read/write, the internal mirror and
//! its atomic import, the mirror index and hint feed, the audit log; plus
//! the reporting conventions the binaries share ([`cli`]). The hand-off
//! and the upgrade planner live in `ferry-handoff-core` (`handoff/`), which
//! `ferry-verify` does not link.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod bundle;
pub mod cli;
pub mod error;
pub mod fsutil;
pub mod keyload;
pub mod mirror;
pub mod workspace;

pub use error::{Error, Result};
