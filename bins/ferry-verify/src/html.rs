//! `ferry-verify report --format html` (issue 16): one self-contained page
//! a security officer can file. No script, no external asset (a Content
//! Security Policy forbids both), and every string that came from a
//! bundle, a mirror or a policy is escaped.

use std::fmt::Write;

use ferry_manifests::manifest::Upstream;

use crate::mirror_report::MirrorReport;
use crate::output::{ProvenanceReport, upstream_text};

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#111}\
h1{margin:0}header{padding:1em 1.2em;border-radius:6px;margin-bottom:1.5em}\
.pass{background:#e6f4ea;border:2px solid #1e7e34}.pass h1{color:#1e7e34}\
table{border-collapse:collapse;width:100%;margin-bottom:1.5em}\
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}code{font:12px ui-monospace,monospace;word-break:break-all}\
.note{color:#555}footer{color:#555;margin-top:2em;font-size:12px}\
@media print{header{border-width:1px}}";

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(title)
    );
}

fn table(out: &mut String, id: &str, headers: &[&str], rows: &[Vec<String>]) {
    let _ = write!(out, "<table id=\"{id}\"><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for cell in r {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// Lines of untrusted text in one table cell: each escaped, `<br>` between.
fn lines<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items
        .into_iter()
        .map(|s| esc(s.as_ref()))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// Vendor signer and Sigstore identity, one escaped line each.
fn upstream_cell(upstream: &[Upstream]) -> String {
    if upstream.is_empty() {
        return "<span class=\"note\">none recorded</span>".into();
    }
    lines(upstream.iter().map(upstream_text))
}

fn trust_chain(out: &mut String, chain: &[ferry_manifests::trust::VersionSummary]) {
    out.push_str("<h2>Trust chain</h2>\n");
    if chain.is_empty() {
        out.push_str("<p id=\"trust-chain\">The policy file alone (version 1).</p>\n");
        return;
    }
    let rows: Vec<Vec<String>> = chain
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                code(&v.sha256.to_string()),
                esc(&v.signed_by_previous.join(", ")),
                esc(&v.signed_by_own.join(", ")),
                lines(&v.changes),
            ]
        })
        .collect();
    let headers = [
        "Version",
        "SHA-256",
        "Signed by previous root",
        "Signed by own root",
        "Changes",
    ];
    table(out, "trust-chain", &headers, &rows);
}

fn footer(out: &mut String, tool: &str, at: &str, policy: &str) {
    let _ = write!(
        out,
        "<footer>Made by {} at {} with the trust policy of SHA-256 {}.</footer>\n</body></html>",
        esc(tool),
        esc(at),
        code(policy)
    );
    out.push('\n');
}

/// The page for a verified bundle.
pub(crate) fn bundle_page(r: &ProvenanceReport<'_>) -> String {
    let mut out = String::new();
    head(
        &mut out,
        &format!("ferry report: {} sequence {}", r.product, r.sequence),
    );
    let _ = write!(
        out,
        "<header class=\"pass\"><h1 id=\"verdict\">VERIFIED</h1><p>{} &mdash; {} sequence {}, \
created {}, expires {}; manifest SHA-256 {}; {} signature(s) by trusted keys, threshold {}.</p></header>",
        esc(r.bundle),
        esc(r.product),
        r.sequence,
        r.created,
        r.expires,
        code(&r.manifest_sha256.to_string()),
        r.transfer_signers.len(),
        r.threshold
    );
    out.push_str("\n<h2>Signers</h2>\n");
    let rows: Vec<Vec<String>> = r
        .transfer_signers
        .iter()
        .map(|k| vec![code(k), "transfer manifest (org key)".into()])
        .collect();
    table(&mut out, "signers", &["Key id", "Signed"], &rows);
    out.push_str("<h2>Artifacts</h2>\n");
    let rows: Vec<Vec<String>> = r
        .artifacts
        .iter()
        .map(|a| {
            vec![
                esc(&a.version),
                code(a.path),
                esc(&format!("{} / {} / {}", a.profile, a.platform, a.format)),
                a.size.map_or_else(String::new, |n| {
                    format!("{} ({n} bytes)", ferry_cli::human_bytes(n))
                }),
                code(a.sha256.as_deref().unwrap_or("")),
                upstream_cell(a.upstream),
                lines(&a.checked_offline),
            ]
        })
        .collect();
    let headers = [
        "Version",
        "Path",
        "Profile / platform / format",
        "Size",
        "SHA-256",
        "Vendor signer, Sigstore identity and log index (as recorded)",
        "Checked offline",
    ];
    table(&mut out, "artifacts", &headers, &rows);
    trust_chain(&mut out, r.trust_chain);
    footer(
        &mut out,
        r.tool,
        &r.verified_at.to_string(),
        &r.policy_sha256.to_string(),
    );
    out
}

