//! Small deterministic images, for tests, the demo vendor and fuzz seeds:
//! tar layers made from given files, a config naming their diff IDs, a
//! manifest, and optionally an index over it, written into a layout.

use std::collections::BTreeMap;

use ferry_manifests::digest::OciDigest;

use crate::error::Result;
use crate::layout::LayoutWriter;
use crate::media;
use crate::model::Descriptor;
use crate::platform::PlatformName;

/// What to build.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// The platform (config `os`/`architecture`, index entry).
    pub platform: PlatformName,
    /// The layers, each a list of (path, contents) made into a tar.
    pub layers: Vec<Vec<(String, Vec<u8>)>>,
    /// Whether the root is an image index over the manifest.
    pub with_index: bool,
}

/// A deterministic tar of `files` (0644, owner 0, mtime 0).
#[must_use]
pub fn layer_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(bytes.len() as u64);
        h.set_mtime(0);
        tar.append_data(&mut h, path, &bytes[..])
            .expect("writing a tar into memory");
    }
    tar.into_inner().expect("writing a tar into memory")
}

/// Writes the image into `layout` and returns the root's descriptor (the
/// caller then calls [`LayoutWriter::finish`] with a tag).
///
/// # Errors
/// As [`LayoutWriter::put`].
pub fn build(layout: &LayoutWriter, spec: &ImageSpec) -> Result<Descriptor> {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for files in &spec.layers {
        let bytes = layer_tar(files);
        let d = layout.put(&bytes)?;
        diff_ids.push(d.to_string());
        layers.push(Descriptor::new(media::OCI_LAYER_TAR, d, bytes.len() as u64));
    }
    let config = serde_json::json!({
        "architecture": spec.platform.architecture,
        "os": spec.platform.os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config).expect("json");
    let config = Descriptor::new(media::OCI_CONFIG, layout.put(&config)?, config.len() as u64);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": config,
        "layers": layers,
    });
    let manifest = serde_json::to_vec(&manifest).expect("json");
    let mut root = Descriptor::new(
        media::OCI_MANIFEST,
        layout.put(&manifest)?,
        manifest.len() as u64,
    );
    if spec.with_index {
        root.platform = Some(spec.platform.to_platform());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": [root],
        });
        let index = serde_json::to_vec(&index).expect("json");
        let d: OciDigest = layout.put(&index)?;
        root = Descriptor::new(media::OCI_INDEX, d, index.len() as u64);
    }
    root.annotations = BTreeMap::new();
    Ok(root)
}
