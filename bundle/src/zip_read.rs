//! The `zip` carrier's strict verification (the writer is `zip_write`).
//!
//! Beyond the zip crate's own parsing, verification checks the framing
//! byte by byte (ATTACKS B8–B12): the archive starts at byte 0 with the
//! first local header; each local header agrees with its central record
//! (name, method, flags, CRC, sizes); entries follow each other with no
//! gap and no overlap; the central directory follows the last entry; the
//! end-of-central-directory record (with zip64 records if any) ends the
//! file, with no comment and no trailing bytes; no duplicate names; no
//! symlinks, encryption or data descriptors; and the bytes actually
//! decompressed are capped at the manifest's size.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use std::sync::Mutex;

use zip::ZipArchive;

use super::checker::{Checker, Done, NullSink, Plan, Sink, io_err};
use crate::error::{Error, Result};

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

fn read_at(f: &mut File, off: u64, buf: &mut [u8], what: &str) -> Result<()> {
    f.seek(SeekFrom::Start(off)).map_err(|e| io_err(e, what))?;
    f.read_exact(buf)
        .map_err(|_| Error::bundle(what, format!("truncated zip structure at byte {off}")))
}

/// Where the central directory must start and end, from the end records.
fn central_directory_bounds(f: &mut File, len: u64, what: &str) -> Result<(u64, u64)> {
    let bad = |m: &str| Error::bundle(what, format!("{m} (refused)"));
    if len < 22 {
        return Err(bad("too short to be a zip archive"));
    }
    let mut eocd = [0u8; 22];
    read_at(f, len - 22, &mut eocd, what)?;
    if u32_at(&eocd, 0) != 0x0605_4b50 {
        return Err(bad(
            "the end-of-central-directory record is not at the end of the file (trailing data or a comment)",
        ));
    }
    if u16_at(&eocd, 20) != 0 {
        return Err(bad("archive comment present"));
    }
    let (mut cd_size, mut cd_off) = (u64::from(u32_at(&eocd, 12)), u64::from(u32_at(&eocd, 16)));
    let mut cd_end = len - 22;
    if cd_size == 0xFFFF_FFFF || cd_off == 0xFFFF_FFFF || u16_at(&eocd, 10) == 0xFFFF {
        if len < 22 + 20 + 56 {
            return Err(bad("zip64 records missing"));
        }
        let mut loc = [0u8; 20];
        read_at(f, len - 42, &mut loc, what)?;
        if u32_at(&loc, 0) != 0x0706_4b50 {
            return Err(bad("zip64 locator missing"));
        }
        let z_off = u64_at(&loc, 8);
        let mut z = [0u8; 56];
        read_at(f, z_off, &mut z, what)?;
        if u32_at(&z, 0) != 0x0606_4b50
            || u64_at(&z, 4)
                .checked_add(12)
                .and_then(|n| z_off.checked_add(n))
                != Some(len - 42)
        {
            return Err(bad(
                "the zip64 end record is not where the locator says, or does not end at it",
            ));
        }
        cd_size = u64_at(&z, 40);
        cd_off = u64_at(&z, 48);
        cd_end = z_off;
    }
    if cd_off.checked_add(cd_size) != Some(cd_end) {
        return Err(bad(
            "bytes between the central directory and its end record",
        ));
    }
    Ok((cd_off, cd_end))
}

/// Extra-field data holding only zip64 size records (header id 1), each
/// whole: anything else is bytes no digest covers.
fn only_zip64_extra(mut x: &[u8]) -> bool {
    while !x.is_empty() {
        if x.len() < 4 || u16_at(x, 0) != 1 {
            return false;
        }
        let n = usize::from(u16_at(x, 2));
        if x.len() < 4 + n {
            return false;
        }
        x = &x[4 + n..];
    }
    true
}