/// The page for a verified mirror: verdict, signers, artifacts, chain of
/// custody.
pub(crate) fn mirror_page(r: &MirrorReport<'_>) -> String {
    let mut out = String::new();
    head(
        &mut out,
        &format!(
            "ferry report: mirror of {} (index {})",
            r.product, r.index_sequence
        ),
    );
    let _ = write!(
        out,
        "<header class=\"pass\"><h1 id=\"verdict\">VERIFIED</h1><p>Mirror {} of {}: index sequence {} \
(SHA-256 {}) generated {}, signed by mirror key {}; audit log of {} entries chained to head seq {} \
(SHA-256 {}), as the signed index records. <span class=\"note\">File bytes were not re-hashed: \
<code>ferry-mirror fsck</code> does that.</span></p></header>",
        esc(&r.mirror),
        esc(&r.product),
        r.index_sequence,
        code(&r.index_sha256.to_string()),
        r.index_generated,
        code(&r.index_signed_by),
        r.audit_entries,
        r.audit_head.seq,
        code(&r.audit_head.sha256.to_string())
    );
    out.push_str("\n<h2>Signers</h2>\n");
    let mut rows = vec![vec![
        code(&r.index_signed_by),
        "mirror index (mirror key)".into(),
    ]];
    for i in &r.imports {
        for k in &i.signers {
            rows.push(vec![
                code(k),
                format!("transfer manifest sequence {} (org key)", i.sequence),
            ]);
        }
    }
    table(&mut out, "signers", &["Key id", "Signed"], &rows);
    out.push_str("<h2>Artifacts</h2>\n");
    let rows: Vec<Vec<String>> = r
        .artifacts
        .iter()
        .map(|a| {
            vec![
                esc(&a.version),
                code(a.path),
                esc(&format!("{} / {}", a.profile, a.platform)),
                format!("{} ({} bytes)", ferry_cli::human_bytes(a.size), a.size),
                code(&a.sha256.to_string()),
                upstream_cell(a.upstream),
                a.brought_by
                    .map_or_else(String::new, |d| code(&d.to_string())),
            ]
        })
        .collect();
    let headers = [
        "Version",
        "Path",
        "Profile / platform",
        "Size",
        "SHA-256",
        "Vendor signer, Sigstore identity and log index (as recorded)",
        "Brought by manifest",
    ];
    table(&mut out, "artifacts", &headers, &rows);
    custody(&mut out, r);
    trust_chain(&mut out, &r.trust_chain);
    footer(
        &mut out,
        &r.tool,
        &r.verified_at.to_string(),
        &r.policy_sha256.to_string(),
    );
    out
}

fn custody(out: &mut String, r: &MirrorReport<'_>) {
    out.push_str("<h2>Chain of custody</h2>\n<h3>Imports</h3>\n");
    let rows: Vec<Vec<String>> = r
        .imports
        .iter()
        .map(|i| {
            vec![
                code(&i.manifest_sha256.to_string()),
                i.sequence.to_string(),
                i.created.to_string(),
                i.imported.to_string(),
                esc(&i.signers.join(", ")),
                i.audit_seq
                    .map_or_else(|| "not in the log".into(), |s| format!("line {s}")),
                esc(i.actor.as_deref().unwrap_or("")),
                i.files.to_string(),
            ]
        })
        .collect();
    let headers = [
        "Manifest SHA-256",
        "Sequence",
        "Created",
        "Imported",
        "Signed by",
        "Audit log",
        "By",
        "Files",
    ];
    table(out, "imports", &headers, &rows);
    out.push_str("<h3>Files</h3>\n");
    let rows: Vec<Vec<String>> = r
        .files
        .iter()
        .map(|f| {
            vec![
                code(&f.path),
                f.size.to_string(),
                code(&f.sha256.to_string()),
                f.brought_by.map_or_else(
                    || {
                        let why = if f.path.starts_with(ferry_manifests::trust::MIRROR_DIR) {
                            "trust chain (self-authenticating)"
                        } else {
                            "in no imported manifest"
                        };
                        format!("<span class=\"note\">{why}</span>")
                    },
                    |d| code(&d.to_string()),
                ),
                f.imported.map_or_else(String::new, |t| t.to_string()),
            ]
        })
        .collect();
    let headers = [
        "Path",
        "Bytes",
        "SHA-256",
        "Brought by manifest",
        "Imported",
    ];
    table(out, "files", &headers, &rows);
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn untrusted_text_cannot_open_a_tag_or_leave_an_attribute() {
        assert_eq!(
            esc("<script>alert('x')</script>\"&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"
        );
    }
}
