//! The output flags every binary shares (issue 16): `--json`, `-q`,
//! `--no-progress`, `--color`, and how sizes and pass/fail verdicts look
//! in text output.

use clap::{Args, ValueEnum};

use crate::Printer;

/// When to colour PASS and FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always (even into a pipe).
    Always,
    /// Never.
    Never,
}

/// The output flags, global to every subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output")]
pub struct GlobalArgs {
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Quiet: one line on success; no progress or informational messages.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No progress bars (drawn on stderr only when it is a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Colour PASS and FAIL: auto (on a terminal, unless NO_COLOR is set),
    /// always or never.
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        default_value = "auto",
        hide_possible_values = true
    )]
    pub color: ColorWhen,
}

impl GlobalArgs {
    /// The printer these flags ask for (reads `NO_COLOR`).
    #[must_use]
    pub fn printer(&self) -> Printer {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Printer {
            json: self.json,
            quiet: self.quiet,
            no_progress: self.no_progress,
            color: match self.color {
                ColorWhen::Always => Some(true),
                ColorWhen::Never => Some(false),
                ColorWhen::Auto if no_color => Some(false),
                ColorWhen::Auto => None,
            },
        }
    }
}

pub use ferry_manifests::progress::human_bytes;

/// `PASS` or `FAIL`, in green or red when `color`.
#[must_use]
pub fn verdict(passed: bool, color: bool) -> String {
    let (word, code) = if passed {
        ("PASS", "32")
    } else {
        ("FAIL", "31")
    };
    if color {
        format!("\x1b[1;{code}m{word}\x1b[0m")
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(verdict(true, false), "PASS");
        assert_eq!(verdict(false, true), "\x1b[1;31mFAIL\x1b[0m");
    }
}
