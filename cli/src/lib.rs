//! What the four binaries share about reporting: the exit codes of SPEC §4
//! and the rendering of an error chain (`error:`, one `Caused by:` line per
//! cause, then `hint:` lines). Binaries stay thin; this is the one place
//! that decides how an error maps to an exit code. Also what every binary
//! says about itself: `--version` with the commit ([`build_info`]), shell
//! completions and man pages ([`help`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod build_info;
pub mod help;
pub mod keyload;
pub mod output;
pub mod progress;
pub mod trust;

pub use output::{GlobalArgs, human_bytes};

use std::error::Error as StdError;

use ferry_manifests::ErrorClass;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a verification or policy failure.
pub const EXIT_VERIFY: u8 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: environment error (missing file, network, disk full, lock).
pub const EXIT_ENV: u8 = 3;

/// Classifies an error chain: the first error in the chain that ferry knows
/// decides. `extra` lets a binary teach it about its own error types (the
/// network crate's, say). Unknown errors count as environment errors.
pub fn classify(
    err: &(dyn StdError + 'static),
    extra: &dyn Fn(&(dyn StdError + 'static)) -> Option<ErrorClass>,
) -> ErrorClass {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = extra(e) {
            return c;
        }
        if let Some(e) = e.downcast_ref::<ferry_manifests::Error>() {
            return e.class();
        }
        if let Some(e) = e.downcast_ref::<ferry_mirror_layout::Error>() {
            return e.class();
        }
        if let Some(e) = e.downcast_ref::<UsageError>() {
            let _ = e;
            return ErrorClass::Usage;
        }
        if let Some(e) = e.downcast_ref::<VerifyError>() {
            let _ = e;
            return ErrorClass::Verification;
        }
        cur = e.source();
    }
    ErrorClass::Environment
}

/// The exit code of a class.
#[must_use]
pub fn exit_code(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Verification => EXIT_VERIFY,
        ErrorClass::Usage => EXIT_USAGE,
        ErrorClass::Environment => EXIT_ENV,
    }
}

/// A usage error raised by a binary (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A verification failure raised by a binary (exit 1), e.g. a summary
/// after findings were already printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VerifyError(pub String);

/// The one escaping of text for a terminal (issue 10: vendor-controlled
/// text — advisory summaries, licensee names, notes, reasons — could clear
/// the screen or forge lines). Every control character (C0 including
/// newline and carriage return, DEL, C1) and every bidirectional override
/// is written as a visible `\u{…}` escape; printable text, including
/// non-ASCII letters, stays as it is.
#[must_use]
pub fn terminal_safe(s: &str) -> String {
    escape_controls(s, false)
}

/// As [`terminal_safe`], but newlines the text itself holds are kept (for
/// multi-line messages ferry composes, such as a TOML parser's excerpt).
#[must_use]
pub fn terminal_safe_multiline(s: &str) -> String {
    escape_controls(s, true)
}

fn escape_controls(s: &str, keep_newlines: bool) -> String {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t' && !(keep_newlines && c == '\n'))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
    };
    if !s.chars().any(unsafe_char) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders an error chain for stderr. Messages of causes that merely repeat
/// their parent's text are skipped. Control characters in any message are
/// escaped ([`terminal_safe_multiline`]).
#[must_use]
pub fn render(err: &(dyn StdError + 'static)) -> String {
    let mut out = format!("error: {}", terminal_safe_multiline(&err.to_string()));
    let mut last = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let msg = e.to_string();
        if !last.contains(&msg) {
            out.push_str(&format!("\n  Caused by: {}", terminal_safe_multiline(&msg)));
        }
        last = msg;
        cur = e.source();
    }
    if let Some(h) = hint(err) {
        out.push_str(&format!("\nhint: {h}"));
    }
    out
}

fn hint(err: &(dyn StdError + 'static)) -> Option<&'static str> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(e) = e.downcast_ref::<ferry_manifests::Error>() {
            return match e {
                ferry_manifests::Error::Threshold { what, .. } if what.contains("root keys") => {
                    Some(
                        "a trust-chain version counts once the threshold of the previous version's root keys AND of its own have signed (ferry trust sign; ferry trust show lists who did)",
                    )
                }
                ferry_manifests::Error::Threshold { .. } => Some(
                    "ask more holders of trusted org keys to co-sign with `ferry sign`, or check that the policy lists their public keys",
                ),
                ferry_manifests::Error::Config { path, .. }
                    if path.extension().is_some_and(|e| e == "toml") =>
                {
                    Some("fix the trust policy file; see the README section \"Trust policy\"")
                }
                ferry_manifests::Error::Io {
                    action: "read the trust policy",
                    ..
                } => Some(
                    "give --trust the path of this site's trust policy (ferry-trust.toml; see the README section \"Trust policy\")",
                ),
                // An I/O error: its cause decides (below).
                ferry_manifests::Error::Io { .. } | ferry_manifests::Error::Read { .. } => {
                    cur = e.source();
                    continue;
                }
                _ => None,
            };
        }
        if let Some(e) = e.downcast_ref::<std::io::Error>() {
            return match e.kind() {
                std::io::ErrorKind::NotFound => Some("check the path"),
                std::io::ErrorKind::PermissionDenied => Some("check file permissions"),
                _ => None,
            };
        }
        cur = e.source();
    }
    None
}

/// Where a binary's output goes: data on stdout (text or one JSON
/// document), messages on stderr unless quiet. A closed stdout (broken
/// pipe) is ignored so `ferry … | head` exits quietly. Made from the
/// shared flags by [`GlobalArgs::printer`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// `--json`: stdout carries one JSON document and no text.
    pub json: bool,
    /// `-q`: no progress or informational messages on stderr, and one
    /// line of text on success ([`Printer::summary`]).
    pub quiet: bool,
    /// `--no-progress`: no progress bars.
    pub no_progress: bool,
    /// `--color`: `Some` when decided by a flag or `NO_COLOR`; `None`
    /// (auto) colours a stream that is a terminal.
    pub color: Option<bool>,
}

