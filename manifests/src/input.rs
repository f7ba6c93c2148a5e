//! Opening input files without ever blocking (issue 10, "Inputs that
//! hang"): a FIFO where ferry expects a regular file (a `volumes.json` on
//! a stick, a policy, a license, a mirror folder's `index.json`) made a
//! plain `open` wait forever for a writer — once while holding the
//! mirror's lock. Every input is opened here: with `O_NONBLOCK`, so that
//! opening a FIFO or a device returns at once, then checked to be a
//! regular file before a byte is read. (`O_NONBLOCK` has no effect on
//! reads of regular files.)

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// `O_NONBLOCK` on Linux (x86-64 and aarch64 alike).
const O_NONBLOCK: i32 = 0o4000;

/// Opens `path` for reading, refusing (without blocking) anything that is
/// not a regular file. The error says what it is instead.
///
/// # Errors
/// The open error, or `InvalidInput` naming the kind of file found.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)?;
    let ft = file.metadata()?.file_type();
    if ft.is_file() {
        return Ok(file);
    }
    let kind = if ft.is_dir() {
        "a folder"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("is {kind}, not a regular file; refused without reading it"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
        let e = open_regular(&p).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = open_regular(d.path()).unwrap_err();
        assert!(e.to_string().contains("a folder"), "{e}");
        std::fs::write(d.path().join("f"), b"x").unwrap();
        assert!(open_regular(&d.path().join("f")).is_ok());
    }
}
