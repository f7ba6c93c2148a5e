//! Shell completions and man pages for the four binaries (issue 16), made
//! from each binary's own clap definition so they never drift from it:
//! every binary has `completions <bash|zsh|fish>` and a hidden
//! `man --out DIR` that `scripts/package.sh` calls to build the pages the
//! packages install. Also the check that the examples of every `--help`
//! paste as one command ([`check_examples`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

/// The shells ferry ships completions for (those Debian has a vendor
/// folder for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// bash (save as BIN in ~/.local/share/bash-completion/completions)
    Bash,
    /// zsh (save as _BIN in a folder of $fpath)
    Zsh,
    /// fish (save as BIN.fish in ~/.config/fish/completions)
    Fish,
}

/// Why writing completions or man pages failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelpError {
    /// A man page or its folder could not be written.
    #[error("{}: cannot write the man page", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Standard output could not be written (other than a closed pipe).
    #[error("cannot write to standard output")]
    Stdout(#[source] std::io::Error),
}

/// `completions SHELL`: the completion script on stdout.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

impl CompletionsArgs {
    /// Writes the completion script of binary `C` to stdout. A closed pipe
    /// is not an error (`ferry completions bash | head`).
    pub fn run<C: CommandFactory>(&self) -> Result<(), HelpError> {
        let mut out = Vec::new();
        self.write::<C>(&mut out);
        match std::io::stdout().lock().write_all(&out) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(HelpError::Stdout(e)),
            _ => Ok(()),
        }
    }

    /// Writes the completion script of binary `C` into `out`.
    pub fn write<C: CommandFactory>(&self, out: &mut Vec<u8>) {
        let mut cmd = C::command();
        let name = cmd.get_name().to_string();
        match self.shell {
            Shell::Bash => clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, name, out),
            Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, name, out),
            Shell::Fish => clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, name, out),
        }
    }
}

/// The examples shown under `BIN completions --help`: where each shell
/// looks for a user's completion scripts.
#[must_use]
pub fn completions_examples(bin: &str) -> String {
    format!(
        "Examples:
  source <({bin} completions bash)
  {bin} completions zsh > ~/.zfunc/_{bin}
  {bin} completions fish > ~/.config/fish/completions/{bin}.fish

The first loads the bash completions into this shell only; for zsh, ~/.zfunc
must be in $fpath (fpath+=(~/.zfunc) in ~/.zshrc, before compinit). The
Debian packages install all three for every user."
    )
}

/// `man --out DIR` (hidden: for packagers): one man page per command and
/// subcommand.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The folder to write the pages into (created if missing); existing
    /// pages of the same name are replaced.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

impl ManArgs {
    /// Writes the man pages of binary `C` into `--out`, and lists the
    /// files written on stdout.
    pub fn run<C: CommandFactory>(&self) -> Result<(), HelpError> {
        let written = write_man_pages(C::command(), &self.out)?;
        let mut list = String::new();
        for p in written {
            list.push_str(&format!("{}\n", p.display()));
        }
        match std::io::stdout().lock().write_all(list.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(HelpError::Stdout(e)),
            _ => Ok(()),
        }
    }
}

/// Writes `NAME.1` for `cmd` and `NAME-SUB.1` for every visible subcommand,
/// at any depth (`ferry-index-build.1`), into `dir`; returns the files
/// written. Hidden subcommands (`man` itself) and clap's `help` get none.
pub fn write_man_pages(cmd: clap::Command, dir: &Path) -> Result<Vec<PathBuf>, HelpError> {
    fn walk(cmd: clap::Command, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), HelpError> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), dir, out)?;
        }
        let path = dir.join(clap_mangen::Man::new(cmd.clone()).get_filename());
        std::fs::write(&path, man_page(cmd)).map_err(|source| HelpError::Write {
            path: path.clone(),
            source,
        })?;
        out.push(path);
        Ok(())
    }
    std::fs::create_dir_all(dir).map_err(|source| HelpError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    walk(cmd, dir, &mut written)?;
    written.sort();
    Ok(written)
}

