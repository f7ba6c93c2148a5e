//! Where the network code reports progress. Libraries never print
//! (STYLE): the binary renders these events (indicatif bars, or nothing).

/// A progress sink. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// The whole job: files and bytes to fetch or check.
    fn begin(&self, _files: usize, _bytes: u64) {}
    /// A download starts.
    fn file_start(&self, _path: &str, _size: u64) {}
    /// Bytes of a download arrived (or were found in a partial file).
    fn file_advance(&self, _path: &str, _bytes: u64) {}
    /// A download ended (successfully or not).
    fn file_done(&self, _path: &str) {}
    /// A file was already in the workspace and verified.
    fn file_skipped(&self, _path: &str, _size: u64) {}
    /// A one-line message (retry, ignored signature...).
    fn note(&self, _message: &str) {}
    /// Everything ended.
    fn finish(&self) {}
}

/// A sink that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
