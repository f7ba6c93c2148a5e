//! A strict, one-pass ustar/PAX reader for bundles (SPEC §3.6).
//!
//! It accepts exactly what `ferry pack` writes — POSIX ustar headers
//! (`ustar\0` `00`), regular files (`0`, `\0`), directories (`5`), and local
//! PAX headers (`x`) carrying only `path`, `size` or `mtime` — and refuses
//! every other construct by name instead of interpreting it: links,
//! devices, FIFOs, contiguous files, sparse files (`S`, `GNU.sparse.*`),
//! GNU long names (`L`, `K`), GNU multi-volume (`M`, `V`), global PAX (`g`),
//! unknown typeflags, base-256 sizes, a PAX `size` that disagrees with the
//! ustar size, malformed or duplicate PAX records, bad header checksums,
//! non-zero padding, a missing end of archive, and any non-zero byte after
//! it (ATTACKS B13–B17, B20, B21). It never allocates from a declared size:
//! data is streamed in fixed buffers, and only the PAX header (at most
//! [`MAX_PAX_BYTES`]) is held whole.

use std::io::Read;

use super::MAX_PAX_BYTES;
use super::checker::{Checker, Sink, io_err};
use crate::error::{Error, Result};

mod pax;
use pax::{Pax, parse_pax};

const BLOCK: usize = 512;
/// Zero padding accepted after the two end-of-archive blocks (tar writers
/// pad to their record size, 10 KiB for GNU tar).
const MAX_TRAILING_ZEROS: u64 = 1024 * 1024;
/// The largest size the 11 octal digits of a ustar size field hold.
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;

/// Reads a whole tar stream, driving `checker` entry by entry, and checks
/// that nothing but zeros follows the end of the archive. Returns the
/// reader, read to its end.
///
/// # Errors
/// The first rule broken, naming the entry.
pub fn read_tar<R: Read>(
    mut r: R,
    what: &str,
    checker: &mut Checker<'_>,
    sink: &mut dyn Sink,
) -> Result<R> {
    let mut block = [0u8; BLOCK];
    let mut pax: Option<Pax> = None;
    let mut offset: u64 = 0;
    loop {
        if checker.is_done() {
            return Ok(r);
        }
        if !read_block(&mut r, &mut block, what)? {
            return Err(Error::bundle(
                what,
                "the archive ends without its end-of-archive blocks (truncated copy)",
            ));
        }
        let at = offset;
        offset += BLOCK as u64;
        if block.iter().all(|&b| b == 0) {
            end_of_archive(&mut r, at, pax.is_some(), what)?;
            return Ok(r);
        }
        let h = Header::parse(&block, at, what)?;
        match h.typeflag {
            b'x' => {
                pax = Some(read_pax_header(&mut r, &h, pax.is_some(), what)?);
                offset += padded(h.size);
            }
            b'0' | 0 | b'5' => {
                let p = pax.take().unwrap_or_default();
                let name = entry_name(&h, p.path, what)?;
                let size = entry_size(&h, p.size, &name)?;
                if h.typeflag == b'5' {
                    checker.directory(directory_name(&name, size)?)?;
                } else {
                    read_file_entry(&mut r, &name, size, checker, sink)?;
                    offset += padded(size);
                }
            }
            other => return Err(refuse_type(&h, other, pax.is_some(), what)),
        }
    }
}

/// After the first zero block: a second one, then nothing but zeros.
fn end_of_archive<R: Read>(r: &mut R, at: u64, pax_pending: bool, what: &str) -> Result<()> {
    if pax_pending {
        return Err(Error::bundle(
            what,
            "a PAX header is followed by the end of the archive (refused)",
        ));
    }
    let mut block = [0u8; BLOCK];
    if !read_block(r, &mut block, what)? || block.iter().any(|&b| b != 0) {
        return Err(Error::bundle(
            what,
            format!(
                "at byte {at}: the end-of-archive marker is not two zero blocks (truncated or altered)"
            ),
        ));
    }
    check_trailing(r, what)
}

/// A local PAX header (`x`): bounded, read whole with its padding, parsed.
fn read_pax_header<R: Read>(r: &mut R, h: &Header, pax_pending: bool, what: &str) -> Result<Pax> {
    if pax_pending {
        return Err(Error::bundle(
            h.describe(what),
            "two PAX headers in a row (refused)",
        ));
    }
    if h.size > MAX_PAX_BYTES {
        return Err(Error::bundle(
            h.describe(what),
            format!("PAX header larger than {MAX_PAX_BYTES} bytes (refused)"),
        ));
    }
    let mut data = Vec::new();
    (&mut *r)
        .take(h.size)
        .read_to_end(&mut data)
        .map_err(|e| io_err(e, what))?;
    if data.len() as u64 != h.size {
        return Err(truncated(what));
    }
    skip_padding(r, h.size, &h.describe(what))?;
    parse_pax(&data, &h.describe(what))
}

