//! End-to-end tests: the real binaries, real files, real local servers.
//! One module per area (STYLE: one test binary).

mod foundation;
mod sync;
