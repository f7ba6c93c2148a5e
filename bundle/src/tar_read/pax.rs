//! The local PAX extended headers (`x`) of the tar reader: records parsed
//! strictly (`LEN key=value\n`, canonical lengths, no key twice); only
//! `path`, `size` and the times are accepted, every other key is refused
//! by name (sparse files among them). The caller bounds the header's size.

use super::esc;
use crate::error::{Error, Result};

/// What a PAX header says of the entry after it.
#[derive(Default)]
pub(super) struct Pax {
    pub(super) path: Option<String>,
    pub(super) size: Option<u64>,
}

pub(super) fn parse_pax(data: &[u8], what: &str) -> Result<Pax> {
    let mut pax = Pax::default();
    let mut seen: Vec<String> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (key, value, len) = pax_record(rest, what)?;
        if seen.iter().any(|k| k == key) {
            return Err(Error::bundle(
                what,
                format!("PAX key \"{}\" given twice (refused)", esc(key)),
            ));
        }
        seen.push(key.to_string());
        apply_pax_record(&mut pax, key, value, what)?;
        rest = &rest[len..];
    }
    Ok(pax)
}

fn malformed_pax(what: &str, m: &str) -> Error {
    Error::bundle(what, format!("malformed PAX header: {m} (refused)"))
}

/// A decimal number as PAX writes it: digits only, no leading zero.
fn canonical_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && !(s.len() > 1 && s.starts_with('0'))
}

/// The first record of `rest` ("LEN key=value\n"): its key, its value and
/// its length.
fn pax_record<'a>(rest: &'a [u8], what: &str) -> Result<(&'a str, &'a str, usize)> {
    let bad = |m: &str| malformed_pax(what, m);
    let sp = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or_else(|| bad("record without a length"))?;
    let len_s = std::str::from_utf8(&rest[..sp]).map_err(|_| bad("bad length"))?;
    if !canonical_decimal(len_s) {
        return Err(bad("bad record length"));
    }
    let len: usize = len_s.parse().map_err(|_| bad("bad record length"))?;
    if len <= sp + 1 || len > rest.len() {
        return Err(bad("record length does not match its data"));
    }
    let rec = &rest[sp + 1..len];
    let Some((&b'\n', body)) = rec.split_last() else {
        return Err(bad("record not terminated by a newline"));
    };
    let body = std::str::from_utf8(body).map_err(|_| bad("record is not UTF-8"))?;
    let (key, value) = body
        .split_once('=')
        .ok_or_else(|| bad("record without '='"))?;
    if key.is_empty() {
        return Err(bad("empty key"));
    }
    Ok((key, value, len))
}

/// One record's meaning: `path` and `size` are kept, times are checked
/// and dropped, every other key is refused.
fn apply_pax_record(pax: &mut Pax, key: &str, value: &str, what: &str) -> Result<()> {
    let bad = |m: &str| malformed_pax(what, m);
    match key {
        "path" => {
            if value.contains('\0') {
                return Err(bad("NUL in path"));
            }
            pax.path = Some(value.to_string());
        }
        "size" => {
            if !canonical_decimal(value) {
                return Err(bad("size is not a decimal number"));
            }
            pax.size = Some(value.parse().map_err(|_| bad("size out of range"))?);
        }
        // GNU tar's PAX (`--format=posix`) writes atime and ctime too:
        // accepted under the same rule as mtime (a repacked `dir`
        // bundle verifies, SPEC §3.6).
        "mtime" | "atime" | "ctime" => {
            if !is_pax_time(value) {
                return Err(bad(&format!("{key} is not a time")));
            }
        }
        k if k.starts_with("GNU.sparse.") => {
            return Err(Error::bundle(
                what,
                format!(
                    "a sparse file (PAX key \"{}\"): only regular files and directories are allowed (refused)",
                    esc(k)
                ),
            ));
        }
        k => {
            return Err(Error::bundle(
                what,
                format!(
                    "PAX key \"{}\" is not accepted in a bundle (only path, size, mtime, atime, ctime)",
                    esc(k)
                ),
            ));
        }
    }
    Ok(())
}

/// A time (seconds, optional sign and fraction), never a place for other
/// bytes.
fn is_pax_time(value: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let v = value.strip_prefix('-').unwrap_or(value);
    let ok = match v.split_once('.') {
        Some((secs, frac)) => digits(secs) && digits(frac),
        None => digits(v),
    };
    ok && value.len() <= 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records() {
        let p = parse_pax(b"13 size=1024\n", "t").unwrap();
        assert_eq!(p.size, Some(1024));
        assert!(parse_pax(b"13 size=1024\n13 size=1024\n", "t").is_err());
        assert!(parse_pax(b"14 size=1024\n", "t").is_err());
        assert!(parse_pax(b"013 size=1024\n", "t").is_err());
        assert!(parse_pax(b"12 size1024\n", "t").is_err());
        assert!(parse_pax(b"25 GNU.sparse.size=1024\n", "t").is_err());
        assert!(parse_pax(b"12 linkpath=x\n", "t").is_err());
        assert!(parse_pax(b"20 mtime=1732147200\n", "t").is_ok());
        assert!(parse_pax(b"14 mtime=evil\n", "t").is_err());
    }
}