/// The entry's name: the PAX path when given (the ustar name, if any, must
/// agree with it), else the ustar name.
fn entry_name(h: &Header, pax_path: Option<String>, what: &str) -> Result<String> {
    let ustar_name = h.name.clone();
    Ok(match pax_path {
        Some(path) => {
            if !ustar_name.is_empty()
                && ustar_name.trim_end_matches('/') != path.trim_end_matches('/')
            {
                return Err(Error::bundle(
                    h.describe(what),
                    "the PAX path and the ustar name disagree (refused: two names for one entry)",
                ));
            }
            path
        }
        None => ustar_name,
    })
}

/// The entry's size: the ustar size, or a PAX size that agrees with it
/// (or exceeds what the ustar field can hold, which is then saturated).
fn entry_size(h: &Header, pax_size: Option<u64>, name: &str) -> Result<u64> {
    Ok(match pax_size {
        Some(s) if s == h.size => s,
        Some(s) if h.size == USTAR_MAX_SIZE && s > USTAR_MAX_SIZE => s,
        Some(s) => {
            return Err(Error::bundle(
                entry_label(name),
                format!(
                    "PAX size {s} disagrees with the ustar size {} (refused: header desynchronisation)",
                    h.size
                ),
            ));
        }
        None => h.size,
    })
}

/// A directory entry: no data, a name ending with '/' (returned without it).
fn directory_name(name: &str, size: u64) -> Result<&str> {
    if size != 0 {
        return Err(Error::bundle(
            entry_label(name),
            "a directory entry with data (refused)",
        ));
    }
    name.strip_suffix('/').ok_or_else(|| {
        Error::bundle(
            entry_label(name),
            "a directory name must end with '/' (refused)",
        )
    })
}

/// A regular file: its data through the checker, then its padding (unless
/// the checker is done and the caller stops reading).
fn read_file_entry<R: Read>(
    r: &mut R,
    name: &str,
    size: u64,
    checker: &mut Checker<'_>,
    sink: &mut dyn Sink,
) -> Result<()> {
    let mut data = (&mut *r).take(size);
    checker.file(name, size, &mut data, sink)?;
    if checker.is_done() {
        return Ok(());
    }
    // A checker that did not consume everything (cannot happen for
    // accepted entries) must not desync us.
    if data.limit() != 0 {
        return Err(Error::bundle(entry_label(name), "not fully read"));
    }
    skip_padding(r, size, &entry_label(name))
}

/// Why an entry of any other type is refused.
fn refuse_type(h: &Header, typeflag: u8, pax_pending: bool, what: &str) -> Error {
    if pax_pending {
        return Error::bundle(
            h.describe(what),
            "a PAX header not followed by a regular file or directory (refused)",
        );
    }
    Error::bundle(h.describe(what), type_reason(typeflag))
}

/// How an entry is named in errors.
fn entry_label(name: &str) -> String {
    format!("entry \"{}\"", esc(name))
}

fn type_reason(t: u8) -> String {
    let what = match t {
        b'1' => "a hard link",
        b'2' => "a symbolic link",
        b'3' => "a character device",
        b'4' => "a block device",
        b'6' => "a FIFO",
        b'7' => "a contiguous file",
        b'g' => "a global PAX header",
        b'L' | b'K' => "a GNU long-name header",
        b'S' => "a GNU sparse file",
        b'M' => "a GNU multi-volume continuation",
        b'V' => "a GNU volume header",
        _ => "an unknown entry type",
    };
    format!(
        "{what} (typeflag {}): only regular files and directories are allowed in a bundle (refused)",
        if t.is_ascii_graphic() {
            format!("'{}'", t as char)
        } else {
            format!("0x{t:02x}")
        }
    )
}

struct Header {
    typeflag: u8,
    name: String,
    size: u64,
    at: u64,
}

