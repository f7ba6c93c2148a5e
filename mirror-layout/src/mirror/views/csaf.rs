//! CSAF 2.0 security advisories (SPEC §3.13): each advisory of the feed as
//! `feed/csaf/<file>.json` (file name by the CSAF rule: the tracking id in
//! lower case, other characters than `+`, `-`, `a-z`, `0-9` as `_`), with
//! `index.txt` and `changes.csv` beside them as a CSAF aggregator's
//! directory distribution expects. The product tree holds every version
//! the mirror carries; `known_affected` and `fixed` come from each
//! advisory's `affected` range and `fixed_in`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use ferry_manifests::release::Advisory;
use ferry_manifests::time::Timestamp;
use semver::Version;

use super::ViewFile;
use crate::mirror::index::MirrorIndex;

/// The folder.
pub const DIR: &str = "feed/csaf";

/// The CSAF file name of an advisory id.
#[must_use]
pub fn file_name(id: &str) -> String {
    let name: String = id
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '+' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.json")
}

/// Each advisory once (by id), with the first time a release carrying it
/// was published.
fn advisories(index: &MirrorIndex) -> BTreeMap<String, (&Advisory, Timestamp)> {
    let mut out: BTreeMap<String, (&Advisory, Timestamp)> = BTreeMap::new();
    for r in &index.releases {
        for a in &r.advisories {
            let e = out.entry(a.id.to_string()).or_insert((a, r.published));
            if r.published < e.1 {
                e.1 = r.published;
            }
        }
    }
    out
}

fn product_id(product: &str, v: &Version) -> String {
    format!("CSAFPID-{product}-{v}")
}

/// Every CSAF advisory document of the mirror, with its path.
#[must_use]
pub fn documents(index: &MirrorIndex) -> Vec<(String, Value)> {
    let mut versions: Vec<&Version> = index.releases.iter().map(|r| &r.version).collect();
    versions.sort();
    versions.dedup();
    advisories(index)
        .into_values()
        .map(|(a, date)| {
            (
                format!("{DIR}/{}", file_name(a.id.as_str())),
                advisory(index, a, date, &versions),
            )
        })
        .collect()
}

/// `index.txt` and `changes.csv` (CSAF §7.1.13, §7.1.14).
#[must_use]
pub fn listings(index: &MirrorIndex) -> Vec<ViewFile> {
    let all = advisories(index);
    let mut txt = String::new();
    let mut by_date: Vec<(String, Timestamp)> = all
        .values()
        .map(|(a, d)| (file_name(a.id.as_str()), *d))
        .collect();
    for (f, _) in &by_date {
        txt.push_str(f);
        txt.push('\n');
    }
    by_date.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let csv: String = by_date
        .iter()
        .map(|(f, d)| format!("\"{f}\",\"{d}\"\n"))
        .collect();
    vec![
        ViewFile {
            path: format!("{DIR}/index.txt"),
            content: txt,
        },
        ViewFile {
            path: format!("{DIR}/changes.csv"),
            content: csv,
        },
    ]
}

fn advisory(index: &MirrorIndex, a: &Advisory, date: Timestamp, versions: &[&Version]) -> Value {
    let product = index.product.as_str();
    let vendor = format!("{product} vendor");
    let mut affected = Vec::new();
    let mut fixed = Vec::new();
    let mut not_affected = Vec::new();
    for v in versions {
        let id = product_id(product, v);
        if a.affects(v) {
            affected.push(id);
        } else if a.fixed_in.as_ref().is_some_and(|f| *v >= f) {
            fixed.push(id);
        } else {
            not_affected.push(id);
        }
    }
    let mut status = serde_json::Map::new();
    for (k, list) in [
        ("known_affected", &affected),
        ("fixed", &fixed),
        ("known_not_affected", &not_affected),
    ] {
        if !list.is_empty() {
            status.insert(k.into(), json!(list));
        }
    }
    let mut vuln = json!({
        "title": a.summary,
        "notes": [{"category": "description", "title": "Description", "text": a.summary}],
        "product_status": status,
        "threats": [{"category": "impact", "details": format!("Severity: {:?}", a.severity).to_lowercase()}],
    });
    if !affected.is_empty() {
        let details = match &a.fixed_in {
            Some(f) => {
                format!("Upgrade to {product} {f} or later (ferry-handoff check plans the path).")
            }
            None => "No fixed version yet; see the vendor's advice.".to_string(),
        };
        vuln["remediations"] = json!([{
            "category": if a.fixed_in.is_some() { "vendor_fix" } else { "none_available" },
            "details": details,
            "product_ids": affected,
        }]);
    }
    let branches: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "category": "product_version",
                "name": v.to_string(),
                "product": {"product_id": product_id(product, v), "name": format!("{product} {v}")},
            })
        })
        .collect();
    json!({
        "document": {
            "category": "csaf_security_advisory",
            "csaf_version": "2.0",
            "lang": "en",
            "title": format!("{product}: {}", a.summary),
            "publisher": {
                "category": "vendor",
                "name": vendor,
                "namespace": format!("urn:ferry:{product}"),
            },
            "notes": [{"category": "summary", "title": "Summary", "text": a.summary}],
            "aggregate_severity": {"text": format!("{:?}", a.severity).to_lowercase()},
            "tracking": {
                "id": a.id.as_str(),
                "status": "final",
                "version": "1",
                "initial_release_date": date.to_string(),
                "current_release_date": date.to_string(),
                "revision_history": [{"number": "1", "date": date.to_string(), "summary": "Initial version."}],
                "generator": {"engine": {"name": "ferry", "version": env!("CARGO_PKG_VERSION")}},
            },
        },
        "product_tree": {"branches": [{
            "category": "vendor",
            "name": vendor,
            "branches": [{"category": "product_name", "name": product, "branches": branches}],
        }]},
        "vulnerabilities": [vuln],
    })
}
