//! The one home of "an image is intact": from a root digest, every blob
//! the image reaches (index → the platform's manifest → config and layers)
//! is read, its size and SHA-256 checked while it streams, and only then
//! are a manifest's bytes parsed to find the next blobs.

use std::collections::HashSet;
use std::io::Read;

use ferry_manifests::digest::OciDigest;

use crate::error::{Error, Result};
use crate::media::DocKind;
use crate::model::{Descriptor, Document, Expect, MAX_MANIFEST_BYTES, parse_document};
use crate::platform::{PlatformName, select};
use crate::verify::VerifyingReader;

/// Where blobs come from: an image layout, the mirror's blob store, a
/// registry. Implementations open by digest only.
pub trait BlobSource {
    /// Opens a blob for reading.
    ///
    /// # Errors
    /// [`Error::Missing`] when the source does not hold it; other errors as
    /// they come.
    fn open(&self, blob: &OciDigest) -> Result<Box<dyn Read + '_>>;

    /// For a source whose blobs were each checked against their digest
    /// elsewhere (a bundle's files, hashed against the signed manifest as
    /// they streamed by): the size of `blob`, so the walk checks the size
    /// against the descriptor without reading the bytes again (and the
    /// sink is not called for it). `None` (the default): read and check.
    fn checked_size(&self, blob: &OciDigest) -> Option<Result<u64>> {
        let _ = blob;
        None
    }
}

/// What a blob is to the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobRole {
    /// The image index (only ever the root).
    Index,
    /// An image manifest.
    Manifest,
    /// A manifest's config.
    Config,
    /// A layer.
    Layer,
}

/// A blob the walk reached and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// Its digest.
    pub digest: OciDigest,
    /// Its size.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// What it is.
    pub role: BlobRole,
}

/// Receives each blob's bytes as the walk checks them. The reader yields
/// the blob and fails (`InvalidData`) on a wrong size or digest; whatever
/// the sink made of the bytes must not count until the walk succeeds.
pub type Sink<'s> = dyn FnMut(&Reached, &mut dyn Read) -> Result<()> + 's;

/// Walks the image `root` in `source` for `platform`, checking every
/// reachable blob, and returns them in order (root first, each once).
///
/// A root that is an index must list exactly one image manifest for the
/// platform; the manifests for other platforms are not reached (a layout
/// ferry pulled holds only the one it needs). A root that is an image
/// manifest is the image whatever the platform (its vendor pinned it).
/// Nested indexes are refused.
///
/// # Errors
/// The first blob that is missing, of the wrong size or digest, or (for a
/// manifest or index) malformed, named by digest; or what `sink` returns.
pub fn walk(
    source: &dyn BlobSource,
    root: &OciDigest,
    platform: &PlatformName,
    sink: &mut Sink<'_>,
) -> Result<Vec<Reached>> {
    let mut w = Walker {
        source,
        sink,
        seen: HashSet::new(),
        reached: Vec::new(),
    };
    let (doc, reached) = w.document(Expect::digest(root), None)?;
    match doc {
        Document::Manifest(m) => w.image(&m.config, &m.layers)?,
        Document::Index(index) => {
            let chosen = select(reached.digest, &index, platform)?;
            let (doc, _) = w.document(Expect::descriptor(chosen), Some(BlobRole::Manifest))?;
            let Document::Manifest(m) = doc else {
                return Err(Error::format(
                    chosen.digest,
                    "(document)",
                    "an image index inside an image index is not supported",
                ));
            };
            w.image(&m.config, &m.layers)?;
        }
    }
    Ok(w.reached)
}

/// Sums the sizes of the blobs reached: an artifact's `size` (SPEC §3.12).
#[must_use]
pub fn total_size(reached: &[Reached]) -> u64 {
    reached.iter().fold(0u64, |a, r| a.saturating_add(r.size))
}

struct Walker<'a, 's, 'k> {
    source: &'a dyn BlobSource,
    sink: &'k mut Sink<'s>,
    seen: HashSet<OciDigest>,
    reached: Vec<Reached>,
}

impl Walker<'_, '_, '_> {
    /// Reads a manifest or index into memory (capped), checks it, parses
    /// those bytes and hands them to the sink.
    fn document(
        &mut self,
        expect: Expect<'_>,
        role: Option<BlobRole>,
    ) -> Result<(Document, Reached)> {
        let blob = *expect.digest;
        let cap = expect
            .size
            .unwrap_or(MAX_MANIFEST_BYTES)
            .min(MAX_MANIFEST_BYTES);
        if expect.size.is_some_and(|s| s > MAX_MANIFEST_BYTES) {
            return Err(Error::TooLarge {
                blob,
                what: "an image manifest or index",
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let mut bytes = Vec::new();
        let reader = self.source.open(&blob)?;
        reader
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Read { blob, source })?;
        let doc = parse_document(&bytes, expect)?;
        let role = role.unwrap_or(match doc {
            Document::Index(_) => BlobRole::Index,
            Document::Manifest(_) => BlobRole::Manifest,
        });
        let reached = Reached {
            digest: blob,
            size: bytes.len() as u64,
            media_type: doc.media_type().to_string(),
            role,
        };
        self.seen.insert(blob);
        (self.sink)(&reached, &mut &bytes[..])?;
        self.reached.push(reached.clone());
        Ok((doc, reached))
    }

    fn image(&mut self, config: &Descriptor, layers: &[Descriptor]) -> Result<()> {
        self.blob(config, BlobRole::Config)?;
        for l in layers {
            if DocKind::of(&l.media_type).is_some() {
                return Err(Error::format(
                    l.digest,
                    "(descriptor)",
                    "a layer with a manifest media type",
                ));
            }
            self.blob(l, BlobRole::Layer)?;
        }
        Ok(())
    }

    /// Streams one blob through the sink, checked as it goes.
    fn blob(&mut self, d: &Descriptor, role: BlobRole) -> Result<()> {
        if !self.seen.insert(d.digest) {
            return Ok(());
        }
        let reached = Reached {
            digest: d.digest,
            size: d.size,
            media_type: d.media_type.clone(),
            role,
        };
        if let Some(size) = self.source.checked_size(&d.digest) {
            let size = size?;
            if size != d.size {
                return Err(Error::SizeMismatch {
                    blob: d.digest,
                    expected: d.size,
                    actual: size,
                });
            }
            self.reached.push(reached);
            return Ok(());
        }
        let inner = self.source.open(&d.digest)?;
        let mut reader = VerifyingReader::new(inner, d.digest, d.size);
        let out = (self.sink)(&reached, &mut reader);
        // The blob's own failure is the cause, whatever the sink made of it.
        if let Some(e) = reader.failure() {
            return Err(e);
        }
        out?;
        reader.finish()?;
        self.reached.push(reached);
        Ok(())
    }
}

/// A sink that only reads (the walk then is a pure check).
///
/// # Errors
/// Never on its own; the reader's failure surfaces through the walk.
pub fn discard(r: &Reached, reader: &mut dyn Read) -> Result<()> {
    std::io::copy(reader, &mut std::io::sink()).map_err(|source| Error::Read {
        blob: r.digest,
        source,
    })?;
    Ok(())
}

#[cfg(test)]
#[path = "walk_tests.rs"]
mod tests;