/// Walks the central directory record by record: no entry comment, no
/// extra field but zip64 sizes, and the records fill it exactly (ATTACKS
/// B10: nothing hidden where no digest looks). `ferry pack` writes none.
fn check_central_records(
    f: &mut File,
    cd_off: u64,
    cd_end: u64,
    count: usize,
    what: &str,
) -> Result<()> {
    let mut at = cd_off;
    for i in 0..count {
        let mut h = [0u8; 46];
        read_at(f, at, &mut h, what)?;
        if u32_at(&h, 0) != 0x0201_4b50 {
            return Err(Error::bundle(
                what,
                format!("central record {i} at byte {at} is malformed (refused)"),
            ));
        }
        let (n, m, k) = (
            usize::from(u16_at(&h, 28)),
            usize::from(u16_at(&h, 30)),
            usize::from(u16_at(&h, 32)),
        );
        let mut rest = vec![0u8; n + m];
        read_at(f, at + 46, &mut rest, what)?;
        let here = format!(
            "entry \"{}\"",
            ferry_manifests::error::escape_untrusted(&String::from_utf8_lossy(&rest[..n]))
        );
        if k != 0 {
            return Err(Error::bundle(
                &here,
                "an entry comment (refused: hidden data)",
            ));
        }
        if !only_zip64_extra(&rest[n..]) {
            return Err(Error::bundle(
                &here,
                "an extra field in the central directory other than zip64 sizes (refused: hidden data)",
            ));
        }
        at += 46 + (n + m + k) as u64;
    }
    if at != cd_end {
        return Err(Error::bundle(
            what,
            format!(
                "the central directory's records end at byte {at}, not at {cd_end} (refused: hidden data)"
            ),
        ));
    }
    Ok(())
}

/// Entries at least this large are hashed on two threads (when no sink
/// needs the bytes in order).
const PARALLEL_MIN: u64 = 4 * 1024 * 1024;

/// After an entry's declared bytes: nothing more may decompress, and
/// reading to the end makes the zip crate check the CRC-32 (ATTACKS B12).
fn at_entry_end(e: &mut dyn Read, name: &str) -> Result<()> {
    let mut one = [0u8; 1];
    match e.read(&mut one) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Error::bundle(
            format!("entry \"{name}\""),
            "decompresses to more bytes than declared (refused)",
        )),
        Err(err) => Err(Error::bundle(
            format!("entry \"{name}\""),
            format!("{err} (refused)"),
        )),
    }
}

/// Verifies a zip bundle; with `parallel`, large entries are hashed on
/// two threads (SPEC §6), otherwise in order through `sink`.
///
/// # Errors
/// The first rule broken.
pub fn verify_zip(
    path: &Path,
    checker: &mut Checker<'_>,
    sink: &mut dyn Sink,
    parallel: bool,
) -> Result<()> {
    let what = path.display().to_string();
    let mut raw =
        ferry_manifests::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let len = raw
        .metadata()
        .map_err(|e| Error::io(path, "stat", e))?
        .len();
    let (cd_off, cd_end) = central_directory_bounds(&mut raw, len, &what)?;
    let mut z = open_archive(path, &what)?;
    check_central_records(&mut raw, cd_off, cd_end, z.len(), &what)?;
    let listed = check_framing(&mut z, &mut raw, cd_off, &what)?;
    let Some(deferred) = check_entries(&mut z, listed, checker, sink, parallel, &what)? else {
        return Ok(());
    };
    if deferred.is_empty() {
        return Ok(());
    }
    let mut results = hash_deferred(path, deferred, &what)?;
    results.sort_by_key(|(i, _)| *i);
    for (_, d) in results {
        checker.record(d)?;
    }
    Ok(())
}

fn zip_err(what: &str, e: zip::result::ZipError) -> Error {
    Error::bundle(what, format!("not a valid zip archive: {e} (refused)"))
}

/// The archive through the zip crate: nothing before the first entry, no
/// duplicate names, no overlapping entries.
fn open_archive(path: &Path, what: &str) -> Result<ZipArchive<File>> {
    let file =
        ferry_manifests::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let mut z = ZipArchive::new(file).map_err(|e| zip_err(what, e))?;
    if z.offset() != 0 {
        return Err(Error::bundle(
            what,
            format!(
                "{} bytes before the first entry (prepended data refused)",
                z.offset()
            ),
        ));
    }
    if z.has_duplicate_names() {
        return Err(Error::bundle(
            what,
            "two entries with the same name (duplicate entries refused)",
        ));
    }
    if z.has_overlapping_files().map_err(|e| zip_err(what, e))? {
        return Err(Error::bundle(
            what,
            "entries whose data overlap (refused: zip bomb shape)",
        ));
    }
    Ok(z)
}

/// An entry as listed: name, size, whether it is a directory.
type Listed = (String, u64, bool);

