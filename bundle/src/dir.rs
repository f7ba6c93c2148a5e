//! The `dir` carrier: the plain bundle tree, for copying file by file.
//!
//! Verification walks the whole tree first with `symlink_metadata` (no
//! symlinks anywhere, only regular files and directories, nothing
//! unlisted), then checks the manifest, then hashes the files on two
//! threads (SPEC §6: both cores). Each file is opened once and its
//! (device, inode) compared with what the walk saw.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ferry_manifests::manifest::{MANIFEST_PATH, SIGNATURES_DIR};

use super::checker::{Checker, Done, NullSink, Outcome, Plan, Sink};
use super::manifest::VerifiedManifest;
use super::source::{Workspace, copy_item, partial_name};
use crate::error::{Error, Result};

/// Most entries a directory bundle may hold.
const MAX_ENTRIES: usize = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct Seen {
    dev: u64,
    ino: u64,
    len: u64,
    dir: bool,
}

fn walk(root: &Path, rel: &str, out: &mut BTreeMap<String, Seen>) -> Result<()> {
    let here = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let rd = std::fs::read_dir(&here).map_err(|e| Error::io(&here, "list", e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(&here, "list", e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            return Err(Error::bundle(
                e.path().display().to_string(),
                "file name is not UTF-8 (refused)",
            ));
        };
        let r = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let meta = e
            .path()
            .symlink_metadata()
            .map_err(|err| Error::io(e.path(), "stat", err))?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            return Err(Error::bundle(
                &r,
                "a symbolic link (refused: no links in a bundle)",
            ));
        }
        if !ft.is_dir() && !ft.is_file() {
            return Err(Error::bundle(
                &r,
                "not a regular file or directory (device, FIFO or socket refused)",
            ));
        }
        super::checker::bundle_path(&r)?;
        if out.len() >= MAX_ENTRIES {
            return Err(Error::bundle(
                root.display().to_string(),
                "too many entries",
            ));
        }
        out.insert(
            r.clone(),
            Seen {
                dev: meta.dev(),
                ino: meta.ino(),
                len: meta.len(),
                dir: ft.is_dir(),
            },
        );
        if ft.is_dir() {
            walk(root, &r, out)?;
        }
    }
    Ok(())
}

fn open_checked(root: &Path, rel: &str, seen: &Seen) -> Result<File> {
    let p = root.join(rel);
    let f = ferry_manifests::input::open_regular(&p).map_err(|e| Error::io(&p, "open", e))?;
    let m = f.metadata().map_err(|e| Error::io(&p, "stat", e))?;
    if !m.is_file() || m.dev() != seen.dev || m.ino() != seen.ino || m.len() != seen.len {
        return Err(Error::bundle(
            rel,
            "changed while it was being verified (refused)",
        ));
    }
    Ok(f)
}

/// Verifies a directory bundle. With a sink, files are checked one after
/// the other in manifest order (the sink sees them in that order);
/// without, on two threads.
///
/// # Errors
/// The first rule broken.
pub fn verify_dir(
    root: &Path,
    checker: &mut Checker<'_>,
    sink: Option<&mut dyn Sink>,
) -> Result<()> {
    check_root(root)?;
    let mut tree = BTreeMap::new();
    walk(root, "", &mut tree)?;
    check_signed_part(root, &tree, checker)?;
    let vm = checker.seal()?.clone();
    if checker.is_done() {
        return Ok(());
    }
    check_listing(&tree, &vm, checker)?;
    if let Some(sink) = sink {
        // With a sink: one file after the other, in manifest order.
        for fe in &vm.manifest.files {
            let rel = fe.path.as_str();
            let s = tree[rel];
            let mut f = open_checked(root, rel, &s)?;
            checker.file(rel, s.len, &mut f, sink)?;
        }
        return Ok(());
    }
    let plans = check_small_then_plan(root, &tree, &vm, checker)?;
    for d in run_on_two_threads(root, plans)? {
        checker.record(d)?;
    }
    Ok(())
}

/// The root itself: a directory, not a symlink to one.
fn check_root(root: &Path) -> Result<()> {
    let meta = root
        .symlink_metadata()
        .map_err(|e| Error::io(root, "stat", e))?;
    if !meta.is_dir() {
        return Err(Error::bundle(
            root.display().to_string(),
            "not a directory (a symlink to one is refused)",
        ));
    }
    Ok(())
}

/// Whether `rel` is a manifest signature (`ferry/signatures/*.minisig`).
fn is_signature(rel: &str, sig_prefix: &str) -> bool {
    rel.starts_with(sig_prefix) && rel.ends_with(".minisig")
}

/// Whether `rel` is a trust-chain file (`ferry/trust/…`).
fn is_trust_file(rel: &str) -> bool {
    rel.strip_prefix(ferry_manifests::trust::BUNDLE_DIR)
        .is_some_and(|r| r.starts_with('/'))
}

/// Trust chain, manifest, then signatures (sorted), as in a tar.
fn check_signed_part(
    root: &Path,
    tree: &BTreeMap<String, Seen>,
    checker: &mut Checker<'_>,
) -> Result<()> {
    let Some(m) = tree.get(MANIFEST_PATH).copied().filter(|s| !s.dir) else {
        return Err(Error::bundle(
            MANIFEST_PATH,
            "missing: a bundle holds ferry/manifest.json (refused)",
        ));
    };
    // The trust chain first, as in a tar (SPEC §3.11).
    for (rel, s) in tree {
        if !s.dir && is_trust_file(rel) {
            let mut f = open_checked(root, rel, s)?;
            checker.file(rel, s.len, &mut f, &mut NullSink)?;
        }
    }
    let mut f = open_checked(root, MANIFEST_PATH, &m)?;
    checker.file(MANIFEST_PATH, m.len, &mut f, &mut NullSink)?;
    let sig_prefix = format!("{SIGNATURES_DIR}/");
    for (rel, s) in tree {
        if !s.dir && is_signature(rel, &sig_prefix) {
            let mut f = open_checked(root, rel, s)?;
            checker.file(rel, s.len, &mut f, &mut NullSink)?;
        }
    }
    Ok(())
}

