//! Issue 2: strict parsing of every format. Each bad input is refused with
//! a message naming the field (SPEC §3; ATTACKS C7–C9, C12).

use ferry_manifests::hints::Hints;
use ferry_manifests::index::ReleaseIndex;
use ferry_manifests::manifest::Manifest;
use ferry_manifests::policy::TrustPolicy;

const D1: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const D2: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn index_doc() -> String {
    format!(
        r#"{{
  "schema": "ferry.release-index/v1",
  "product": "novantra",
  "generated": "2026-11-20T00:00:00Z",
  "releases": [{{
    "version": "3.2.1",
    "channels": ["preview", "stable"],
    "published": "2026-11-01T00:00:00Z",
    "supported_from": ">=2.0.0",
    "notes": {{"url": "3.2.1/NOTES.md", "size": 812, "sha256": "{D1}"}},
    "advisories": [{{"id": "NOV-2026-004", "severity": "high", "affected": "<3.1.4", "fixed_in": "3.1.4", "summary": "x"}}],
    "artifacts": [{{
      "name": "novantra_3.2.1_amd64.deb", "profile": "no-training",
      "platform": "linux-amd64", "format": "deb",
      "url": "3.2.1/no-training/novantra_3.2.1_amd64.deb",
      "size": 73400320, "sha256": "{D2}",
      "signatures": [{{"kind": "minisign", "url": "3.2.1/no-training/novantra_3.2.1_amd64.deb.minisig"}}]
    }}]
  }}]
}}"#
    )
}

fn manifest_doc() -> String {
    format!(
        r#"{{
  "schema": "ferry.manifest/v1",
  "product": "novantra",
  "sequence": 1795318363,
  "created": "2026-11-20T10:00:00Z",
  "expires": "2026-12-20T10:00:00Z",
  "source": {{"index_url": "http://127.0.0.1/index.json", "index_sha256": "{D1}", "fetched": "2026-11-20T09:59:00Z"}},
  "selection": {{"channels": ["stable"], "profiles": ["no-training"]}},
  "releases": [{{"version": "3.2.1", "channels": ["stable"], "published": "2026-11-01T00:00:00Z",
                "supported_from": ">=2.0.0", "required": false, "yanked": null,
                "advisories": [], "notes": "releases/3.2.1/NOTES.md",
                "artifacts": [{{"path": "releases/3.2.1/no-training/app.deb",
                               "profile": "no-training", "platform": "linux-amd64", "format": "deb",
                               "upstream": [{{"kind": "minisign", "path": "releases/3.2.1/no-training/app.deb.minisig", "key_id": "8936E40753ACD100"}}]}}]}}],
  "yanks": [],
  "files": [
    {{"path": "ferry/SHA256SUMS", "size": 10, "sha256": "{D1}"}},
    {{"path": "releases/3.2.1/NOTES.md", "size": 10, "sha256": "{D1}"}},
    {{"path": "releases/3.2.1/no-training/app.deb.minisig", "size": 10, "sha256": "{D1}"}},
    {{"path": "releases/3.2.1/no-training/app.deb", "size": 73400320, "sha256": "{D2}"}}
  ]
}}"#
    )
}

fn hints_doc() -> String {
    format!(
        r#"{{
  "schema": "ferry.hints/v1", "product": "novantra", "generated": "2026-11-20T10:00:00Z", "sequence": 12,
  "channels": {{"stable": {{"no-training": {{"latest": "3.2.1", "versions": ["2.4.0", "3.1.4", "3.2.1"]}}}}}},
  "releases": [{{"version": "3.2.1", "channels": ["stable"], "supported_from": ">=2.0.0",
                "required": false, "yanked": null, "notes": "releases/3.2.1/NOTES.md",
                "artifacts": [{{"profile": "no-training", "path": "releases/3.2.1/no-training/app.deb", "size": 1, "sha256": "{D2}",
                               "platform": "linux-amd64", "format": "deb"}}]}}],
  "advisories": [{{"id": "NOV-2026-004", "severity": "high", "affected": "<3.1.4", "fixed_in": "3.1.4", "summary": "x"}}]
}}"#
    )
}

