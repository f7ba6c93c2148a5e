use std::collections::HashMap;

use super::*;
use crate::image::{ImageSpec, build};
use crate::layout::{Layout, LayoutWriter};

fn spec(with_index: bool) -> ImageSpec {
    ImageSpec {
        platform: "linux-amd64".parse().unwrap(),
        layers: vec![
            vec![("etc/os-release".into(), b"ID=test\n".to_vec())],
            vec![("app/bin".into(), vec![7u8; 3000])],
        ],
        with_index,
    }
}

fn layout(with_index: bool) -> (tempfile::TempDir, Descriptor) {
    let tmp = tempfile::tempdir().unwrap();
    let w = LayoutWriter::create(tmp.path()).unwrap();
    let root = build(&w, &spec(with_index)).unwrap();
    w.finish(&root, "3.2.1").unwrap();
    (tmp, root)
}

fn check(dir: &std::path::Path, root: &OciDigest) -> Result<Vec<Reached>> {
    let l = Layout::open(dir)?;
    walk(&l, root, &"linux-amd64".parse().unwrap(), &mut discard)
}

#[test]
fn walk_reaches_every_blob_once() {
    for with_index in [false, true] {
        let (tmp, root) = layout(with_index);
        let l = Layout::open(tmp.path()).unwrap();
        assert_eq!(l.root(Some("3.2.1")).unwrap().digest, root.digest);
        assert_eq!(l.root(None).unwrap().digest, root.digest);
        assert!(l.root(Some("9.9.9")).is_err());
        let reached = check(tmp.path(), &root.digest).unwrap();
        assert_eq!(reached.len(), if with_index { 5 } else { 4 });
        assert_eq!(reached[0].digest, root.digest);
        let on_disk = std::fs::read_dir(tmp.path().join("blobs/sha256"))
            .unwrap()
            .count();
        assert_eq!(on_disk, reached.len());
    }
}

#[test]
fn flipped_byte_in_a_layer_names_it() {
    let (tmp, root) = layout(true);
    let reached = check(tmp.path(), &root.digest).unwrap();
    let layer = reached.iter().find(|r| r.role == BlobRole::Layer).unwrap();
    let path = tmp.path().join(crate::layout::blob_path(&layer.digest));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[600] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = check(tmp.path(), &root.digest).unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { blob, .. } if blob == layer.digest),
        "{err}"
    );
}

#[test]
fn missing_and_longer_blobs_named() {
    let (tmp, root) = layout(false);
    let reached = check(tmp.path(), &root.digest).unwrap();
    let config = &reached[1];
    let path = tmp.path().join(crate::layout::blob_path(&config.digest));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(b' ');
    std::fs::write(&path, &bytes).unwrap();
    let err = check(tmp.path(), &root.digest).unwrap_err();
    assert!(
        matches!(err, Error::SizeMismatch { blob, .. } if blob == config.digest),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
    let err = check(tmp.path(), &root.digest).unwrap_err();
    assert!(
        matches!(err, Error::Missing { blob, .. } if blob == config.digest),
        "{err}"
    );
}

#[test]
fn wrong_root_is_a_digest_error() {
    let (tmp, root) = layout(true);
    // The pinned digest is not what the layout's blob holds: a file at the
    // pinned name with other bytes.
    let pinned = OciDigest::of(b"what the vendor signed");
    let src = tmp.path().join(crate::layout::blob_path(&root.digest));
    std::fs::copy(src, tmp.path().join(crate::layout::blob_path(&pinned))).unwrap();
    let err = check(tmp.path(), &pinned).unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { blob, .. } if blob == pinned),
        "{err}"
    );
}

#[test]
fn other_platform_refused() {
    let (tmp, root) = layout(true);
    let l = Layout::open(tmp.path()).unwrap();
    let err = walk(
        &l,
        &root.digest,
        &"linux-arm64".parse().unwrap(),
        &mut discard,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Platform { .. }), "{err}");
}

#[test]
fn archive_holds_exactly_the_walked_image() {
    let (tmp, root) = layout(true);
    let l = Layout::open(tmp.path()).unwrap();
    let mut out = Vec::new();
    let what = std::path::Path::new("image.oci.tar");
    let reached = crate::archive::write_archive(
        &l,
        &root.digest,
        &"linux-amd64".parse().unwrap(),
        "3.2.1",
        &mut out,
        what,
    )
    .unwrap();
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut ar = tar::Archive::new(&out[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).unwrap();
        files.insert(p, b);
    }
    for r in &reached {
        assert_eq!(
            files[&crate::layout::blob_path(&r.digest)].len() as u64,
            r.size
        );
    }
    // The archive, unpacked, is a layout that walks the same.
    let out_dir = tempfile::tempdir().unwrap();
    tar::Archive::new(&out[..]).unpack(out_dir.path()).unwrap();
    assert_eq!(check(out_dir.path(), &root.digest).unwrap(), reached);
    // Deterministic.
    let mut again = Vec::new();
    crate::archive::write_archive(
        &l,
        &root.digest,
        &"linux-amd64".parse().unwrap(),
        "3.2.1",
        &mut again,
        what,
    )
    .unwrap();
    assert_eq!(out, again);
}
