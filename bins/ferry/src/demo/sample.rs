//! The built-in sample vendor "novantra": releases over four major
//! versions, a preview-only version, a `required` release, a yanked one,
//! two profiles, two platforms and advisories. Artifacts are a few MiB of
//! deterministic bytes, so every run builds the same files.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

/// One sample release.
struct Release {
    version: &'static str,
    channels: &'static [&'static str],
    published: &'static str,
    supported_from: Option<&'static str>,
    required: bool,
    yanked: Option<&'static str>,
    advisories: &'static [Advisory],
}

struct Advisory {
    id: &'static str,
    severity: &'static str,
    affected: &'static str,
    fixed_in: &'static str,
    summary: &'static str,
}

const NOV_004: Advisory = Advisory {
    id: "NOV-2026-004",
    severity: "high",
    affected: "<3.1.4",
    fixed_in: "3.1.4",
    summary: "Model-import endpoint accepts unsigned archives",
};

const NOV_007: Advisory = Advisory {
    id: "NOV-2026-007",
    severity: "medium",
    affected: ">=2.0.0, <2.4.0",
    fixed_in: "2.4.0",
    summary: "Audit export omits failed logins",
};

const RELEASES: &[Release] = &[
    Release {
        version: "1.4.0",
        channels: &["stable"],
        published: "2025-09-01T00:00:00Z",
        supported_from: None,
        required: false,
        yanked: None,
        advisories: &[],
    },
    Release {
        version: "2.0.0",
        channels: &["stable"],
        published: "2026-01-15T00:00:00Z",
        supported_from: Some(">=1.2.0"),
        required: true,
        yanked: None,
        advisories: &[],
    },
    Release {
        version: "2.4.0",
        channels: &["stable"],
        published: "2026-04-02T00:00:00Z",
        supported_from: Some(">=2.0.0"),
        required: false,
        yanked: None,
        advisories: &[NOV_007],
    },
    Release {
        version: "3.0.0",
        channels: &["stable"],
        published: "2026-07-01T00:00:00Z",
        supported_from: Some(">=2.0.0"),
        required: false,
        yanked: Some("corrupts search indexes on upgrade; use 3.1.4"),
        advisories: &[],
    },
    Release {
        version: "3.1.4",
        channels: &["stable"],
        published: "2026-09-10T00:00:00Z",
        supported_from: Some(">=2.0.0"),
        required: false,
        yanked: None,
        advisories: &[NOV_004],
    },
    Release {
        version: "3.2.1",
        channels: &["preview", "stable"],
        published: "2026-11-01T00:00:00Z",
        supported_from: Some(">=2.0.0"),
        required: false,
        yanked: None,
        advisories: &[],
    },
    Release {
        version: "4.0.0-rc.1",
        channels: &["preview"],
        published: "2026-11-15T00:00:00Z",
        supported_from: Some(">=3.1.0"),
        required: false,
        yanked: None,
        advisories: &[],
    },
];

const PROFILES: &[&str] = &["default", "no-training"];

/// (platform, format, file name pattern, size in bytes)
const PLATFORMS: &[(&str, &str, &str, usize)] = &[
    ("linux-amd64", "deb", "novantra_{v}_amd64.deb", 3 << 20),
    (
        "linux-arm64",
        "tar.gz",
        "novantra-{v}-linux-arm64.tar.gz",
        1 << 20,
    ),
];

/// Writes the sample vendor folder (SPEC-documented convention of
/// `ferry index build`) under `dir`. Returns (releases, artifacts).
pub(crate) fn write_vendor_folder(dir: &Path) -> Result<(usize, usize)> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    write(&dir.join("product.toml"), b"product = \"novantra\"\n")?;
    let mut artifacts = 0;
    for (ri, r) in RELEASES.iter().enumerate() {
        let vdir = dir.join(r.version);
        let mut toml = String::new();
        let chans: Vec<String> = r.channels.iter().map(|c| format!("\"{c}\"")).collect();
        writeln!(toml, "channels = [{}]", chans.join(", "))?;
        writeln!(toml, "published = \"{}\"", r.published)?;
        if let Some(s) = r.supported_from {
            writeln!(toml, "supported_from = \"{s}\"")?;
        }
        if r.required {
            writeln!(toml, "required = true")?;
        }
        if let Some(y) = r.yanked {
            writeln!(toml, "yanked = \"{y}\"")?;
        }
        for a in r.advisories {
            writeln!(
                toml,
                "\n[[advisories]]\nid = \"{}\"\nseverity = \"{}\"\naffected = \"{}\"\nfixed_in = \"{}\"\nsummary = \"{}\"",
                a.id, a.severity, a.affected, a.fixed_in, a.summary
            )?;
        }
        for (pi, profile) in PROFILES.iter().enumerate() {
            for (qi, (platform, format, pattern, size)) in PLATFORMS.iter().enumerate() {
                let name = pattern.replace("{v}", r.version);
                writeln!(
                    toml,
                    "\n[[artifacts]]\nfile = \"{name}\"\nprofile = \"{profile}\"\nplatform = \"{platform}\"\nformat = \"{format}\""
                )?;
                let seed = ((ri as u64) << 16) | ((pi as u64) << 8) | qi as u64;
                write(&vdir.join(profile).join(&name), &det_bytes(seed, *size))?;
                artifacts += 1;
            }
        }
        write(&vdir.join("release.toml"), toml.as_bytes())?;
        let notes = format!(
            "# novantra {v}\n\nSample release notes for the ferry demo.\n\n- channels: {c}\n- published: {p}\n",
            v = r.version,
            c = r.channels.join(", "),
            p = r.published
        );
        write(&vdir.join("NOTES.md"), notes.as_bytes())?;
    }
    Ok((RELEASES.len(), artifacts))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

/// Deterministic pseudo-random bytes (xorshift64).
fn det_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
