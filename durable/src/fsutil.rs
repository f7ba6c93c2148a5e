//! Durable file operations (SPEC §5 rule 2; ATTACKS D1–D4): write to a
//! unique temporary name in the same directory, `fsync` the file, rename,
//! `fsync` the directory. Close and sync errors are never ignored, and a
//! failed sync is never retried as if the data were safe (D2).
//!
//! Modes (SPEC §3.7): what these functions create is meant to be served
//! or read by other users (a stock web server running as its own user), so
//! files are 0644 and folders 0755 whatever the process's umask; private
//! folders (`.ferry/`) are set to 0700 by their creator with
//! [`set_private_dir`]. Secret keys are never written through here.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Syncs a directory so a rename or create inside it is durable.
///
/// # Errors
/// [`Error::Io`].
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "sync directory", e))
}

/// Makes everything written on the filesystem that holds `path` durable
/// at once (`syncfs(2)`): data, inodes and directory entries. The cost of
/// durability paid once per transaction instead of once per file (issue
/// 17): the mirror writes every staged file, then calls this before it
/// arms its journal, and again after moving them into place before it
/// publishes the index that names them.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn sync_filesystem(path: &Path) -> Result<()> {
    let f = File::open(path).map_err(|e| Error::io(path, "open to sync its filesystem", e))?;
    rustix::fs::syncfs(&f).map_err(|e| Error::io(path, "sync the filesystem", e.into()))
}

/// Mode of every file ferry publishes (SPEC §3.7): world-readable.
pub const FILE_MODE: u32 = 0o644;
/// Mode of every folder ferry publishes (SPEC §3.7).
pub const DIR_MODE: u32 = 0o755;
/// Mode of ferry's private folders (`.ferry/`).
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// The parent folder of `path`, `.` for a plain relative name (whose
/// `parent()` is the empty path, which no system call accepts).
#[must_use]
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Sets the mode of an open file to [`FILE_MODE`], whatever the umask.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn set_public_file(file: &File, path: &Path) -> Result<()> {
    file.set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(|e| Error::io(path, "set mode 0644", e))
}

/// Sets a private folder (`.ferry/`) to [`PRIVATE_DIR_MODE`].
///
/// # Errors
/// [`Error::Io`] naming `dir`.
pub fn set_private_dir(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, Permissions::from_mode(PRIVATE_DIR_MODE))
        .map_err(|e| Error::io(dir, "set mode 0700", e))
}

/// Sets a served folder (the mirror root) to [`DIR_MODE`].
///
/// # Errors
/// [`Error::Io`] naming `dir`.
pub fn set_public_dir(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        .map_err(|e| Error::io(dir, "set mode 0755", e))
}

/// Creates a new file (never over an existing one) with [`FILE_MODE`],
/// for writing.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn create_new_public(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, "create", e))?;
    set_public_file(&f, path)?;
    Ok(f)
}

/// Creates `dir` and its missing parents (each [`DIR_MODE`], whatever the
/// umask), syncing each parent whose entries changed.
///
/// # Errors
/// [`Error::Io`].
pub fn create_dir_all_durable(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(Error::io(dir, "create directory", e)),
    }
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        .map_err(|e| Error::io(dir, "set mode 0755", e))?;
    sync_dir(parent_dir(dir))
}

/// Writes `bytes` to `path` atomically and durably: temp file in the same
/// directory (created exclusively), `fsync`, rename, `fsync` of the directory.
///
/// # Errors
/// [`Error::Io`]; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".ferry-tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, "create temporary file", e))?;
    // tempfile creates 0600: what ferry publishes must be readable (§3.7).
    set_public_file(tmp.as_file(), tmp.path())?;
    tmp.write_all(bytes)
        .map_err(|e| Error::io(tmp.path(), "write", e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), "sync", e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "rename into place", e.error))?;
    sync_dir(dir)
}

/// [`write_atomic`] into a folder that may not exist yet: the folder is
/// created durably first.
///
/// # Errors
/// [`Error::Io`].
pub fn write_atomic_creating(path: &Path, bytes: &[u8]) -> Result<()> {
    create_dir_all_durable(parent_dir(path))?;
    write_atomic(path, bytes)
}

/// Creates a new file (never over an existing one), writes, syncs.
///
/// # Errors
/// [`Error::Io`].
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = create_new_public(path)?;
    f.write_all(bytes)
        .map_err(|e| Error::io(path, "write", e))?;
    f.sync_all().map_err(|e| Error::io(path, "sync", e))
}

/// Writes a document and, when given, its detached signature
/// `<path>.minisig`, each atomically; without a signature, a `.minisig`
/// left beside an earlier version is removed first, so a signature never
/// sits beside bytes it does not cover (issue 10: a receipt rewritten
/// without `--key` kept the old, now failing, signature).
///
/// # Errors
/// [`Error::Io`].
pub fn write_signed(path: &Path, bytes: &[u8], signature: Option<&str>) -> Result<()> {
    let mut sig_path = path.as_os_str().to_owned();
    sig_path.push(".minisig");
    let sig_path = std::path::PathBuf::from(sig_path);
    match signature {
        Some(sig) => {
            write_atomic(path, bytes)?;
            write_atomic(&sig_path, sig.as_bytes())
        }
        None => {
            match fs::remove_file(&sig_path) {
                Ok(()) => sync_dir(parent_dir(&sig_path))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&sig_path, "remove the stale signature", e)),
            }
            write_atomic(path, bytes)
        }
    }
}

/// Whether `path` is a regular file, not following symlinks.
#[must_use]
pub fn is_regular_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}
