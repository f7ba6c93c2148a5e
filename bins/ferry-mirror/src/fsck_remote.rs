//! `ferry-mirror fsck --remote URL` (SPEC §3.14): a published mirror
//! checked as hosts read it, over HTTP (the store's website endpoint, a
//! CDN, any web server), by the checks of `ferry_publish::check`.

use std::io::Read;
use std::path::Path;

use anyhow::{Result, bail};
use ferry_cli::{Printer, VerifyError};
use ferry_handoff_core::MirrorSource;
use ferry_manifests::digest::{BUF_SIZE, Sha256Digest, Sha256Hasher};
use ferry_manifests::time::Timestamp;
use ferry_net::client::ClientOptions;
use ferry_net::mirror_client::HttpMirror;
use ferry_publish::check::{TreeReader, check_tree};

use crate::output::Output;

pub(crate) fn run(url: &str, trust: &Path, printer: Printer) -> Result<()> {
    let now = Timestamp::now();
    let loaded = ferry_cli::trust::load_policy(trust, None, now)?;
    let mirror = HttpMirror::new(url, &ClientOptions::default())?;
    // The mirror keys as the published trust chain leaves them (SPEC
    // §3.11), read as hosts read it: a rotated mirror key verifies.
    let chain = ferry_handoff_core::chain::fetch(&mirror, &loaded.policy)?;
    let policy = ferry_manifests::trust::apply(&loaded.policy, chain, now)?.policy;
    let keys = policy.mirror()?.keys.clone();
    let r = check_tree(&Http(&mirror), &keys, None)?;
    printer.json(&Output::FsckRemote {
        ok: r.problems.is_empty(),
        url,
        report: &r,
    });
    for p in &r.problems {
        printer.line(&format!("problem: {p}"));
    }
    printer.line(&format!(
        "{url}: {} file(s), {} bytes re-hashed over HTTP against index sequence {}; {} problem(s)",
        r.files,
        r.bytes,
        r.index_sequence,
        r.problems.len()
    ));
    if !r.problems.is_empty() {
        bail!(VerifyError(format!(
            "{url}: fsck found {} problem(s)",
            r.problems.len()
        )));
    }
    Ok(())
}

/// The HTTP mirror as the checker reads it.
struct Http<'a>(&'a HttpMirror);

impl Http<'_> {
    fn err(&self, rel: &str, action: &'static str, e: std::io::Error) -> ferry_publish::Error {
        ferry_publish::Error::Io {
            path: self.0.location(rel),
            action,
            source: e,
        }
    }
}

impl TreeReader for Http<'_> {
    fn location(&self, rel: &str) -> String {
        self.0.location(rel)
    }

    fn read_small(&self, rel: &str, limit: u64) -> ferry_publish::Result<Option<Vec<u8>>> {
        match self.0.read_small(rel, limit) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(rel, "fetch", e)),
        }
    }

    fn hash(&self, rel: &str, limit: u64) -> ferry_publish::Result<Option<(Sha256Digest, u64)>> {
        let mut body = match self.0.open(rel) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(rel, "fetch", e)),
        };
        let mut h = Sha256Hasher::new();
        let mut buf = vec![0u8; BUF_SIZE];
        let mut n = 0u64;
        loop {
            let got = body.read(&mut buf).map_err(|e| self.err(rel, "read", e))?;
            if got == 0 {
                break;
            }
            h.update(&buf[..got]);
            n += got as u64;
            if n > limit {
                break;
            }
        }
        Ok(Some((h.finish().0, n)))
    }
}
