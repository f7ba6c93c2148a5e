//! The carrier formats (`tar`, `tar.gz`, `zip`, `dir`) and the `--split`
//! size, as `ferry pack` takes them and `volumes.json` names them.

use serde::Serialize;

/// The carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Uncompressed ustar/PAX (default; reproducible; one-pass verify).
    Tar,
    /// The same tar, gzip-compressed.
    #[serde(rename = "tar.gz")]
    TarGz,
    /// A zip archive (stored entries, fixed timestamps).
    Zip,
    /// A plain directory tree.
    Dir,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "tar" => Ok(Format::Tar),
            "tar.gz" | "tgz" => Ok(Format::TarGz),
            "zip" => Ok(Format::Zip),
            "dir" => Ok(Format::Dir),
            _ => Err(format!("unknown format \"{s}\" (tar, tar.gz, zip, dir)")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
            Format::Dir => "dir",
        })
    }
}

/// `--split SIZE|fat32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split(pub u64);

impl Split {
    /// FAT32's largest file: 4 GiB − 1 byte.
    pub const FAT32: Split = Split(4 * 1024 * 1024 * 1024 - 1);
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("fat32") {
            return Ok(Split::FAT32);
        }
        let (num, mult) = match s.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => {
                let m: u64 = match c.to_ascii_uppercase() {
                    'K' => 1 << 10,
                    'M' => 1 << 20,
                    'G' => 1 << 30,
                    'T' => 1 << 40,
                    _ => return Err(format!("bad size \"{s}\" (e.g. 100M, 4G, fat32)")),
                };
                (&s[..i], m)
            }
            _ => (s, 1),
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("bad size \"{s}\" (e.g. 100M, 4G, fat32)"))?;
        let v = n
            .checked_mul(mult)
            .ok_or_else(|| format!("size \"{s}\" is too large"))?;
        if v < 1024 {
            return Err(format!("split size \"{s}\" is below 1024 bytes"));
        }
        Ok(Split(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes() {
        assert_eq!("100M".parse::<Split>().unwrap().0, 100 << 20);
        assert_eq!("4G".parse::<Split>().unwrap().0, 4 << 30);
        assert_eq!("fat32".parse::<Split>().unwrap().0, (4 << 30) - 1);
        assert_eq!("2048".parse::<Split>().unwrap().0, 2048);
        assert!("12".parse::<Split>().is_err());
        assert!("1X".parse::<Split>().is_err());
    }
}
