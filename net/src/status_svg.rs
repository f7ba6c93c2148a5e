//! The upgrade graph on the status page (issue 15), as an SVG the page
//! draws itself (no script, nothing from elsewhere): one picture per
//! channel, profile and platform; versions as nodes left to right, the
//! hops the planner allows ([`ferry_manifests::hops`]) as arrows arching
//! above them, required releases drawn with a double border, yanked ones
//! greyed and struck through (they have no arrows), and the advisories that
//! affect a version written under it.

use std::fmt::Write as _;

use ferry_manifests::hops::{self, Candidate};
use ferry_manifests::name::Name;
use ferry_mirror_layout::mirror::index::{MirrorIndex, MirrorRelease};
use ferry_mirror_layout::mirror::views::graph::platforms;

use crate::mirror_serve::esc;

const STEP: usize = 130;
const NODE_W: usize = 96;
const BASE_Y: usize = 170;

/// The "Upgrade graph" section of the status page.
#[must_use]
pub fn section(index: &MirrorIndex) -> String {
    let mut h = String::from("<h2>Upgrade graph</h2>\n");
    for channel in &index.channels {
        for profile in &index.profiles {
            for platform in platforms(index) {
                let _ = writeln!(
                    h,
                    "<h3>{} / {} / {}</h3>",
                    esc(channel.as_str()),
                    esc(profile.as_str()),
                    esc(platform.as_str())
                );
                h.push_str(&svg(index, channel, profile, &platform));
            }
        }
    }
    h
}

fn releases<'a>(
    index: &'a MirrorIndex,
    channel: &Name,
    profile: &Name,
    platform: &Name,
) -> Vec<&'a MirrorRelease> {
    let mut rs: Vec<&MirrorRelease> = index
        .releases
        .iter()
        .filter(|r| r.channels.contains(channel))
        .filter(|r| {
            r.artifacts
                .iter()
                .any(|a| &a.profile == profile && &a.platform == platform)
        })
        .collect();
    rs.sort_by(|a, b| a.version.cmp(&b.version));
    rs
}

/// One graph as an inline SVG.
fn svg(index: &MirrorIndex, channel: &Name, profile: &Name, platform: &Name) -> String {
    let rs = releases(index, channel, profile, platform);
    let cands: Vec<Candidate> = rs
        .iter()
        .map(|r| Candidate {
            version: r.version.clone(),
            supported_from: r.supported_from.clone(),
            required: r.required,
            yanked: r.yanked.is_some(),
        })
        .collect();
    let width = 40 + STEP * rs.len().max(1);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"upgrade-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"260\" \
         role=\"img\" aria-label=\"upgrade graph {} {} {}\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#246\"/></marker></defs>",
        esc(channel.as_str()),
        esc(profile.as_str()),
        esc(platform.as_str())
    );
    let cx = |i: usize| 20 + STEP * i + NODE_W / 2;
    for (i, j) in hops::edges(&cands) {
        let (x1, x2) = (cx(i), cx(j));
        let lift = 30 + 18 * (j - i);
        let _ = writeln!(
            s,
            "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"M{x1},{y} C{x1},{c} {x2},{c} {x2},{y}\" fill=\"none\" stroke=\"#246\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>",
            esc(&rs[i].version.to_string()),
            esc(&rs[j].version.to_string()),
            y = BASE_Y - 20,
            c = (BASE_Y - 20).saturating_sub(lift),
        );
    }
    for (i, r) in rs.iter().enumerate() {
        node(&mut s, index, r, 20 + STEP * i);
    }
    s.push_str("</svg>\n");
    s
}

fn node(s: &mut String, index: &MirrorIndex, r: &MirrorRelease, x: usize) {
    let version = esc(&r.version.to_string());
    let (class, fill, stroke) = match (r.yanked.is_some(), r.required) {
        (true, _) => ("node yanked", "#eee", "#999"),
        (false, true) => ("node required", "#fff4d6", "#a60"),
        (false, false) => ("node", "#eef4ff", "#246"),
    };
    let mut ids: Vec<String> = index
        .releases
        .iter()
        .flat_map(|x| x.advisories.iter())
        .filter(|a| a.affects(&r.version))
        .map(|a| a.id.to_string())
        .collect();
    ids.sort();
    ids.dedup();
    let _ = write!(
        s,
        "<g class=\"{class}\" data-version=\"{version}\"><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"40\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2\"/>",
        y = BASE_Y - 20
    );
    if r.required {
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"34\" rx=\"4\" fill=\"none\" stroke=\"{stroke}\"/>",
            x + 3,
            BASE_Y - 17,
            NODE_W - 6
        );
    }
    let deco = if r.yanked.is_some() {
        " text-decoration=\"line-through\""
    } else {
        ""
    };
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\"{deco}>{version}</text>",
        x + NODE_W / 2,
        BASE_Y + 5
    );
    let label = match (r.yanked.is_some(), r.required) {
        (true, _) => "yanked",
        (false, true) => "required",
        _ => "",
    };
    if !label.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{stroke}\">{label}</text>",
            x + NODE_W / 2,
            BASE_Y + 36
        );
    }
    for (k, id) in ids.iter().enumerate() {
        let _ = write!(
            s,
            "<text class=\"advisory\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#a00\">{}</text>",
            x + NODE_W / 2,
            BASE_Y + 52 + 12 * k,
            esc(id)
        );
    }
    s.push_str("</g>\n");
}
