//! # ferry-mirror-layout
//!
//! Bundles and the mirror tree: bundle read/write, the internal mirror and
//! its atomic import, the mirror index and hint feed, upgrade paths, the
//! audit log; plus the reporting conventions the binaries share ([`cli`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod bundle;
pub mod cli;
pub mod error;
pub mod fsutil;
pub mod handoff;
pub mod keyload;
pub mod mirror;
pub mod upgrade;
pub mod workspace;

pub use error::{Error, Result};
