//! Paths inside bundles and mirrors (SPEC §3.1).
//!
//! A [`BundlePath`] is relative, `/`-separated, each component matches
//! `[A-Za-z0-9._+-]{1,255}` and is not `.` or `..`, and the whole is at most
//! 1024 bytes. The constructor is the only way to get one, so every value of
//! the type has passed the rule (STYLE: types that carry their validation).
//! The allowlist also excludes, by construction, every Windows trick of
//! ATTACKS B3 (`\`, `:`, drive letters, UNC) and every non-ASCII name (B19,
//! B20). Reserved device names and trailing dots are refused on top, so a
//! bundle accepted here is also safe on a Windows mirror.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result, escape_untrusted};

/// Longest path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest component accepted, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;

/// A validated relative path inside a bundle or mirror.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BundlePath(String);

impl BundlePath {
    /// Validates `s` against SPEC §3.1.
    ///
    /// # Errors
    /// [`Error::UnsafePath`] naming the rule that failed.
    pub fn new(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::UnsafePath {
            path: escape_untrusted(s),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(bad("empty path"));
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(bad("longer than 1024 bytes"));
        }
        if s.starts_with('/') {
            return Err(bad("absolute path"));
        }
        for component in s.split('/') {
            check_component(component).map_err(|reason| bad(&reason))?;
        }
        Ok(BundlePath(s.to_string()))
    }

    /// Builds a path from components, each checked.
    ///
    /// # Errors
    /// [`Error::UnsafePath`] if a component or the whole breaks SPEC §3.1.
    pub fn from_components<I, S>(components: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined = components
            .into_iter()
            .map(|c| c.as_ref().to_string())
            .collect::<Vec<_>>()
            .join("/");
        Self::new(&joined)
    }

    /// The path as a `/`-separated string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component.
    #[must_use]
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The parent path, if this path has more than one component.
    #[must_use]
    pub fn parent(&self) -> Option<BundlePath> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| BundlePath(parent.to_string()))
    }

    /// All proper ancestors, shortest first (`a`, `a/b` for `a/b/c`).
    #[must_use]
    pub fn ancestors(&self) -> Vec<BundlePath> {
        let mut out = Vec::new();
        let mut end = 0;
        while let Some(pos) = self.0[end..].find('/') {
            end += pos;
            out.push(BundlePath(self.0[..end].to_string()));
            end += 1;
        }
        out
    }

    /// Joins a validated component onto this path.
    ///
    /// # Errors
    /// [`Error::UnsafePath`] if the result breaks SPEC §3.1.
    pub fn join(&self, component: &str) -> Result<BundlePath> {
        BundlePath::new(&format!("{}/{component}", self.0))
    }

    /// Whether this path starts with the directory `prefix` (component-wise).
    #[must_use]
    pub fn starts_with_dir(&self, prefix: &str) -> bool {
        self.0
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// This path below a filesystem root. The path is already known to hold
    /// no `..`, no absolute part and no separator other than `/`, so the join
    /// cannot leave `root` lexically; callers that write must still refuse
    /// symlinks on the way (ATTACKS B4, B7).
    #[must_use]
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        for c in self.components() {
            p.push(c);
        }
        p
    }

    /// The key under which two paths that differ only in letter case collide.
    #[must_use]
    pub fn case_key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

fn check_component(c: &str) -> std::result::Result<(), String> {
    if c.is_empty() {
        return Err("empty component (leading, trailing or doubled '/')".into());
    }
    if c == "." || c == ".." {
        return Err(format!("component \"{c}\" is not allowed"));
    }
    if c.len() > MAX_COMPONENT_BYTES {
        return Err("component longer than 255 bytes".into());
    }
    if let Some(bad) = c
        .chars()
        .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '+' | '-')))
    {
        return Err(format!(
            "character {} is not allowed (only A-Z a-z 0-9 . _ + -)",
            bad.escape_default()
        ));
    }
    // Windows would silently strip a trailing dot: refuse it so a bundle
    // accepted on Linux stays unambiguous on a Windows mirror (ATTACKS B3).
    if c.ends_with('.') {
        return Err("component ends with '.'".into());
    }
    let stem = c.split('.').next().unwrap_or(c).to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        return Err(format!("\"{c}\" is a reserved device name on Windows"));
    }
    Ok(())
}