impl Header {
    fn parse(b: &[u8; BLOCK], at: u64, what: &str) -> Result<Self> {
        let here = format!("{what}: header at byte {at}");
        let stored = parse_octal(&b[148..156])
            .ok_or_else(|| Error::bundle(&here, "malformed header checksum"))?;
        let sum: u64 = b
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(x)
                }
            })
            .sum();
        if stored != sum {
            return Err(Error::bundle(
                &here,
                "header checksum mismatch: the copy is damaged or this is not a tar archive",
            ));
        }
        if &b[257..263] != b"ustar\0" || &b[263..265] != b"00" {
            return Err(Error::bundle(
                &here,
                "not a POSIX ustar header (GNU or old-style tar headers are not accepted in bundles)",
            ));
        }
        let typeflag = b[156];
        let name_f = field_str(&b[0..100]).ok_or_else(|| {
            Error::bundle(&here, "entry name is not NUL-terminated UTF-8 (refused)")
        })?;
        let prefix = field_str(&b[345..500]).ok_or_else(|| {
            Error::bundle(
                &here,
                "entry name prefix is not NUL-terminated UTF-8 (refused)",
            )
        })?;
        let name = if prefix.is_empty() {
            name_f.to_string()
        } else {
            format!("{prefix}/{name_f}")
        };
        if b[124] & 0x80 != 0 {
            return Err(Error::bundle(
                format!("{here} (\"{}\")", esc(&name)),
                "binary (base-256) size field (refused; bundles use PAX for large sizes)",
            ));
        }
        let size = parse_octal(&b[124..136]).ok_or_else(|| {
            Error::bundle(
                format!("{here} (\"{}\")", esc(&name)),
                "malformed size field",
            )
        })?;
        let link = &b[157..257];
        if link.iter().any(|&x| x != 0) && matches!(typeflag, b'0' | 0 | b'5' | b'x') {
            return Err(Error::bundle(
                format!("{here} (\"{}\")", esc(&name)),
                "a link name on a file or directory entry (refused)",
            ));
        }
        Ok(Header {
            typeflag,
            name,
            size,
            at,
        })
    }

    fn describe(&self, what: &str) -> String {
        if self.name.is_empty() {
            format!("{what}: entry at byte {}", self.at)
        } else {
            format!("entry \"{}\"", esc(&self.name))
        }
    }
}

fn esc(s: &str) -> String {
    ferry_manifests::error::escape_untrusted(s)
}

/// A NUL-terminated (or full) field: UTF-8 before the NUL, only NULs after
/// it (ATTACKS B20: no second name hidden behind a NUL).
fn field_str(f: &[u8]) -> Option<&str> {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    if f[end..].iter().any(|&b| b != 0) {
        return None;
    }
    std::str::from_utf8(&f[..end]).ok()
}

/// An octal numeric field: optional leading spaces, octal digits,
/// terminated by NUL or space (and only NULs or spaces after).
fn parse_octal(f: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < f.len() && f[i] == b' ' {
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    while i < f.len() && (b'0'..=b'7').contains(&f[i]) {
        v = v.checked_mul(8)?.checked_add(u64::from(f[i] - b'0'))?;
        i += 1;
    }
    if i == start {
        return None;
    }
    if f[i..].iter().any(|&b| b != 0 && b != b' ') {
        return None;
    }
    Some(v)
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64) * BLOCK as u64
}

fn truncated(what: &str) -> Error {
    Error::bundle(what, "truncated in the middle of an entry (copy it again)")
}

fn read_block<R: Read>(r: &mut R, b: &mut [u8; BLOCK], what: &str) -> Result<bool> {
    let mut got = 0;
    while got < BLOCK {
        match r.read(&mut b[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e, what)),
        }
    }
    if got == 0 {
        return Ok(false);
    }
    if got < BLOCK {
        return Err(truncated(what));
    }
    Ok(true)
}

fn skip_padding<R: Read>(r: &mut R, size: u64, what: &str) -> Result<()> {
    let pad = usize::try_from(padded(size) - size).unwrap_or(0);
    if pad == 0 {
        return Ok(());
    }
    let mut b = [0u8; BLOCK];
    r.read_exact(&mut b[..pad]).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            truncated(what)
        } else {
            io_err(e, what)
        }
    })?;
    if b[..pad].iter().any(|&x| x != 0) {
        return Err(Error::bundle(
            what,
            "non-zero bytes in the padding after the entry's data (refused: hidden data)",
        ));
    }
    Ok(())
}

fn check_trailing<R: Read>(r: &mut R, what: &str) -> Result<()> {
    let mut b = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match r.read(&mut b) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e, what)),
        };
        total += n as u64;
        if b[..n].iter().any(|&x| x != 0) {
            return Err(Error::bundle(
                what,
                "data after the end of the archive (refused: hidden or concatenated content)",
            ));
        }
        if total > MAX_TRAILING_ZEROS {
            return Err(Error::bundle(
                what,
                format!(
                    "more than {MAX_TRAILING_ZEROS} bytes after the end of the archive (refused)"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields() {
        assert_eq!(parse_octal(b"00000000012\0"), Some(10));
        assert_eq!(parse_octal(b"     12 \0\0\0\0"), Some(10));
        assert_eq!(parse_octal(b"\0\0\0"), None);
        assert_eq!(parse_octal(b"12x\0"), None);
        assert_eq!(parse_octal(b"12\0 1"), None);
    }

    #[test]
    fn names_with_hidden_second_part() {
        assert_eq!(field_str(b"abc\0\0\0"), Some("abc"));
        assert_eq!(field_str(b"abc\0evil"), None);
    }
}
