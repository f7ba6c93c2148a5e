//! Issue 11: the CLI surface, pinned. Golden cases under `tests/cmd/`
//! (trycmd): the `--help` of every binary and subcommand, and the exit code
//! and error text of common mistakes (a missing or malformed policy, a
//! public key given as `--key`, `import -`, a mistyped flag). A change to
//! any of them shows up as a diff; `TRYCMD=overwrite cargo test -p
//! ferry-tests --test e2e cli` rewrites them after a deliberate change.

#[test]
fn golden_cli_cases() {
    let cases = trycmd::TestCases::new();
    for b in ["ferry", "ferry-verify", "ferry-mirror", "ferry-handoff"] {
        cases.register_bin(b, ferry_tests::bin(b));
    }
    cases.env("NO_COLOR", "1").case("cmd/*.toml");
}
