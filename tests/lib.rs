//! Support for the end-to-end tests: find the real binaries, run them in
//! fresh temp directories, and check the "reject" conventions of
//! ATTACKS.md §0 (exit code, no panic, nothing changed on disk).
//!
//! The binaries are those of the current sources: the first test that
//! needs one runs `cargo build --workspace --bins --features
//! ferry-mirror/failpoints` (incremental), so no test runs a stale binary.

#![forbid(unsafe_code)]
#![allow(clippy::missing_panics_doc, clippy::must_use_candidate)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

pub mod fixtures;
pub mod http;
pub mod mirror_fixture;
pub mod stores;
pub mod tls;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `../shared` beside the clone (SPEC vectors live there; never copied in).
pub fn shared_dir() -> PathBuf {
    repo_root()
        .parent()
        .expect("the clone has a parent")
        .join("shared")
}

/// A labelled demo/test key under `keys/demo/` (`name.key` / `name.pub`).
pub fn demo_key(name: &str) -> PathBuf {
    repo_root().join("keys/demo").join(format!("{name}.key"))
}

/// The public half of a demo key.
pub fn demo_pub(name: &str) -> PathBuf {
    repo_root().join("keys/demo").join(format!("{name}.pub"))
}

/// The cargo features the e2e binaries are built with: the crash tests'
/// kill points (never in a release build).
pub const TEST_FEATURES: &str = "ferry-mirror/failpoints";

/// Builds the binaries of the current sources once per test process
/// (`cargo build --workspace --bins --features …`, incremental: a no-op
/// when nothing changed), so a test never runs a stale binary that lies in
/// `target/debug` (issue 11). Skipped when `$FERRY_BIN_DIR` names
/// binaries built elsewhere.
fn build_current_binaries() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        if std::env::var_os("FERRY_BIN_DIR").is_some() {
            return;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--workspace",
                "--bins",
                "--features",
                TEST_FEATURES,
            ])
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .output()
            .expect("run cargo build for the e2e binaries");
        assert!(
            out.status.success(),
            "cargo build --workspace --bins --features {TEST_FEATURES} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Path of one of the four binaries of the current build (see
/// [`build_current_binaries`]), in `target/debug` (or `$FERRY_BIN_DIR`).
pub fn bin(name: &str) -> PathBuf {
    build_current_binaries();
    let dir = std::env::var_os("FERRY_BIN_DIR").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| repo_root().join("target"), PathBuf::from)
                .join("debug")
        },
        PathBuf::from,
    );
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing after the build", p.display());
    p
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Asserts the exit code, showing both streams on failure.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts success.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Asserts that stderr contains every needle.
    #[track_caller]
    pub fn stderr_has(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr lacks {n:?}\n--- stderr\n{}\n--- stdout\n{}",
                self.stderr,
                self.stdout
            );
        }
        self
    }

    /// Asserts that stdout contains every needle.
    #[track_caller]
    pub fn stdout_has(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(
                self.stdout.contains(n),
                "stdout lacks {n:?}\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout,
                self.stderr
            );
        }
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A command to run, builder style.
pub struct Run {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

/// Starts building a run of one of the binaries.
pub fn cmd(name: &str) -> Run {
    let mut cmd = Command::new(bin(name));
    cmd.env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", fresh_state_home())
        .env_remove("FERRY_PASSWORD");
    Run { cmd, stdin: None }
}

/// A new, empty state folder for one run: what a host remembers (its
/// newest index per mirror, SPEC §5 rule 7) or a signer's sequence counter
/// never leaks from one test into another (ports and temp paths get
/// reused). Tests of that memory pass `--state` / `FERRY_STATE_DIR`.
pub fn fresh_state_home() -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("ferry-test-state-{}-{n}", std::process::id()))
}

/// Starts building a run of any program.
pub fn program(path: impl AsRef<std::ffi::OsStr>) -> Run {
    let mut cmd = Command::new(path);
    cmd.env("XDG_STATE_HOME", fresh_state_home());
    Run { cmd, stdin: None }
}

impl Run {
    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Feeds bytes on stdin.
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs to completion. Fails the test if the program panicked.
    #[track_caller]
    pub fn run(mut self) -> Output {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.cmd));
        if let Some(bytes) = self.stdin.take() {
            let mut stdin = child.stdin.take().expect("piped");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let out = child.wait_with_output().expect("wait");
        let o = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !o.stderr.contains("panicked at"),
            "the program panicked:\n{}",
            o.stderr
        );
        o
    }
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One entry of a directory snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file: mode, size, sha256.
    File {
        mode: u32,
        size: u64,
        sha256: String,
    },
    /// A directory: mode.
    Dir { mode: u32 },
    /// A symlink: target.
    Symlink { target: PathBuf },
    /// Anything else.
    Other { mode: u32 },
}

/// Snapshot of a tree (path, type, mode, size, sha256, symlink target),
/// for "byte-for-byte unchanged" assertions (ATTACKS §0).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    if root.symlink_metadata().is_err() {
        return out;
    }
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, p: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
    let meta = p.symlink_metadata().expect("stat");
    let rel = p.strip_prefix(root).expect("below root").to_path_buf();
    let mode = meta.permissions().mode() & 0o7777;
    let ft = meta.file_type();
    if ft.is_symlink() {
        out.insert(
            rel,
            Entry::Symlink {
                target: std::fs::read_link(p).expect("readlink"),
            },
        );
    } else if ft.is_dir() {
        out.insert(rel, Entry::Dir { mode });
        let mut children: Vec<_> = std::fs::read_dir(p)
            .expect("readdir")
            .map(|e| e.expect("entry").path())
            .collect();
        children.sort();
        for c in children {
            walk(root, &c, out);
        }
    } else if ft.is_file() {
        let bytes = std::fs::read(p).expect("read");
        out.insert(
            rel,
            Entry::File {
                mode,
                size: meta.size(),
                sha256: hex::encode(Sha256::digest(&bytes)),
            },
        );
    } else {
        out.insert(rel, Entry::Other { mode });
    }
}

/// Asserts a tree is unchanged since `before`, listing the differences.
#[track_caller]
pub fn assert_unchanged(root: &Path, before: &BTreeMap<PathBuf, Entry>) {
    let after = snapshot(root);
    if &after != before {
        let mut diff = String::new();
        for (k, v) in before {
            match after.get(k) {
                None => diff.push_str(&format!("  removed {}\n", k.display())),
                Some(a) if a != v => {
                    diff.push_str(&format!("  changed {}: {v:?} -> {a:?}\n", k.display()))
                }
                _ => {}
            }
        }
        for k in after.keys() {
            if !before.contains_key(k) {
                diff.push_str(&format!("  added {}\n", k.display()));
            }
        }
        panic!("{} changed:\n{diff}", root.display());
    }
}

/// Deterministic pseudo-random bytes (xorshift), for sample artifacts.
pub fn det_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
