//! Issue 11: the CLI surface, pinned. Golden cases under `tests/cmd/`
//! (trycmd): the `--help` of every binary and subcommand, and the exit code
//! and error text of common mistakes (a missing or malformed policy, a
//! public key given as `--key`, `import -`, a mistyped flag). A change to
//! any of them shows up as a diff; `TRYCMD=overwrite cargo test -p
//! ferry-tests --test e2e -- cli::` rewrites them after a deliberate change.
//! The `--help` cases set `binary = true`: in text mode trycmd turns every
//! `\` into `/` (path normalisation), so a golden file would show an
//! example's continuation backslash as a slash (issue 16). Also: `--version`
//! names the commit, and completions and man pages cover every subcommand.

#[test]
fn golden_cli_cases() {
    let cases = trycmd::TestCases::new();
    for b in ["ferry", "ferry-verify", "ferry-mirror", "ferry-handoff"] {
        cases.register_bin(b, ferry_tests::bin(b));
    }
    cases.env("NO_COLOR", "1").case("cmd/*.toml");
}

/// The subcommands `--help` lists under "Commands:" (clap's own `help`
/// left out), at every depth: `["index", "index build", …]`.
fn subcommands(bin: &str, parent: &[&str]) -> Vec<Vec<String>> {
    let out = ferry_tests::cmd(bin).args(parent).arg("--help").run();
    out.ok();
    let mut found = Vec::new();
    let mut in_commands = false;
    for line in out.stdout.lines() {
        if line == "Commands:" {
            in_commands = true;
            continue;
        }
        if !in_commands || !line.starts_with("  ") || line.starts_with("   ") {
            in_commands = in_commands && line.starts_with("   ");
            continue;
        }
        let name = line.split_whitespace().next().unwrap_or_default();
        if name == "help" {
            continue;
        }
        let mut path: Vec<String> = parent.iter().map(ToString::to_string).collect();
        path.push(name.to_string());
        let below: Vec<&str> = path.iter().map(String::as_str).collect();
        let deeper = subcommands(bin, &below);
        found.push(path);
        found.extend(deeper);
    }
    found
}

/// Issue 16: completions and man pages exist for every subcommand. Each
/// binary's `man --out DIR` writes one page per (sub)command, named as
/// Debian expects (`ferry-index-build.1`), and nothing else; each shell's
/// completion script names every subcommand, and the bash one is valid
/// bash.
#[test]
fn completions_and_man_pages_cover_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    for bin in ["ferry", "ferry-verify", "ferry-mirror", "ferry-handoff"] {
        let subs = subcommands(bin, &[]);
        assert!(
            subs.iter().any(|s| s == &["completions"]),
            "{bin}: {subs:?}"
        );

        let dir = tmp.path().join(bin);
        ferry_tests::cmd(bin)
            .arg("man")
            .arg("--out")
            .arg(&dir)
            .run()
            .ok();
        let mut pages: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        pages.sort();
        let mut expected: Vec<String> = std::iter::once(format!("{bin}.1"))
            .chain(subs.iter().map(|s| format!("{bin}-{}.1", s.join("-"))))
            .collect();
        expected.sort();
        assert_eq!(pages, expected, "{bin}: man pages");
        let top = std::fs::read_to_string(dir.join(format!("{bin}.1"))).unwrap();
        assert!(top.contains(&format!(".TH {bin} 1")), "{top}");

        for shell in ["bash", "zsh", "fish"] {
            let out = ferry_tests::cmd(bin).args(["completions", shell]).run();
            out.ok();
            for s in &subs {
                let leaf = s.last().unwrap();
                assert!(
                    out.stdout.contains(leaf.as_str()),
                    "{bin} {shell}: no {leaf}"
                );
            }
            if shell == "bash" && ferry_tests::have("bash") {
                let script = tmp.path().join(format!("{bin}.bash"));
                std::fs::write(&script, &out.stdout).unwrap();
                ferry_tests::program("bash")
                    .arg("-n")
                    .arg(&script)
                    .run()
                    .ok();
            }
        }
    }
}