impl fmt::Display for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::str::FromStr for BundlePath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        BundlePath::new(s)
    }
}

impl Serialize for BundlePath {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BundlePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BundlePath::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks a set of paths for exact duplicates and case-only conflicts
/// (SPEC §3.1, ATTACKS B8, B19), and for a path that is also used as a
/// directory of another (`a` and `a/b`).
///
/// # Errors
/// [`Error::UnsafePath`] naming both paths.
pub fn check_conflicts<'a, I>(paths: I) -> Result<()>
where
    I: IntoIterator<Item = &'a BundlePath>,
{
    // Each path's case key once; the map borrows them.
    let all: Vec<(String, &BundlePath)> = paths.into_iter().map(|p| (p.case_key(), p)).collect();
    let mut seen: HashMap<&str, &BundlePath> = HashMap::with_capacity(all.len());
    for (key, p) in &all {
        if let Some(prev) = seen.insert(key, p) {
            let reason = if prev == *p {
                "listed twice".to_string()
            } else {
                format!("differs from \"{prev}\" only in letter case")
            };
            return Err(Error::UnsafePath {
                path: p.to_string(),
                reason,
            });
        }
    }
    // Each folder once (most files share theirs), looked up by slices of
    // the key rather than a new string an ancestor (issue 17).
    let mut folders: HashSet<&str> = HashSet::new();
    for (key, p) in &all {
        for (slash, _) in key.match_indices('/') {
            let folder = &key[..slash];
            if !folders.insert(folder) {
                continue;
            }
            if let Some(file) = seen.get(folder) {
                return Err(Error::UnsafePath {
                    path: p.to_string(),
                    reason: format!("its parent \"{file}\" is also a file"),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for ok in [
            "releases/3.2.1/no-training/novantra_3.2.1_amd64.deb",
            "ferry/SHA256SUMS",
            "a",
            "a+b/c-d/e_f.g",
            ".hidden",
        ] {
            BundlePath::new(ok).unwrap();
        }
    }

    #[test]
    fn refuses_each_rule_of_3_1() {
        let long_component = "a".repeat(256);
        let long_path = ["abc"; 300].join("/");
        let cases: &[(&str, &str)] = &[
            ("", "empty path"),
            ("/etc/passwd", "absolute"),
            ("a//b", "empty component"),
            ("a/", "empty component"),
            ("./a", "\".\""),
            ("a/../b", "\"..\""),
            ("..", "\"..\""),
            ("a\\b", "not allowed"),
            ("C:evil", "not allowed"),
            ("caf\u{e9}", "not allowed"),
            ("a b", "not allowed"),
            ("good.txt\0.exe", "not allowed"),
            ("x/CON", "reserved"),
            ("com1.txt", "reserved"),
            ("evil.", "ends with"),
            (&long_component, "255"),
            (&long_path, "1024"),
        ];
        for (input, reason) in cases {
            let err = BundlePath::new(input).unwrap_err().to_string();
            assert!(err.contains(reason), "{input:?}: {err}");
        }
    }

    #[test]
    fn case_conflicts_and_duplicates_are_refused() {
        let a = BundlePath::new("releases/README").unwrap();
        let b = BundlePath::new("releases/readme").unwrap();
        let err = check_conflicts([&a, &b]).unwrap_err().to_string();
        assert!(err.contains("letter case"), "{err}");
        let err = check_conflicts([&a, &a]).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
        let dir = BundlePath::new("releases").unwrap();
        let err = check_conflicts([&a, &dir]).unwrap_err().to_string();
        assert!(err.contains("also a file"), "{err}");
    }

    #[test]
    fn ancestors_and_parent() {
        let p = BundlePath::new("a/b/c").unwrap();
        let anc: Vec<_> = p.ancestors().iter().map(ToString::to_string).collect();
        assert_eq!(anc, ["a", "a/b"]);
        assert_eq!(p.parent().unwrap().as_str(), "a/b");
        assert_eq!(p.file_name(), "c");
        assert!(p.starts_with_dir("a/b"));
        assert!(!p.starts_with_dir("a/"));
    }
}
