//! Upgrade paths (SPEC §3.2, §4 `ferry-handoff check`): from the running
//! version to a target over the releases a mirror holds.
//!
//! Rules: a hop A → B is allowed when B is newer and A is in B's
//! `supported_from` range (absent: at most two major versions older); a
//! yanked release is never a target nor a hop; a `required` release between
//! the running version and the target is never skipped; among the paths
//! that remain, the fewest hops win, then the newest version at each hop.

use std::collections::HashMap;

use ferry_manifests::release::Advisory;
use semver::Version;

use ferry_mirror_layout::error::{Error, Result};

pub use ferry_manifests::hops::Candidate;

/// The newest version that is not yanked.
#[must_use]
pub fn latest(candidates: &[Candidate]) -> Option<&Version> {
    candidates
        .iter()
        .filter(|c| !c.yanked)
        .map(|c| &c.version)
        .max()
}

/// The versions, ordered, from `current` (excluded) to `target` (included).
/// An empty path means `current` is already `target`.
///
/// # Errors
/// [`Error::Refused`] naming the target, the gap, and the hops that work.
pub fn plan(current: &Version, target: &Version, candidates: &[Candidate]) -> Result<Vec<Version>> {
    if current == target {
        return Ok(Vec::new());
    }
    if target < current {
        return Err(refused(
            target,
            format!("is older than the running version {current}; ferry plans upgrades only"),
        ));
    }
    let usable: Vec<&Candidate> = candidates.iter().filter(|c| !c.yanked).collect();
    let Some(target_c) = candidates.iter().find(|c| &c.version == target) else {
        return Err(refused(
            target,
            "is not on the mirror for this channel and profile".to_string(),
        ));
    };
    if target_c.yanked {
        return Err(refused(
            target,
            "was yanked by the vendor and is never an upgrade target".to_string(),
        ));
    }
    // Waypoints: every required (not yanked) release strictly between.
    let mut waypoints: Vec<&Version> = usable
        .iter()
        .filter(|c| c.required && &c.version > current && &c.version < target)
        .map(|c| &c.version)
        .collect();
    waypoints.sort();
    waypoints.push(target);
    let mut path = Vec::new();
    let mut from = current.clone();
    for w in waypoints {
        let segment =
            shortest(&from, w, &usable).ok_or_else(|| no_path(&from, w, &usable, target))?;
        path.extend(segment);
        from = w.clone();
    }
    Ok(path)
}

/// Fewest hops from `from` to `to` through versions in (from, to], newest
/// at each hop. `None` if there is no path.
fn shortest(from: &Version, to: &Version, usable: &[&Candidate]) -> Option<Vec<Version>> {
    let nodes: Vec<&Candidate> = usable
        .iter()
        .copied()
        .filter(|c| &c.version > from && &c.version <= to)
        .collect();
    // Distance to `to`, computed backwards (versions only go up, so the
    // graph is acyclic: process from the newest down).
    let mut sorted = nodes.clone();
    sorted.sort_by(|a, b| b.version.cmp(&a.version));
    let mut dist: HashMap<&Version, usize> = HashMap::new();
    for n in &sorted {
        if &n.version == to {
            dist.insert(&n.version, 0);
            continue;
        }
        let best = sorted
            .iter()
            .filter(|m| m.accepts_from(&n.version))
            .filter_map(|m| dist.get(&m.version))
            .min();
        if let Some(d) = best {
            dist.insert(&n.version, d + 1);
        }
    }
    nodes.iter().find(|c| &c.version == to)?;
    let mut path = Vec::new();
    let mut cur = from.clone();
    loop {
        if &cur == to {
            return Some(path);
        }
        let here = if &cur == from {
            nodes
                .iter()
                .filter(|m| m.accepts_from(&cur))
                .filter_map(|m| dist.get(&m.version))
                .min()
                .map(|d| d + 1)?
        } else {
            *dist.get(&cur)?
        };
        // Newest successor one step closer.
        let next = sorted
            .iter()
            .filter(|m| m.accepts_from(&cur))
            .find(|m| dist.get(&m.version) == Some(&(here - 1)))?;
        path.push(next.version.clone());
        cur = next.version.clone();
    }
}

