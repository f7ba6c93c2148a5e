//! `ferry sign --trust-chain DIR`: the organisation's trust chain (SPEC
//! §3.11) goes into the workspace at `ferry/trust/`, and `ferry pack` puts
//! it first in the bundle. Whether the chain counts is decided where it is
//! applied (`ferry_manifests::trust::apply`); here each version is only
//! parsed, so a wrong folder is caught before the USB stick leaves.

use std::path::Path;

use ferry_durable::fsutil;
use ferry_manifests::trust::{self, TrustDoc};

use crate::sign::refused;
use crate::{STATE_FILE, Workspace};
use ferry_durable::{Error, Result};

/// Replaces the workspace's `ferry/trust/` with the chain in `dir`;
/// returns the versions it holds.
///
/// # Errors
/// [`Error::Refused`] for an empty folder or a chain of another product;
/// format errors naming the file; [`Error::Io`].
pub fn carry_trust_chain(ws: &Workspace, dir: &Path) -> Result<Vec<u64>> {
    let _lock = ws.lock()?;
    let state = ws.load_state()?.ok_or_else(|| {
        refused(
            &ws.root.join(STATE_FILE).display().to_string(),
            "missing: run `ferry sync` into this workspace first",
        )
    })?;
    let candidates = trust::read_dir(dir)?;
    if candidates.is_empty() {
        return Err(refused(
            &dir.display().to_string(),
            "no trust-chain version (N.json) in this folder",
        ));
    }
    let dest = ws.root.join(trust::BUNDLE_DIR);
    match std::fs::remove_dir_all(&dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&dest, "remove", e)),
    }
    let mut versions = Vec::new();
    for c in candidates {
        let doc = TrustDoc::parse(&c.bytes, &c.name)?;
        if doc.product != state.product {
            return Err(refused(
                &c.name,
                &format!(
                    "a trust chain for product \"{}\"; the workspace is for \"{}\"",
                    doc.product, state.product
                ),
            ));
        }
        fsutil::write_atomic_creating(&dest.join(trust::doc_name(c.version)), &c.bytes)?;
        for s in &c.signatures {
            let name = Path::new(&s.name)
                .file_name()
                .ok_or_else(|| refused(&s.name, "no file name"))?;
            fsutil::write_atomic_creating(&dest.join(name), &s.bytes)?;
        }
        if let Some(r) = &c.sigstore_root {
            let rel = format!("sigstore/{}.trusted_root.json", c.version);
            fsutil::write_atomic_creating(&dest.join(rel), r)?;
        }
        versions.push(c.version);
    }
    Ok(versions)
}
