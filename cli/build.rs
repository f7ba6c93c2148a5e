//! Records which commit the binaries were built from (issue 16: `--version`
//! names the commit, and `-dirty` when tracked files differed from it), so
//! a site can tell which source a ferry binary came from.
//!
//! Sets `FERRY_GIT_COMMIT` (short hash, `-dirty` suffix when tracked files
//! had uncommitted changes, or `unknown` outside a git checkout such as a
//! source tarball) and `FERRY_GIT_DATE` (the commit's date, `YYYY-MM-DD`,
//! empty when unknown) for `src/build_info.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // The workspace root: this crate sits one level below it.
    let root = manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), Path::to_path_buf);
    // Without any rerun-if-changed line cargo would re-run this script on
    // any change in the cli crate only; these lines say what really counts.
    println!("cargo:rerun-if-changed=build.rs");

    let (commit, date) = match git_info(&root) {
        Some(info) => info,
        None => ("unknown".to_string(), String::new()),
    };
    println!("cargo:rustc-env=FERRY_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=FERRY_GIT_DATE={date}");
}

/// `git` run in `root`; its trimmed stdout, or `None` when git is missing
/// or fails.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn git_info(root: &Path) -> Option<(String, String)> {
    // Only ferry's own checkout counts: a source tarball unpacked inside
    // some other repository (a packaging repo, say) is "unknown", not that
    // repository's commit.
    let top = PathBuf::from(git(root, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != root.canonicalize().ok()? {
        return None;
    }
    let short = git(root, &["rev-parse", "--short", "HEAD"])?;
    let date = git(root, &["log", "-1", "--format=%cs", "HEAD"]).unwrap_or_default();
    watch_git_state(root);
    // Tracked files only, as `git describe --dirty` counts: a stray
    // untracked file does not make a build dirty.
    let dirty =
        git(root, &["status", "--porcelain", "--untracked-files=no"]).is_none_or(|s| !s.is_empty());
    let commit = if dirty {
        format!("{short}-dirty")
    } else {
        short
    };
    Some((commit, date))
}

/// Re-run when HEAD moves (commit, checkout, reset), when the index
/// changes (`git add`), or when any tracked file is edited, so that the
/// `-dirty` mark follows the tree. Paths that do not exist are left out:
/// cargo would re-run the script on every build for them.
fn watch_git_state(root: &Path) {
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut git_path = |p: &str| {
        if let Some(path) = git(root, &["rev-parse", "--git-path", p]) {
            paths.push(root.join(path));
        }
    };
    git_path("HEAD");
    git_path("index");
    git_path("packed-refs");
    if let Some(head_ref) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        git_path(&head_ref);
    }
    if let Some(files) = git(root, &["ls-files", "-z"]) {
        paths.extend(
            files
                .split('\0')
                .filter(|f| !f.is_empty())
                .map(|f| root.join(f)),
        );
    }
    for p in paths.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}