fn no_path(from: &Version, to: &Version, usable: &[&Candidate], target: &Version) -> Error {
    let to_c = usable.iter().find(|c| &c.version == to);
    let reachable: Vec<String> = usable
        .iter()
        .filter(|c| c.accepts_from(from) && &c.version <= target)
        .map(|c| c.version.to_string())
        .collect();
    let mut reason = format!("no upgrade path from {from}");
    if let Some(c) = to_c {
        reason.push_str(&format!(": {to} accepts upgrades from {}", c.range_text()));
    }
    if to != target {
        reason.push_str(&format!(
            " and {to} is a required release that may not be skipped"
        ));
    }
    if reachable.is_empty() {
        reason.push_str(&format!(
            "; no release on the mirror accepts an upgrade from {from}: an intermediate release (e.g. {}.x) is missing",
            from.major + 1
        ));
    } else {
        reason.push_str(&format!(
            "; hops that work from {from}: {}",
            reachable.join(", ")
        ));
    }
    refused(target, reason)
}

fn refused(target: &Version, reason: String) -> Error {
    Error::Refused {
        what: format!("upgrade to {target}"),
        reason,
    }
}

/// The advisories that affect `version`.
#[must_use]
pub fn affecting<'a>(version: &Version, advisories: &'a [Advisory]) -> Vec<&'a Advisory> {
    let mut seen = std::collections::HashSet::new();
    advisories
        .iter()
        .filter(|a| a.affects(version))
        .filter(|a| seen.insert(a.id.as_str().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use semver::VersionReq;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn c(ver: &str, from: Option<&str>, required: bool, yanked: bool) -> Candidate {
        Candidate {
            version: v(ver),
            supported_from: from.map(|f| VersionReq::parse(f).unwrap()),
            required,
            yanked,
        }
    }

    /// The demo's catalogue.
    fn catalogue() -> Vec<Candidate> {
        vec![
            c("1.4.0", None, false, false),
            c("2.0.0", Some(">=1.2.0"), true, false),
            c("2.4.0", Some(">=2.0.0"), false, false),
            c("3.0.0", Some(">=2.0.0"), false, true),
            c("3.1.4", Some(">=2.0.0"), false, false),
            c("3.2.1", Some(">=2.0.0"), false, false),
        ]
    }

    #[test]
    fn table() {
        let cat = catalogue();
        // (current, target, expected path or Err(needle))
        type Want = std::result::Result<&'static [&'static str], &'static str>;
        let cases: &[(&str, &str, Want)] = &[
            ("3.2.1", "3.2.1", Ok(&[])),
            // A direct hop.
            ("2.4.0", "3.2.1", Ok(&["3.2.1"])),
            ("3.1.4", "3.2.1", Ok(&["3.2.1"])),
            // A required release is never skipped, and newest per hop after it.
            ("1.4.0", "3.2.1", Ok(&["2.0.0", "3.2.1"])),
            // The yanked release is never a target.
            ("2.4.0", "3.0.0", Err("yanked")),
            // Not on the mirror.
            ("2.4.0", "9.9.9", Err("not on the mirror")),
            // Two hops before the required release, one after.
            ("0.9.0", "3.2.1", Ok(&["1.4.0", "2.0.0", "3.2.1"])),
            // Downgrades are refused.
            ("3.2.1", "2.4.0", Err("older than the running version")),
        ];
        for (cur, tgt, want) in cases {
            let got = plan(&v(cur), &v(tgt), &cat);
            match (want, got) {
                (Ok(p), Ok(g)) => {
                    let g: Vec<String> = g.iter().map(ToString::to_string).collect();
                    assert_eq!(&g, p, "{cur} -> {tgt}");
                }
                (Err(n), Err(e)) => assert!(e.to_string().contains(n), "{cur} -> {tgt}: {e}"),
                (w, g) => panic!("{cur} -> {tgt}: wanted {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn a_jump_of_more_than_two_majors_needs_an_intermediate() {
        let cat = vec![
            c("1.0.0", None, false, false),
            c("2.5.0", None, false, false),
            c("3.0.0", None, false, false),
            c("4.1.0", None, false, false),
        ];
        // 1 -> 4 is three majors: one intermediate, the newest that works (3.0.0).
        let p = plan(&v("1.0.0"), &v("4.1.0"), &cat).unwrap();
        assert_eq!(p, vec![v("3.0.0"), v("4.1.0")]);
        // Without any intermediate there is no path, and the error says what is missing.
        let cat = vec![
            c("1.0.0", None, false, false),
            c("4.1.0", None, false, false),
        ];
        let e = plan(&v("1.0.0"), &v("4.1.0"), &cat)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no upgrade path from 1.0.0") && e.contains("2.x"),
            "{e}"
        );
    }

    #[test]
    fn required_but_unreachable_names_the_required_release() {
        let cat = vec![
            c("2.0.0", Some(">=1.5.0"), true, false),
            c("2.2.0", Some(">=1.0.0"), false, false),
        ];
        let e = plan(&v("1.0.0"), &v("2.2.0"), &cat)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2.0.0 is a required release"), "{e}");
    }

    #[test]
    fn a_yanked_release_is_never_a_hop() {
        // 3.0.0 is the only bridge from 1.x to 4.x, but it was yanked.
        let cat = vec![
            c("1.0.0", None, false, false),
            c("3.0.0", None, false, true),
            c("4.1.0", None, false, false),
        ];
        let e = plan(&v("1.0.0"), &v("4.1.0"), &cat)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no upgrade path from 1.0.0"), "{e}");
        // A yanked required release is no waypoint either.
        let cat = vec![c("2.0.0", None, true, true), c("2.1.0", None, false, false)];
        assert_eq!(
            plan(&v("1.5.0"), &v("2.1.0"), &cat).unwrap(),
            vec![v("2.1.0")]
        );
    }

    #[test]
    fn latest_ignores_yanked() {
        let mut cat = catalogue();
        cat.push(c("3.3.0", None, false, true));
        assert_eq!(latest(&cat), Some(&v("3.2.1")));
    }

    /// A small deterministic generator (xorshift), so the property test
    /// needs no extra crate and every failure replays.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A generated release history: versions over several majors, some
    /// required, some yanked, some with an explicit one-hop range.
    fn history(g: &mut Gen) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = Vec::new();
        let n = 2 + g.below(12);
        let mut cur = (1u64, 0u64, 0u64);
        for _ in 0..n {
            match g.below(4) {
                0 => cur = (cur.0 + 1, 0, 0),
                1 => cur = (cur.0, cur.1 + 1, 0),
                _ => cur = (cur.0, cur.1, cur.2 + 1),
            }
            let version = Version::new(cur.0, cur.1, cur.2);
            let supported_from = match g.below(4) {
                0 => {
                    Some(VersionReq::parse(&format!(">={}.0.0", cur.0.saturating_sub(1))).unwrap())
                }
                1 => Some(VersionReq::parse(&format!(">={}.{}.0", cur.0, cur.1)).unwrap()),
                _ => None,
            };
            out.push(Candidate {
                version,
                supported_from,
                required: g.below(5) == 0,
                yanked: g.below(6) == 0,
            });
        }
        out
    }

    /// Property (issue 15): over generated histories, every path the
    /// planner gives is a walk in the update graph (edges =
    /// `hops::edges`, what the mirror's graphs hold), and no edge of the
    /// graph skips a required release or touches a yanked one.
    #[test]
    fn planner_paths_are_walks_in_the_graph_and_no_edge_breaks_a_rule() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let mut walks = 0;
        for _ in 0..500 {
            let all = history(&mut g);
            let edges = ferry_manifests::hops::edges(&all);
            for &(i, j) in &edges {
                let (a, b) = (&all[i], &all[j]);
                assert!(!a.yanked && !b.yanked, "edge touches a yanked release");
                assert!(a.version < b.version);
                assert!(
                    !all.iter().any(|r| r.required
                        && !r.yanked
                        && r.version > a.version
                        && r.version < b.version),
                    "edge {} -> {} skips a required release",
                    a.version,
                    b.version
                );
            }
            let pos = |v: &Version| all.iter().position(|c| &c.version == v).unwrap();
            for from in all.iter().filter(|c| !c.yanked) {
                for to in all.iter().filter(|c| c.version > from.version) {
                    let Ok(path) = plan(&from.version, &to.version, &all) else {
                        continue;
                    };
                    let mut cur = pos(&from.version);
                    for hop in &path {
                        let next = pos(hop);
                        assert!(
                            edges.contains(&(cur, next)),
                            "planner hop {} -> {} is not a graph edge ({all:?})",
                            all[cur].version,
                            hop
                        );
                        cur = next;
                    }
                    walks += 1;
                }
            }
        }
        assert!(walks > 1000, "only {walks} paths checked");
    }
}