/// Every entry of the tree is listed (files) or a parent of one (dirs),
/// and every listed file is in the tree.
fn check_listing(
    tree: &BTreeMap<String, Seen>,
    vm: &VerifiedManifest,
    checker: &mut Checker<'_>,
) -> Result<()> {
    let sig_prefix = format!("{SIGNATURES_DIR}/");
    for (rel, s) in tree {
        if s.dir {
            checker.directory(rel)?;
        } else if rel != MANIFEST_PATH
            && !is_signature(rel, &sig_prefix)
            && !is_trust_file(rel)
            && vm.file(rel).is_none()
        {
            return Err(Error::bundle(
                rel,
                "not listed in the manifest: extraneous file refused",
            ));
        }
    }
    let mut missing = Vec::new();
    for fe in &vm.manifest.files {
        if tree.get(fe.path.as_str()).is_none_or(|s| s.dir) {
            missing.push(fe.path.as_str().to_string());
        }
    }
    if let Some(m) = missing.first() {
        return Err(Error::bundle(
            m,
            "listed in the manifest but missing from the bundle (incomplete copy)",
        ));
    }
    Ok(())
}

/// Small files first, in order (upstream signatures are needed before
/// their artifacts are planned), then the artifacts planned for hashing.
fn check_small_then_plan(
    root: &Path,
    tree: &BTreeMap<String, Seen>,
    vm: &VerifiedManifest,
    checker: &mut Checker<'_>,
) -> Result<Vec<(Plan, Seen)>> {
    let mut plans: Vec<(Plan, Seen)> = Vec::new();
    for pass in 0..2 {
        for fe in &vm.manifest.files {
            let small = !matches!(
                vm.role_of(&fe.path),
                Some(ferry_manifests::manifest::FileRole::Artifact(..))
            );
            if (pass == 0) != small {
                continue;
            }
            let rel = fe.path.as_str();
            let s = tree[rel];
            let mut f = open_checked(root, rel, &s)?;
            if pass == 0 {
                checker.file(rel, s.len, &mut f, &mut NullSink)?;
            } else if let Some(p) = checker.plan(rel, s.len, &mut f)? {
                plans.push((p, s));
            }
        }
    }
    Ok(plans)
}

/// Runs the planned artifacts on two threads; the first error stops both.
fn run_on_two_threads(root: &Path, plans: Vec<(Plan, Seen)>) -> Result<Vec<Done>> {
    let queue = Mutex::new(plans.into_iter());
    let results = Mutex::new(Vec::new());
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| run_queue(root, &queue, &results, &first_err));
        }
    });
    if let Some(e) = first_err.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default())
}

/// One worker: takes plans from the queue until it is empty or a worker
/// failed.
fn run_queue(
    root: &Path,
    queue: &Mutex<std::vec::IntoIter<(Plan, Seen)>>,
    results: &Mutex<Vec<Done>>,
    first_err: &Mutex<Option<Error>>,
) {
    loop {
        if first_err.lock().map(|e| e.is_some()).unwrap_or(true) {
            return;
        }
        let next = queue.lock().ok().and_then(|mut q| q.next());
        let Some((p, s)) = next else { return };
        let rel = p.entry().path.as_str().to_string();
        let r = open_checked(root, &rel, &s).and_then(|mut f| p.run(&mut f, &mut NullSink));
        match r {
            Ok(d) => {
                if let Ok(mut v) = results.lock() {
                    v.push(d);
                }
            }
            Err(e) => {
                if let Ok(mut fe) = first_err.lock()
                    && fe.is_none()
                {
                    *fe = Some(e);
                }
                return;
            }
        }
    }
}

/// Writes a workspace as a plain tree into `out` (via a temporary name).
pub(crate) fn write_dir(w: &Workspace, out: &Path) -> Result<u64> {
    let tmp = partial_name(out);
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
    let res = (|| -> Result<u64> {
        let mut total = 0u64;
        for item in &w.items {
            let p: PathBuf = item.path.under(&tmp);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
            }
            let mut f = File::options()
                .write(true)
                .create_new(true)
                .open(&p)
                .map_err(|e| Error::io(&p, "create", e))?;
            let mut bw = std::io::BufWriter::with_capacity(super::BUF, &mut f);
            copy_item(w, item, &mut bw, &p)?;
            bw.flush().map_err(|e| Error::io(&p, "write", e))?;
            drop(bw);
            f.sync_all().map_err(|e| Error::io(&p, "fsync", e))?;
            total += item.size;
        }
        std::fs::rename(&tmp, out).map_err(|e| Error::io(out, "rename", e))?;
        Ok(total)
    })();
    if res.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    res
}

/// Convenience for callers that only need the outcome.
///
/// # Errors
/// As [`verify_dir`].
pub fn verify_dir_outcome(root: &Path, mut checker: Checker<'_>) -> Result<Outcome> {
    verify_dir(root, &mut checker, None)?;
    checker.finish()
}
