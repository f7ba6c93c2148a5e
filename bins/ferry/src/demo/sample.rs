//! The built-in sample vendor "novantra": releases over four major
//! versions, a preview-only version, a `required` release, a yanked one,
//! two profiles, two platforms and advisories. Artifacts are a few MiB of
//! deterministic bytes, so every run builds the same files: a `.deb` for
//! `linux-amd64` and a container image for `linux-arm64` (an OCI image
//! layout built with ferry-oci: three tiny layers, the first two shared by
//! every version, so the mirror's one-copy-per-blob store shows).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use ferry_oci::LayoutWriter;
use ferry_oci::image::{self, ImageSpec};
use ferry_oci::layout::LayoutIndex;

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

/// (platform, format, file name pattern, size in bytes); an `oci` artifact
/// is the image [`build_images`] wrote, its layout `<name>.oci`.
const PLATFORMS: &[(&str, &str, &str, usize)] = &[
    ("linux-amd64", "deb", "novantra_{v}_amd64.deb", 3 << 20),
    ("linux-arm64", OCI, IMAGE_NAME, 0),
];

const OCI: &str = "oci";

/// The image's name in the index, and its repository under the product.
pub(crate) const IMAGE_NAME: &str = "onprem";
/// The image's repository in the vendor's registry.
pub(crate) const IMAGE_REPO: &str = "novantra/onprem";
/// The image's platform.
pub(crate) const IMAGE_PLATFORM: &str = "linux-arm64";

/// Writes the sample vendor folder (SPEC-documented convention of
/// `ferry index build`) under `dir`, its images named as
/// `<registry>/novantra/onprem` (call [`build_images`] first). Returns
/// (releases, artifacts).
pub(crate) fn write_vendor_folder(dir: &Path, registry: &str) -> Result<(usize, usize)> {
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
                artifacts += 1;
                if *format == OCI {
                    writeln!(
                        toml,
                        "image = \"{registry}/{IMAGE_REPO}\"\ntag = \"{}\"\nlayout = \"{name}.oci\"",
                        image_tag(r.version, profile)
                    )?;
                    continue;
                }
                let seed = ((ri as u64) << 16) | ((pi as u64) << 8) | qi as u64;
                write(&vdir.join(profile).join(&name), &det_bytes(seed, *size))?;
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

/// The vendor registry's tag of a release's image: `<version>` for the
/// no-training profile, `<version>-default` for the default one.
fn image_tag(version: &str, profile: &str) -> String {
    if profile == "no-training" {
        version.to_string()
    } else {
        format!("{version}-{profile}")
    }
}

/// The image of release `ri` for profile `pi`: a base layer and a runtime
/// layer every image shares, then the application layer of its own.
fn image_spec(ri: usize, pi: usize, version: &str, profile: &str) -> Result<ImageSpec> {
    let file = |path: &str, bytes: Vec<u8>| vec![(path.to_string(), bytes)];
    let app_seed = 0xA000 | ((ri as u64) << 4) | pi as u64;
    Ok(ImageSpec {
        platform: IMAGE_PLATFORM.parse().map_err(anyhow::Error::msg)?,
        layers: vec![
            file("usr/lib/novantra/base.img", det_bytes(0xBA5E, 192 << 10)),
            file("usr/lib/novantra/runtime.img", det_bytes(0x0007, 96 << 10)),
            file(
                &format!("opt/novantra/app-{version}-{profile}.bin"),
                det_bytes(app_seed, 16 << 10),
            ),
        ],
        with_index: true,
    })
}

/// Builds every release's image twice over: as an OCI image layout in the
/// vendor folder (`<version>/<profile>/onprem.oci/`, what `ferry index
/// build` describes) and into `registry`, one layout holding every tag
/// (what the vendor pushed to its registry; the demo serves it). Returns
/// the number of images.
pub(crate) fn build_images(dir: &Path, registry: &Path) -> Result<usize> {
    let pushed = LayoutWriter::create(registry)?;
    let mut roots = Vec::new();
    for (ri, r) in RELEASES.iter().enumerate() {
        for (pi, profile) in PROFILES.iter().enumerate() {
            let spec = image_spec(ri, pi, r.version, profile)?;
            let tag = image_tag(r.version, profile);
            let layout = dir
                .join(r.version)
                .join(profile)
                .join(format!("{IMAGE_NAME}.oci"));
            let own = LayoutWriter::create(&layout)?;
            let root = image::build(&own, &spec)?;
            own.finish(&root, &tag)?;
            let again = image::build(&pushed, &spec)?;
            anyhow::ensure!(again == root, "the sample image {tag} is not deterministic");
            roots.push(LayoutIndex::single(&root, &tag).manifests.remove(0));
        }
    }
    let index = LayoutIndex {
        schema_version: 2,
        media_type: Some(ferry_oci::media::OCI_INDEX.to_string()),
        manifests: roots,
        annotations: std::collections::BTreeMap::new(),
    };
    write(
        &registry.join(ferry_oci::layout::INDEX_FILE),
        &index.to_bytes(),
    )?;
    Ok(index.manifests.len())
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