/// What the central directory says of an entry, to compare with its
/// local header.
struct Central {
    name_raw: Vec<u8>,
    method: u16,
    crc: u32,
    csize: u64,
    size: u64,
    is_dir: bool,
    header_start: u64,
}

/// Framing: local headers agree with the central records, back to back
/// from byte 0 to the central directory.
fn check_framing(
    z: &mut ZipArchive<File>,
    raw: &mut File,
    cd_off: u64,
    what: &str,
) -> Result<Vec<Listed>> {
    let mut expect_at = 0u64;
    let mut names = Vec::with_capacity(z.len());
    for i in 0..z.len() {
        let (name, here, c) = central_entry(z, i, what)?;
        let hs = c.header_start;
        if hs != expect_at {
            return Err(Error::bundle(
                &here,
                format!(
                    "local header at byte {hs}, expected {expect_at}: gap, hidden entry or overlap (refused)"
                ),
            ));
        }
        expect_at = check_local_header(raw, &c, &here, what)?;
        names.push((name, c.size, c.is_dir));
    }
    if expect_at != cd_off {
        return Err(Error::bundle(
            what,
            format!(
                "the central directory starts at byte {cd_off}, not right after the last entry ({expect_at}): hidden data refused"
            ),
        ));
    }
    Ok(names)
}

/// Entry `i` of the central directory: a UTF-8 name, not encrypted, not a
/// link or special file, stored or deflated. Returns its name, how errors
/// name it, and its record.
fn central_entry(
    z: &mut ZipArchive<File>,
    i: usize,
    what: &str,
) -> Result<(String, String, Central)> {
    let e = z.by_index_raw(i).map_err(|e| zip_err(what, e))?;
    let name_raw = e.name_raw().to_vec();
    let name = String::from_utf8(name_raw.clone())
        .map_err(|_| Error::bundle(what, format!("entry {i}: name is not UTF-8 (refused)")))?;
    let here = format!(
        "entry \"{}\"",
        ferry_manifests::error::escape_untrusted(&name)
    );
    if e.encrypted() {
        return Err(Error::bundle(&here, "encrypted (refused)"));
    }
    if e.is_symlink() {
        return Err(Error::bundle(
            &here,
            "a symbolic link (refused: no links in a bundle)",
        ));
    }
    if e.unix_mode().is_some_and(|m| {
        let t = m & 0o170_000;
        t != 0 && t != 0o100_000 && t != 0o040_000
    }) {
        return Err(Error::bundle(
            &here,
            "not a regular file or directory (refused)",
        ));
    }
    let method = match e.compression() {
        zip::CompressionMethod::Stored => 0u16,
        zip::CompressionMethod::Deflated => 8u16,
        other => {
            return Err(Error::bundle(
                &here,
                format!("compression {other:?} not accepted (stored or deflate only)"),
            ));
        }
    };
    let c = Central {
        name_raw,
        method,
        crc: e.crc32(),
        csize: e.compressed_size(),
        size: e.size(),
        is_dir: e.is_dir(),
        header_start: e.header_start(),
    };
    Ok((name, here, c))
}

/// The local header at `c.header_start` agrees with the central record
/// (name, method, flags, CRC, sizes) and carries nothing else. Returns
/// where the entry's data ends.
fn check_local_header(raw: &mut File, c: &Central, here: &str, what: &str) -> Result<u64> {
    let hs = c.header_start;
    let mut lh = [0u8; 30];
    read_at(raw, hs, &mut lh, what)?;
    let n_len = u64::from(u16_at(&lh, 26));
    let x_len = u64::from(u16_at(&lh, 28));
    let mut lname = vec![0u8; usize::from(u16_at(&lh, 26))];
    read_at(raw, hs + 30, &mut lname, what)?;
    let flags = u16_at(&lh, 6);
    let mismatch = |f: &str| {
        Error::bundle(
            here,
            format!("local header and central directory disagree on the {f} (refused)"),
        )
    };
    if u32_at(&lh, 0) != 0x0403_4b50 {
        return Err(Error::bundle(
            here,
            "no local header where the central directory points (refused)",
        ));
    }
    if lname != c.name_raw {
        return Err(mismatch("name"));
    }
    if u16_at(&lh, 8) != c.method {
        return Err(mismatch("compression method"));
    }
    if flags & 0x0008 != 0 || flags & 0x0001 != 0 {
        return Err(Error::bundle(
            here,
            "data descriptor or encryption flag set (refused)",
        ));
    }
    if u32_at(&lh, 14) != c.crc {
        return Err(mismatch("CRC-32"));
    }
    let (lc, lu) = (u32_at(&lh, 18), u32_at(&lh, 22));
    if (lc != 0xFFFF_FFFF && u64::from(lc) != c.csize)
        || (lu != 0xFFFF_FFFF && u64::from(lu) != c.size)
    {
        return Err(mismatch("sizes"));
    }
    if c.method == 0 && c.csize != c.size {
        return Err(mismatch("sizes of a stored entry"));
    }
    let mut lextra = vec![0u8; usize::from(u16_at(&lh, 28))];
    read_at(raw, hs + 30 + n_len, &mut lextra, what)?;
    if !only_zip64_extra(&lextra) {
        return Err(Error::bundle(
            here,
            "an extra field in the local header other than zip64 sizes (refused: hidden data)",
        ));
    }
    // Its bytes would be covered by no digest (as in the tar reader).
    if c.is_dir && (c.csize != 0 || c.size != 0) {
        return Err(Error::bundle(
            here,
            "a directory entry with data (refused: hidden data)",
        ));
    }
    Ok(hs + 30 + n_len + x_len + c.csize)
}