fn parse_index(s: &str) -> Result<(), String> {
    ReleaseIndex::parse(s.as_bytes(), "index.json")
        .map(|_| ())
        .map_err(|e| e.to_string())
}
fn parse_manifest(s: &str) -> Result<(), String> {
    Manifest::parse(s.as_bytes())
        .map(|_| ())
        .map_err(|e| e.to_string())
}
fn parse_hints(s: &str) -> Result<(), String> {
    Hints::parse(s.as_bytes(), "feed/hints.json")
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Applies `from` → `to` once (the mutation must apply) and expects an
/// error containing every needle.
#[track_caller]
fn refuse(
    parse: fn(&str) -> Result<(), String>,
    doc: &str,
    from: &str,
    to: &str,
    needles: &[&str],
) {
    assert!(doc.contains(from), "mutation {from:?} does not apply");
    let bad = doc.replacen(from, to, 1);
    match parse(&bad) {
        Ok(()) => panic!("accepted a document with {from:?} -> {to:?}"),
        Err(e) => {
            for n in needles {
                assert!(e.contains(n), "{from:?} -> {to:?}: error {e:?} lacks {n:?}");
            }
        }
    }
}

type Parser = fn(&str) -> Result<(), String>;

fn all_docs() -> Vec<(&'static str, Parser, String, &'static str)> {
    vec![
        (
            "index",
            parse_index as Parser,
            index_doc(),
            "ferry.release-index/v1",
        ),
        (
            "manifest",
            parse_manifest as Parser,
            manifest_doc(),
            "ferry.manifest/v1",
        ),
        (
            "hints",
            parse_hints as Parser,
            hints_doc(),
            "ferry.hints/v1",
        ),
    ]
}

#[test]
fn valid_documents_parse() {
    for (name, parse, doc, _) in all_docs() {
        parse(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn unknown_fields_are_refused_by_name() {
    for (_, parse, doc, schema) in all_docs() {
        let from = format!("\"schema\": \"{schema}\"");
        refuse(
            parse,
            &doc,
            &from,
            &format!("{from}, \"colour\": 1"),
            &["unknown field `colour`"],
        );
    }
    refuse(
        parse_index,
        &index_doc(),
        "\"format\": \"deb\"",
        "\"format\": \"deb\", \"mode\": 493",
        &["releases[0].artifacts[0]", "unknown field `mode`"],
    );
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"size\": 73400320",
        "\"size\": 73400320, \"md5\": \"x\"",
        &["files[3]", "unknown field `md5`"],
    );
    refuse(
        parse_hints,
        &hints_doc(),
        "\"latest\": \"3.2.1\"",
        "\"latest\": \"3.2.1\", \"x\": 1",
        &["unknown field `x`"],
    );
}

#[test]
fn duplicate_keys_are_refused_at_any_depth() {
    for (_, parse, doc, _) in all_docs() {
        refuse(
            parse,
            &doc,
            "\"product\": \"novantra\"",
            "\"product\": \"novantra\", \"product\": \"other\"",
            &["duplicate key \"product\""],
        );
    }
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"size\": 73400320",
        "\"size\": 73400320, \"size\": 1",
        &["duplicate key \"files[3].size\""],
    );
    refuse(
        parse_index,
        &index_doc(),
        "\"url\": \"3.2.1/NOTES.md\"",
        "\"url\": \"3.2.1/NOTES.md\", \"url\": \"x\"",
        &["duplicate key \"releases[0].notes.url\""],
    );
    refuse(
        parse_hints,
        &hints_doc(),
        "\"latest\": \"3.2.1\"",
        "\"latest\": \"3.2.1\", \"latest\": \"2.4.0\"",
        &["duplicate key \"channels.stable.no-training.latest\""],
    );
}

#[test]
fn unknown_schema_is_refused_naming_it() {
    for (_, parse, doc, schema) in all_docs() {
        let v2 = schema.replace("/v1", "/v2");
        refuse(parse, &doc, schema, &v2, &["unknown schema", &v2]);
        refuse(
            parse,
            &doc,
            &format!("\"schema\": \"{schema}\","),
            "",
            &["schema: missing"],
        );
    }
    // A document of one kind presented as another (type confusion, ATTACKS A15).
    assert!(
        parse_manifest(&index_doc())
            .unwrap_err()
            .contains("unknown schema \"ferry.release-index/v1\"")
    );
}

#[test]
fn digests_must_be_64_lowercase_hex() {
    let bad_digests = [
        &D2[..63],
        &format!("{D2}0")[..],
        &D2.to_uppercase()[..],
        &D2.replace('a', "g")[..],
    ];
    for bad in bad_digests {
        refuse(
            parse_index,
            &index_doc(),
            D2,
            bad,
            &["releases[0].artifacts[0].sha256", "sha256 digest"],
        );
        refuse(
            parse_manifest,
            &manifest_doc(),
            &format!("\"sha256\": \"{D2}\""),
            &format!("\"sha256\": \"{bad}\""),
            &["files[3].sha256"],
        );
        refuse(
            parse_hints,
            &hints_doc(),
            D2,
            bad,
            &["releases[0].artifacts[0].sha256"],
        );
    }
}

#[test]
fn bad_semver_is_refused_naming_the_field() {
    refuse(
        parse_index,
        &index_doc(),
        "\"version\": \"3.2.1\"",
        "\"version\": \"3.2\"",
        &["releases[0].version"],
    );
    refuse(
        parse_index,
        &index_doc(),
        "\"supported_from\": \">=2.0.0\"",
        "\"supported_from\": \">=two\"",
        &["releases[0].supported_from"],
    );
    refuse(
        parse_index,
        &index_doc(),
        "\"affected\": \"<3.1.4\"",
        "\"affected\": \"<<3\"",
        &["releases[0].advisories[0].affected"],
    );
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"version\": \"3.2.1\"",
        "\"version\": \"v3.2.1\"",
        &["releases[0].version"],
    );
    refuse(
        parse_hints,
        &hints_doc(),
        "\"latest\": \"3.2.1\"",
        "\"latest\": \"3.2.x\"",
        &["channels.stable.no-training.latest"],
    );
}

#[test]
fn every_path_rule_of_3_1_is_refused() {
    let long_component = "a".repeat(256);
    let long_path = format!("releases/{}", ["abcdefgh"; 120].join("/"));
    let cases: Vec<(&str, &str)> = vec![
        ("/etc/passwd", "absolute"),
        ("releases//x", "empty component"),
        ("releases/./x", "\".\""),
        ("releases/../x", "\"..\""),
        ("releases\\\\x", "not allowed"),
        ("releases/C:x", "not allowed"),
        ("releases/caf\u{e9}", "not allowed"),
        ("releases/a b", "not allowed"),
        ("releases/x\\u0000.exe", "not allowed"),
        (&long_component, "255 bytes"),
        (&long_path, "1024 bytes"),
    ];
    for (bad, reason) in cases {
        refuse(
            parse_manifest,
            &manifest_doc(),
            "\"path\": \"releases/3.2.1/NOTES.md\"",
            &format!("\"path\": \"{bad}\""),
            &["files[1].path", "unsafe path", reason],
        );
    }
    // Two paths differing only in case conflict.
    refuse(
        parse_manifest,
        &manifest_doc(),
        "{\"path\": \"ferry/SHA256SUMS\"",
        &format!(
            "{{\"path\": \"releases/3.2.1/notes.md\", \"size\": 1, \"sha256\": \"{D1}\"}},\n    {{\"path\": \"ferry/SHA256SUMS\""
        ),
        &["letter case"],
    );
    // A hint feed path is checked too.
    refuse(
        parse_hints,
        &hints_doc(),
        "releases/3.2.1/no-training/app.deb",
        "../app.deb",
        &["releases[0].artifacts[0].path"],
    );
}

#[test]
fn manifest_placement_rules() {
    // An artifact of one version posing as another's (SPEC §3.3).
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"path\": \"releases/3.2.1/no-training/app.deb\",\n",
        "\"path\": \"releases/3.1.0/no-training/app.deb\",\n",
        &[
            "releases[0].artifacts[0].path",
            "must be directly under releases/3.2.1/no-training/",
        ],
    );
    // A file no release names.
    refuse(
        parse_manifest,
        &manifest_doc(),
        "{\"path\": \"ferry/SHA256SUMS\"",
        &format!(
            "{{\"path\": \"releases/3.2.1/extra.so\", \"size\": 1, \"sha256\": \"{D1}\"}},\n    {{\"path\": \"ferry/SHA256SUMS\""
        ),
        &["releases/3.2.1/extra.so", "not named by any release"],
    );
    // Anything under ferry/ but SHA256SUMS.
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"path\": \"ferry/SHA256SUMS\"",
        "\"path\": \"ferry/evil\"",
        &["ferry/evil"],
    );
    // A listed artifact missing from files.
    refuse(
        parse_manifest,
        &manifest_doc(),
        &format!(
            ",\n    {{\"path\": \"releases/3.2.1/no-training/app.deb\", \"size\": 73400320, \"sha256\": \"{D2}\"}}"
        ),
        "",
        &["not listed in files"],
    );
    // A profile outside the selection.
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"profile\": \"no-training\", \"platform\"",
        "\"profile\": \"default\", \"platform\"",
        &["profile \"default\" is not in the selection"],
    );
    // Numbers: floats, negatives, strings refused (ATTACKS C8).
    for bad in ["1795318363.0", "-1", "\"5\"", "1e3"] {
        refuse(
            parse_manifest,
            &manifest_doc(),
            "\"sequence\": 1795318363",
            &format!("\"sequence\": {bad}"),
            &["sequence"],
        );
    }
    // Times: one fixed RFC 3339 UTC form.
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"created\": \"2026-11-20T10:00:00Z\"",
        "\"created\": \"2026-11-20T10:00:00+01:00\"",
        &["created"],
    );
    refuse(
        parse_manifest,
        &manifest_doc(),
        "\"expires\": \"2026-12-20T10:00:00Z\"",
        "\"expires\": \"2026-11-20T09:00:00Z\"",
        &["expires", "later than created"],
    );
}

