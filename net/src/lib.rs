//! # ferry-net
//!
//! All of ferry's network code, linked by `ferry`, `ferry-mirror` and
//! `ferry-handoff` but never by `ferry-verify`:
//!
//! * [`client`]: the HTTP(S) client (rustls, `--ca-cert`, proxy variables);
//! * [`download`]: one verified, resumable, size-capped download;
//! * [`sync`]: `ferry sync`, fetching a vendor's signed index and releases
//!   into a workspace, keeping nothing unverified outside `.ferry/partial/`;
//! * [`oci_pull`]: container images from a registry, by digest, verified;
//! * [`mirror_client`]: a mirror over HTTP and health probes for `ferry-handoff`;
//! * [`serve`]: a static file server on 127.0.0.1 (demo, mirror);
//! * [`oci_registry`]: a read-only OCI registry over image layouts or the
//!   mirror's `oci/` store.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access_log;
pub mod client;
pub mod download;
pub mod error;
pub mod limits;
pub mod mirror_client;
pub mod mirror_serve;
mod mirror_views;
pub mod oci_pull;
pub mod oci_registry;
pub mod progress;
pub mod select;
pub mod serve;
mod static_files;
pub mod status_svg;
pub mod sync;

pub use error::{Error, Result};
