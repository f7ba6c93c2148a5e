//! What a binary was built from (issue 16): the version and the commit,
//! recorded once by this crate's `build.rs` and shared by all four binaries'
//! `--version` (and by anything that records which ferry produced it).

/// The workspace version (`Cargo.toml`), e.g. `0.1.0`.
pub const PKG_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short hash of the commit the binary was built from, with `-dirty`
/// when tracked files had uncommitted changes, or `unknown` when it was
/// built outside a git checkout (from a source tarball).
pub const COMMIT: &str = env!("FERRY_GIT_COMMIT");

/// The commit's date (`YYYY-MM-DD`), empty when the commit is unknown.
pub const COMMIT_DATE: &str = env!("FERRY_GIT_DATE");

/// What `--version` prints after the binary's name:
/// `0.1.0 (commit 7e89bb8, 2026-12-02)`, `0.1.0 (commit 7e89bb8-dirty,
/// 2026-12-02)` or `0.1.0 (commit unknown)`.
pub const VERSION: &str = if COMMIT_DATE.is_empty() {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("FERRY_GIT_COMMIT"),
        ")"
    )
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("FERRY_GIT_COMMIT"),
        ", ",
        env!("FERRY_GIT_DATE"),
        ")"
    )
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_package_version_and_the_commit() {
        assert!(VERSION.starts_with(&format!("{PKG_VERSION} (commit {COMMIT}")));
        assert!(VERSION.ends_with(')'));
        assert!(!COMMIT.is_empty());
        if COMMIT == "unknown" {
            assert_eq!(VERSION, format!("{PKG_VERSION} (commit unknown)"));
        } else {
            let hash = COMMIT.trim_end_matches("-dirty");
            assert!(hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit()));
            assert_eq!(COMMIT_DATE.len(), 10, "{COMMIT_DATE}");
        }
    }
}