impl Printer {
    /// A line of text output on stdout (suppressed under `--json`).
    /// Control characters are escaped ([`terminal_safe`]): a line is one
    /// line, whatever a document put in it.
    pub fn line(&self, s: &str) {
        use std::io::Write;
        if !self.json {
            let _ = writeln!(std::io::stdout().lock(), "{}", terminal_safe(s));
        }
    }

    /// A line of detail on stdout, left out under `-q` (which keeps one
    /// line on success, as minisign does) and `--json`.
    pub fn detail(&self, s: &str) {
        if !self.quiet {
            self.line(s);
        }
    }

    /// A check's line on stdout: `PASS` or `FAIL` (green or red when
    /// colour is on), then `s` escaped. Under `-q` only failures show.
    pub fn check(&self, passed: bool, s: &str) {
        use std::io::{IsTerminal, Write};
        if self.json || (self.quiet && passed) {
            return;
        }
        let color = self
            .color
            .unwrap_or_else(|| std::io::stdout().is_terminal());
        let tag = output::verdict(passed, color);
        let _ = writeln!(std::io::stdout().lock(), "{tag} {}", terminal_safe(s));
    }

    /// As [`Printer::check`], on stderr (a message, not data).
    pub fn check_info(&self, passed: bool, s: &str) {
        use std::io::{IsTerminal, Write};
        if self.json || (self.quiet && passed) {
            return;
        }
        let color = self
            .color
            .unwrap_or_else(|| std::io::stderr().is_terminal());
        let tag = output::verdict(passed, color);
        let _ = writeln!(std::io::stderr().lock(), "{tag} {}", terminal_safe(s));
    }

    /// An empty line on stdout (suppressed under `--json`).
    pub fn blank(&self) {
        self.line("");
    }

    /// An informational message on stderr (suppressed under `-q` and
    /// `--json`), escaped as [`Printer::line`].
    pub fn info(&self, s: &str) {
        use std::io::Write;
        if !self.quiet && !self.json {
            let _ = writeln!(std::io::stderr().lock(), "{}", terminal_safe(s));
        }
    }

    /// A warning on stderr (always shown), escaped as [`Printer::line`].
    pub fn warn(&self, s: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "warning: {}", terminal_safe(s));
    }

    /// The JSON document on stdout (only under `--json`).
    pub fn json<T: serde::Serialize>(&self, value: &T) {
        use std::io::Write;
        if self.json {
            let text = serde_json::to_string_pretty(value)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }

    /// Whether progress bars may be drawn (stderr is a terminal, not quiet,
    /// not JSON).
    #[must_use]
    pub fn progress(&self) -> bool {
        use std::io::IsTerminal;
        !self.quiet && !self.no_progress && !self.json && std::io::stderr().is_terminal()
    }

    /// A progress sink for a library: a bar on stderr when
    /// [`Printer::progress`], else silent.
    #[must_use]
    pub fn progress_handle(&self) -> ferry_durable::progress::ProgressHandle {
        if self.progress() {
            progress::Bar::handle()
        } else {
            ferry_durable::progress::ProgressHandle::default()
        }
    }
}

/// Prints an error to stderr and returns the exit code for it.
pub fn report_error(
    err: &(dyn StdError + 'static),
    extra: &dyn Fn(&(dyn StdError + 'static)) -> Option<ErrorClass>,
) -> u8 {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{}", render(err));
    exit_code(classify(err, extra))
}

/// Arms the mirror's crash-test failpoints from the environment, in test
/// builds only (`ferry-mirror-layout/failpoints`); in a release build
/// there are no variable names to read. Every binary calls it first.
pub fn arm_failpoints() {
    use ferry_mirror_layout::mirror::failpoint;
    if let Some((point_var, mark_var)) = failpoint::ENV_NAMES
        && let Some(point) = std::env::var_os(point_var)
    {
        failpoint::arm(point, std::env::var_os(mark_var));
    }
}
