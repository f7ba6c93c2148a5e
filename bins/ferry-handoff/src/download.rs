//! The hand-off's download with a progress bar (issue 16): a
//! [`MirrorSource`] that reports the bytes of every file it streams. The
//! library streams through it unchanged; small reads (index, signatures)
//! do not show.

use std::io::Read;

use ferry_handoff_core::MirrorSource;
use ferry_manifests::progress::ProgressHandle;

/// `inner`, with a bar for each file opened for streaming.
pub(crate) struct WithProgress<'a> {
    pub(crate) inner: &'a dyn MirrorSource,
    pub(crate) progress: ProgressHandle,
    /// The artifact's size, from the verified index (0 when unknown).
    pub(crate) total: u64,
}

impl MirrorSource for WithProgress<'_> {
    fn location(&self, path: &str) -> String {
        self.inner.location(path)
    }

    fn read_small(&self, path: &str, limit: u64) -> std::io::Result<Vec<u8>> {
        self.inner.read_small(path, limit)
    }

    fn open(&self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let inner = self.inner.open(path)?;
        self.progress.start("download", self.total);
        Ok(Box::new(Reporting {
            inner,
            progress: &self.progress,
        }))
    }
}

/// Reports each read; clears the bar at the end of the file.
struct Reporting<'a> {
    inner: Box<dyn Read + 'a>,
    progress: &'a ProgressHandle,
}

impl Read for Reporting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.progress.finish();
        }
        self.progress.advance(n as u64);
        Ok(n)
    }
}

impl Drop for Reporting<'_> {
    fn drop(&mut self) {
        self.progress.finish();
    }
}
