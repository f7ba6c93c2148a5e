//! `ferry index build` reading an image from an OCI image layout: the
//! root by tag, the walk (every blob checked), digest, total size and the
//! root's bytes (what the vendor signs).

use std::io::Read;
use std::path::Path;

use ferry_manifests::vendor::{ImageDescriber, ImageFacts};

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::platform::PlatformName;
use crate::walk::{Reached, total_size, walk};

/// Describes images from layout folders.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayoutDescriber;

/// Walks the layout `dir` from the root tagged `tag` (or its only root).
///
/// # Errors
/// The layout's or the walk's error, naming the file or blob.
pub fn describe(dir: &Path, tag: Option<&str>, platform: &PlatformName) -> Result<ImageFacts> {
    let layout = Layout::open(dir)?;
    let root = layout.root(tag)?.digest;
    let mut root_bytes = Vec::new();
    let reached = walk(
        &layout,
        &root,
        platform,
        &mut |r: &Reached, data: &mut dyn Read| {
            if r.digest == root {
                data.read_to_end(&mut root_bytes)
                    .map_err(|source| Error::Read {
                        blob: r.digest,
                        source,
                    })?;
            } else {
                std::io::copy(data, &mut std::io::sink()).map_err(|source| Error::Read {
                    blob: r.digest,
                    source,
                })?;
            }
            Ok(())
        },
    )?;
    Ok(ImageFacts {
        digest: root,
        size: total_size(&reached),
        root: root_bytes,
    })
}

impl ImageDescriber for LayoutDescriber {
    fn describe(
        &self,
        layout: &Path,
        tag: Option<&str>,
        platform: &str,
    ) -> std::result::Result<ImageFacts, String> {
        let platform: PlatformName = platform.parse()?;
        describe(layout, tag, &platform).map_err(|e| e.to_string())
    }
}