/// A large entry checked in order but hashed later: its index, its name,
/// its plan.
type DeferredEntry = (usize, String, Plan);

/// The entries in order through the checker; with `parallel`, large ones
/// are only planned and returned for hashing. `None` when the checker is
/// done (a manifest-only check) and nothing more is to be read.
fn check_entries(
    z: &mut ZipArchive<File>,
    listed: Vec<Listed>,
    checker: &mut Checker<'_>,
    sink: &mut dyn Sink,
    parallel: bool,
    what: &str,
) -> Result<Option<Vec<DeferredEntry>>> {
    let mut deferred: Vec<DeferredEntry> = Vec::new();
    for (i, (name, size, is_dir)) in listed.into_iter().enumerate() {
        if checker.is_done() {
            return Ok(None);
        }
        if is_dir {
            let d = name.strip_suffix('/').unwrap_or(&name);
            checker.directory(d)?;
            continue;
        }
        let mut e = z.by_index(i).map_err(|e| zip_err(what, e))?;
        if parallel && size >= PARALLEL_MIN {
            // Checked now (place, listing, size, signature order), hashed
            // later on two threads.
            if let Some(plan) = checker.plan(&name, size, &mut e)? {
                deferred.push((i, name, plan));
                continue;
            }
        } else {
            checker.file(&name, size, &mut e, sink)?;
        }
        if checker.is_done() {
            return Ok(None);
        }
        at_entry_end(&mut e, &name)?;
    }
    Ok(Some(deferred))
}

/// Hashes the deferred entries on two threads, each with its own handle
/// on the archive; the first error stops both.
fn hash_deferred(
    path: &Path,
    deferred: Vec<DeferredEntry>,
    what: &str,
) -> Result<Vec<(usize, Done)>> {
    let queue = Mutex::new(deferred.into_iter());
    let results = Mutex::new(Vec::new());
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| {
                if let Err(e) = hash_queue(path, what, &queue, &results, &first_err)
                    && let Ok(mut fe) = first_err.lock()
                    && fe.is_none()
                {
                    *fe = Some(e);
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default())
}

/// One worker: takes entries from the queue until it is empty or a worker
/// failed.
fn hash_queue(
    path: &Path,
    what: &str,
    queue: &Mutex<std::vec::IntoIter<DeferredEntry>>,
    results: &Mutex<Vec<(usize, Done)>>,
    first_err: &Mutex<Option<Error>>,
) -> Result<()> {
    let f = ferry_manifests::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let mut z = ZipArchive::new(f).map_err(|e| zip_err(what, e))?;
    loop {
        if first_err.lock().map(|e| e.is_some()).unwrap_or(true) {
            return Ok(());
        }
        let next = queue.lock().ok().and_then(|mut q| q.next());
        let Some((i, name, plan)) = next else {
            return Ok(());
        };
        let mut e = z.by_index(i).map_err(|e| zip_err(what, e))?;
        let done = plan.run(&mut e, &mut NullSink)?;
        at_entry_end(&mut e, &name)?;
        if let Ok(mut r) = results.lock() {
            r.push((i, done));
        }
    }
}
