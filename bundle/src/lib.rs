//! # ferry-bundle
//!
//! Bundles (SPEC §3.6): `ferry pack` writes them, `ferry-verify bundle`
//! checks them offline, and the mirror import reuses the same checker while
//! it extracts into staging.
//!
//! Design:
//! * [`manifest::verify_manifest`] checks the manifest bytes alone: the
//!   signature threshold over the exact bytes, then parses those bytes, then
//!   product, expiry, validity, sequence against a state file, site pins.
//! * [`checker::Checker`] is the one place that decides whether an entry of
//!   a bundle is acceptable, whatever the carrier (tar, tar.gz, zip,
//!   directory, volumes). Each carrier's reader only turns its framing into
//!   "manifest / signature / directory / file with N bytes" calls.
//! * [`tar_read`] is a strict one-pass ustar/PAX reader written for this
//!   job: it accepts the small subset `ferry pack` writes and refuses every
//!   other construct (links, devices, sparse, GNU extensions, global PAX
//!   headers, desynchronised sizes, trailing data), rather than relying on
//!   a general-purpose reader that silently interprets them (ATTACKS B14–B17).
//! * A caller that extracts (the mirror import) passes a [`Sink`]: it
//!   receives each file's bytes as they stream by and is told when that file
//!   passed; the whole bundle is good only when the verify call returns `Ok`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use ferry_durable::{Error, Result, error, fsutil};

pub mod checker;
mod deferred;
pub mod dir;
pub mod format;
pub mod inspect;
pub mod manifest;
pub mod pack;
pub mod parity;
mod plan;
pub mod report;
mod source;
pub mod tar_read;
mod tar_write;
pub mod verify;
mod volume_io;
pub mod volumes;
pub mod zip_read;
mod zip_write;

pub use checker::{NullSink, Sink};
pub use format::{Format, Split};
pub use manifest::{State, VerifiedManifest, VerifyOptions, verify_manifest};
pub use pack::{PackOptions, PackReport, pack};
pub use parity::repair;
pub use report::Report;
pub use source::{Counting, check_since};
pub use verify::{
    Input, Repair, verify_bundle, verify_bundle_into_manifest, verify_bundle_with_sink,
    verify_manifest_and_trust, verify_manifest_of,
};

/// At most this many manifest signatures are read from a bundle.
pub const MAX_SIGNATURES: usize = 64;
/// Largest PAX extended header accepted (ATTACKS B15).
pub const MAX_PAX_BYTES: u64 = 64 * 1024;
/// Largest upstream signature file buffered while streaming (Sigstore
/// bundles are a few KiB; minisign signatures are under 1 KiB).
pub const MAX_UPSTREAM_SIG_BYTES: u64 = 1024 * 1024;
/// Streaming buffer size.
pub const BUF: usize = 256 * 1024;
