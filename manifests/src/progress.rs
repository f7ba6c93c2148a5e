//! Where long work reports how far it got (issue 16: pack, verify, import,
//! fsck, `index build`, the hand-off's download). Libraries never print
//! (STYLE): they push byte counts to a [`Progress`] sink that the binary
//! renders (indicatif bars on a terminal) or ignores ([`Silent`], the
//! default).

use std::io::Read;
use std::sync::Arc;

/// A progress sink. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// A job starts: what it is (`pack`, `verify`, …) and how many bytes it
    /// will go through (0 when unknown).
    fn start(&self, _what: &str, _total_bytes: u64) {}
    /// `bytes` more bytes were read, written or hashed.
    fn advance(&self, _bytes: u64) {}
    /// The job ended (successfully or not).
    fn finish(&self) {}
}

/// A sink that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

/// A shared handle on a sink: cheap to clone, `Debug`, silent by default,
/// so option structs can carry one.
#[derive(Clone)]
pub struct ProgressHandle(Arc<dyn Progress>);

impl ProgressHandle {
    /// A handle on `sink`.
    pub fn new(sink: Arc<dyn Progress>) -> Self {
        ProgressHandle(sink)
    }

    /// A reader that reports every byte read through it.
    pub fn reader<R: Read>(&self, inner: R) -> Counted<'_, R> {
        Counted {
            inner,
            progress: self,
        }
    }
}

impl Default for ProgressHandle {
    fn default() -> Self {
        ProgressHandle(Arc::new(Silent))
    }
}

impl std::fmt::Debug for ProgressHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHandle")
    }
}

impl std::ops::Deref for ProgressHandle {
    type Target = dyn Progress;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// A reader that reports the bytes read through it to a [`ProgressHandle`].
pub struct Counted<'a, R> {
    inner: R,
    progress: &'a ProgressHandle,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// A size for people: `512 B`, `1.5 KiB`, `2.0 GiB` (exact bytes stay in
/// `--json`).
#[must_use]
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Default)]
    struct Tally(AtomicU64);
    impl Progress for Tally {
        fn advance(&self, bytes: u64) {
            self.0.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    #[test]
    fn counted_reader_reports_every_byte() {
        let tally = Arc::new(Tally::default());
        let h = ProgressHandle::new(tally.clone());
        let mut out = Vec::new();
        h.reader(&b"0123456789"[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 10);
        assert_eq!(tally.0.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(2_147_483_985), "2.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