/// The man page of `cmd`, as clap_mangen writes it but for the text after
/// the options (`after_help`): clap_mangen fills it as one paragraph, which
/// would run the example commands together; here its indented lines (the
/// examples) are kept line by line, as `--help` shows them, and its prose
/// is filled. The date is the commit's, so the same commit gives the same
/// pages.
#[must_use]
pub fn man_page(cmd: clap::Command) -> String {
    use clap_mangen::roff::{Roff, roman};
    let after = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(ToString::to_string);
    let cmd = cmd
        .after_help(None::<&'static str>)
        .after_long_help(None::<&'static str>);
    let man = clap_mangen::Man::new(cmd)
        .date(crate::build_info::COMMIT_DATE)
        .source(format!("ferry {}", crate::build_info::PKG_VERSION))
        .manual("ferry manual");
    let mut page = Vec::new();
    // Rendering into memory cannot fail.
    let _ = man.render(&mut page);
    let page = String::from_utf8_lossy(&page).into_owned();
    let Some(after) = after else { return page };

    let mut roff = Roff::new();
    let title = if after.contains("Example") {
        "EXAMPLES"
    } else {
        "NOTES"
    };
    roff.control("SH", [title]);
    let mut verbatim = false;
    for line in after.lines() {
        let indented = line.starts_with(' ');
        if indented != verbatim {
            roff.control(if indented { "nf" } else { "fi" }, []);
            verbatim = indented;
        }
        if line.trim().is_empty() {
            roff.control("PP", []);
        } else {
            roff.text([roman(line)]);
        }
    }
    if verbatim {
        roff.control("fi", []);
    }
    // The page already starts with roff's preamble (which defines the
    // apostrophe the text uses); the section must not repeat it.
    let preamble = Roff::new().render();
    let rendered = roff.render();
    let section = rendered.strip_prefix(&preamble).unwrap_or(&rendered);
    // Before the VERSION section when there is one, else at the end.
    match page.find("\n.SH VERSION") {
        Some(at) => format!("{}\n{section}{}", &page[..at], &page[at + 1..]),
        None => format!("{page}{section}"),
    }
}

/// Checks that the examples in the `--help` of `cmd` and of each of its
/// subcommands paste as one command (issue 16): clap does not wrap them on
/// an 80-column terminal, and each example, its `\` continuation lines
/// joined, parses as a command line of this binary. Examples are the lines
/// indented by two spaces after an `Example:` or `Examples:` line; one
/// holding `…` (an elided command) is only checked for wrapping. Returns
/// every problem found.
pub fn check_examples(cmd: clap::Command) -> Result<(), Vec<String>> {
    let mut root = cmd;
    root.build();
    let mut problems = Vec::new();
    check_command(&root, &root, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_command(root: &clap::Command, cmd: &clap::Command, problems: &mut Vec<String>) {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let narrow = cmd.clone().term_width(80);
    let texts = [
        (cmd.get_after_help(), narrow.clone().render_help()),
        (cmd.get_after_long_help(), narrow.clone().render_long_help()),
    ];
    for (text, narrow) in texts {
        let Some(text) = text else { continue };
        let (text, narrow) = (text.to_string(), narrow.to_string());
        // clap keeps the text's own line breaks and only adds its own
        // where a line is too wide: every line of the text must come out
        // as it went in.
        for line in text.lines() {
            if !narrow.lines().any(|l| l == line) {
                problems.push(format!("{name}: wrapped at 80 columns: {line:?}"));
            }
        }
        for example in examples(&text) {
            if example.contains('…') {
                continue;
            }
            match command_words(&example, root.get_name()) {
                None => problems.push(format!(
                    "{name}: example does not run {}: {example:?}",
                    root.get_name()
                )),
                Some(words) => {
                    if let Err(e) = root.clone().try_get_matches_from(&words) {
                        problems.push(format!(
                            "{name}: example does not parse: {example:?}: {}",
                            e.render()
                        ));
                    }
                }
            }
        }
    }
    for sub in cmd.get_subcommands() {
        check_command(root, sub, problems);
    }
}

/// The examples of an after-help text, continuation lines joined.
fn examples(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_examples = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(cur) = current.as_mut() {
            cur.push(' ');
            cur.push_str(line.trim());
        } else if line.starts_with("Example:") || line.starts_with("Examples:") {
            in_examples = true;
            continue;
        } else if in_examples && line.starts_with("  ") && !line.starts_with("   ") {
            current = Some(line.trim().to_string());
        } else {
            in_examples = false;
            continue;
        }
        let cur = current.take().unwrap_or_default();
        match cur.strip_suffix('\\') {
            Some(head) => current = Some(head.trim_end().to_string()),
            None => out.push(cur),
        }
    }
    out.extend(current);
    out
}

/// The words of the command `bin …` inside a shell line, as a POSIX shell
/// splits them: what comes before the first word `bin` (variable
/// assignments, `cat x |`, `source <(`) and from the first unquoted
/// operator or comment on (`|`, `>`, `<`, `;`, `&`, `)`, `#`) is left out.
/// `None` when the line does not run `bin`.
fn command_words(line: &str, bin: &str) -> Option<Vec<String>> {
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    let mut started = false;
    let mut finish = |word: &mut Option<String>, words: &mut Vec<String>| {
        if let Some(w) = word.take()
            && (started || w == bin)
        {
            started = true;
            words.push(w);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c if c.is_whitespace() => finish(&mut word, &mut words),
            '#' if word.is_none() => {
                if !words.is_empty() {
                    break;
                }
                return None;
            }
            '|' | '>' | '<' | ';' | '&' | '(' | ')' => {
                finish(&mut word, &mut words);
                if !words.is_empty() {
                    break;
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    finish(&mut word, &mut words);
    (!words.is_empty()).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Option<Vec<String>> {
        command_words(line, "ferry")
    }

    #[test]
    fn command_words_split_as_a_shell_does() {
        assert_eq!(
            words("ferry sync --config ferry.toml --versions '>=3.2'  # note").unwrap(),
            [
                "ferry",
                "sync",
                "--config",
                "ferry.toml",
                "--versions",
                ">=3.2"
            ]
        );
        assert_eq!(
            words("FERRY_PASSWORD=x ferry keygen --out \"my keys/a\"").unwrap(),
            ["ferry", "keygen", "--out", "my keys/a"]
        );
        assert_eq!(
            words("cat a.tar | ferry verify - > out.txt").unwrap(),
            ["ferry", "verify", "-"]
        );
        assert_eq!(
            words("source <(ferry completions bash)").unwrap(),
            ["ferry", "completions", "bash"]
        );
        assert_eq!(words("ferry-mirror status"), None);
        assert_eq!(words("# ferry sync"), None);
    }

    #[test]
    fn examples_join_continuation_lines_and_stop_at_prose() {
        let text = "Exit codes: 0 ok.\n\nExamples:\n  ferry a \\\n      --b c\n  ferry d   # e\n\nThe end.\n  ferry not-an-example";
        assert_eq!(examples(text), ["ferry a --b c", "ferry d   # e"]);
    }

    #[test]
    fn completions_examples_paste_as_one_command() {
        for bin in ["ferry", "ferry-verify", "ferry-mirror", "ferry-handoff"] {
            for line in completions_examples(bin).lines() {
                assert!(line.chars().count() <= 80, "{line}");
            }
        }
    }
}
