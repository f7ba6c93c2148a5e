//! `ferry-verify file`'s command-line inputs: `--digest ALG:HEX` and a
//! `--pubkey` that may be a PEM key file.

use std::path::Path;

use anyhow::Result;
use ferry_cli::UsageError;
use ferry_manifests::minisig::read_small_bytes;

use crate::file::MAX_SMALL_FILE;

pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// A digest given on the command line: SHA-256 or SHA-512.
pub(crate) type Digests = (Option<[u8; 32]>, Option<[u8; 64]>);

/// Parses `sha256:HEX` / `sha512:HEX` (lowercase hex, exact length).
pub(crate) fn parse_digest(s: &str) -> Result<Digests> {
    let (alg, hex_part) = s
        .split_once(':')
        .ok_or_else(|| usage(format!("--digest {s:?}: expected sha256:HEX or sha512:HEX")))?;
    let lower = hex_part
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match alg {
        "sha256" if hex_part.len() == 64 && lower => {
            let mut d = [0u8; 32];
            hex::decode_to_slice(hex_part, &mut d).map_err(|e| usage(e.to_string()))?;
            Ok((Some(d), None))
        }
        "sha512" if hex_part.len() == 128 && lower => {
            let mut d = [0u8; 64];
            hex::decode_to_slice(hex_part, &mut d).map_err(|e| usage(e.to_string()))?;
            Ok((None, Some(d)))
        }
        _ => Err(usage(format!(
            "--digest {s:?}: expected sha256: and 64, or sha512: and 128, lowercase hex digits"
        ))),
    }
}

/// Whether a --pubkey value is a PEM public key file (for Sigstore).
pub(crate) fn pem_key(arg: &str) -> Result<Option<String>> {
    let path = Path::new(arg);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = read_small_bytes(path, MAX_SMALL_FILE)?;
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN PUBLIC KEY-----") => Ok(Some(text.to_string())),
        _ => Ok(None),
    }
}