fn policy_with(body: &str) -> Result<TrustPolicy, String> {
    let keys = ferry_tests::repo_root().join("keys/demo");
    let dir = tempfile::tempdir().unwrap();
    for k in ["vendor", "org1", "org2", "org3", "mirror"] {
        std::fs::copy(
            keys.join(format!("{k}.pub")),
            dir.path().join(format!("{k}.pub")),
        )
        .unwrap();
    }
    let path = dir.path().join("ferry-trust.toml");
    std::fs::write(&path, body).unwrap();
    TrustPolicy::load(&path).map_err(|e| {
        assert_eq!(
            e.class(),
            ferry_manifests::ErrorClass::Usage,
            "policy errors are configuration errors (exit 2): {e}"
        );
        e.to_string()
    })
}

const POLICY: &str = r#"product = "novantra"
[vendor]
minisign_keys = ["vendor.pub"]
require = ["minisign"]
[transfer]
keys = ["org1.pub", "org2.pub", "org3.pub"]
threshold = 2
max_validity = "45d"
[mirror]
keys = ["mirror.pub"]
channels = ["stable"]
profiles = ["no-training"]
"#;

#[test]
fn trust_policy_is_strict() {
    let p = policy_with(POLICY).unwrap();
    assert_eq!(p.transfer().unwrap().threshold, 2);
    assert_eq!(p.transfer().unwrap().keys.len(), 3);
    let cases: Vec<(String, &str)> = vec![
        (
            POLICY.replace("threshold = 2", "threshold = 2\ncolour = 1"),
            "unknown field `colour`",
        ),
        (
            POLICY.replace("[mirror]", "[mirrors]"),
            "unknown field `mirrors`",
        ),
        (
            POLICY.replace("threshold = 2", "threshold = 2\nthreshold = 3"),
            "duplicate key",
        ),
        (
            POLICY.replace("threshold = 2", "threshold = 0"),
            "at least 1",
        ),
        (
            POLICY.replace("threshold = 2", "threshold = -1"),
            "at least 1",
        ),
        (
            POLICY.replace("threshold = 2", "threshold = 4"),
            "only 3 distinct key",
        ),
        (
            POLICY.replace("threshold = 2", "threshold = 2.0"),
            "threshold",
        ),
        (
            POLICY.replace("threshold = 2", "threshold = \"2\""),
            "threshold",
        ),
        (
            POLICY.replace("\"org3.pub\"", "\"missing.pub\""),
            "transfer.keys[2]",
        ),
        (POLICY.replace("\"45d\"", "\"45 days\""), "max_validity"),
        (
            POLICY.replace("product = \"novantra\"", "product = \"no vantra\""),
            "product",
        ),
        (
            POLICY.replace(
                "\"org1.pub\", \"org2.pub\", \"org3.pub\"",
                "\"RWQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
            ),
            "transfer.keys[0]",
        ),
    ];
    for (body, needle) in cases {
        let e = policy_with(&body).expect_err(needle);
        assert!(e.contains(needle), "expected {needle:?} in {e:?}");
    }
    // The same key listed twice counts once: threshold 3 over {org1, org1, org2} is too high.
    let dup = POLICY
        .replace("\"org3.pub\"", "\"org1.pub\"")
        .replace("threshold = 2", "threshold = 3");
    assert!(
        policy_with(&dup)
            .unwrap_err()
            .contains("only 2 distinct key")
    );
}
