//! End-to-end tests: the real binaries, real files, real local servers.
//! One module per area (STYLE: one test binary).

// Tests report skipped halves (a missing system tool) on stderr.
#![allow(clippy::print_stderr)]

mod access_log;
mod attacks;
mod bundle;
mod bundle_order;
mod cli;
mod demo;
mod formats;
mod foundation;
mod handoff;
mod inputs;
mod messages;
mod mirror;
mod mirror_crash;
mod mirror_readers;
mod mirror_rules;
mod oci;
mod oci_handoff;
mod oci_mirror;
mod oci_mirror_serve;
mod oci_serve;
mod progress;
mod publish;
mod report_html;
mod scale;
mod selection;
mod sigstore;
mod sync;
mod sync_sigstore;
mod trust_chain;
mod trust_inputs;
mod verify_file;
mod views;
