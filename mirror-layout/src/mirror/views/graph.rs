//! Update graphs (SPEC §3.13) in the Cincinnati format of OpenShift Update
//! Service: one per channel, profile and platform, at
//! `feed/graph/<channel>/<profile>/<platform>.json`. Nodes are the
//! releases that are not yanked; edges are exactly the hops
//! [`ferry_manifests::hops`] allows (the hand-off planner's rule); node
//! metadata values are strings, as Cincinnati requires.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use ferry_manifests::hops::{self, Candidate};
use ferry_manifests::name::Name;

use crate::mirror::index::{MirrorArtifact, MirrorIndex, MirrorRelease};

/// The graph path of one selection.
#[must_use]
pub fn path(channel: &str, profile: &str, platform: &str) -> String {
    format!("feed/graph/{channel}/{profile}/{platform}.json")
}

/// Every platform some artifact of the mirror is built for.
#[must_use]
pub fn platforms(index: &MirrorIndex) -> BTreeSet<Name> {
    index
        .releases
        .iter()
        .flat_map(|r| r.artifacts.iter().map(|a| a.platform.clone()))
        .collect()
}

/// Every graph document of the mirror, with its path.
#[must_use]
pub fn documents(index: &MirrorIndex) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for channel in &index.channels {
        for profile in &index.profiles {
            for platform in platforms(index) {
                out.push((
                    path(channel.as_str(), profile.as_str(), platform.as_str()),
                    graph(index, channel, profile, &platform),
                ));
            }
        }
    }
    out
}

fn artifact<'a>(
    r: &'a MirrorRelease,
    profile: &Name,
    platform: &Name,
) -> Option<&'a MirrorArtifact> {
    r.artifacts
        .iter()
        .find(|a| &a.profile == profile && &a.platform == platform)
}

/// The graph of one channel, profile and platform.
#[must_use]
pub fn graph(index: &MirrorIndex, channel: &Name, profile: &Name, platform: &Name) -> Value {
    let mut releases: Vec<(&MirrorRelease, &MirrorArtifact)> = index
        .releases
        .iter()
        .filter(|r| r.channels.contains(channel) && r.yanked.is_none())
        .filter_map(|r| artifact(r, profile, platform).map(|a| (r, a)))
        .collect();
    releases.sort_by(|a, b| a.0.version.cmp(&b.0.version));
    let candidates: Vec<Candidate> = releases
        .iter()
        .map(|(r, _)| Candidate {
            version: r.version.clone(),
            supported_from: r.supported_from.clone(),
            required: r.required,
            yanked: false,
        })
        .collect();
    let all_advisories: Vec<&ferry_manifests::release::Advisory> = index
        .releases
        .iter()
        .flat_map(|r| r.advisories.iter())
        .collect();
    let nodes: Vec<Value> = releases
        .iter()
        .map(|(r, a)| {
            let mut ids: Vec<String> = all_advisories
                .iter()
                .filter(|adv| adv.affects(&r.version))
                .map(|adv| adv.id.to_string())
                .collect();
            ids.sort();
            ids.dedup();
            json!({
                "version": r.version.to_string(),
                "payload": a.path.as_str(),
                "metadata": {
                    "io.ferry.sha256": a.sha256.to_string(),
                    "io.ferry.size": a.size.to_string(),
                    "io.ferry.required": r.required.to_string(),
                    "io.ferry.advisories": ids.join(","),
                    "io.ferry.supported_from": candidates
                        .iter()
                        .find(|c| c.version == r.version)
                        .map(Candidate::range_text)
                        .unwrap_or_default(),
                    "url": a.path.as_str(),
                }
            })
        })
        .collect();
    let edges: Vec<Value> = hops::edges(&candidates)
        .into_iter()
        .map(|(i, j)| json!([i, j]))
        .collect();
    json!({
        "version": 1,
        "nodes": nodes,
        "edges": edges,
        "conditionalEdges": [],
    })
}
