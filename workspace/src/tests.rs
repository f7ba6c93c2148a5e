use super::*;
use ferry_manifests::manifest::Manifest;
use ferry_manifests::manifest::{ManifestArtifact, Upstream};
use ferry_manifests::minisig::SecretKey;
use ferry_manifests::time::{Duration, Timestamp};

fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys/demo")
}

fn bp(s: &str) -> BundlePath {
    BundlePath::new(s).unwrap()
}

/// A workspace with one release (notes, one artifact, its signature)
/// as `ferry sync` would leave it.
fn synced(dir: &Path, last_sequence: Option<u64>) -> Workspace {
    let ws = Workspace::open(dir).unwrap();
    let files = [
        ("releases/1.0.0/NOTES.md", b"notes".as_slice()),
        ("releases/1.0.0/no-training/app.deb", b"artifact bytes"),
        ("releases/1.0.0/no-training/app.deb.minisig", b"sig"),
    ];
    let mut entries = Vec::new();
    for (p, bytes) in files {
        fsutil::write_atomic_creating(&ws.path(&bp(p)), bytes).unwrap();
        entries.push(FileEntry {
            path: bp(p),
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(bytes),
        });
    }
    let state = State {
        schema: STATE_SCHEMA.into(),
        product: Name::new("novantra").unwrap(),
        source: Source {
            index_url: "http://127.0.0.1/index.json".into(),
            index_sha256: Sha256Digest::of(b"index"),
            fetched: Timestamp::from_unix(1_795_000_000),
        },
        selection: Selection {
            channels: vec![Name::new("stable").unwrap()],
            profiles: vec![Name::new("no-training").unwrap()],
        },
        releases: vec![ManifestRelease {
            version: Version::new(1, 0, 0),
            channels: vec![Name::new("stable").unwrap()],
            published: Timestamp::from_unix(1_795_000_000),
            supported_from: None,
            required: false,
            yanked: None,
            advisories: Vec::new(),
            notes: bp("releases/1.0.0/NOTES.md"),
            artifacts: vec![ManifestArtifact {
                path: bp("releases/1.0.0/no-training/app.deb"),
                profile: Name::new("no-training").unwrap(),
                platform: Name::new("linux-amd64").unwrap(),
                format: Name::new("deb").unwrap(),
                image: None,
                tag: None,
                digest: None,
                upstream: vec![Upstream::Minisign {
                    path: bp("releases/1.0.0/no-training/app.deb.minisig"),
                    key_id: "8936E40753ACD100".into(),
                }],
            }],
        }],
        files: entries,
        seen_versions: vec![Version::new(1, 0, 0)],
        yanks: Vec::new(),
        last_sequence,
        index_generated: None,
    };
    ws.save_state(&state).unwrap();
    ws
}

fn key(name: &str) -> SecretKey {
    SecretKey::from_file(&keys_dir().join(format!("{name}.key")), None).unwrap()
}

fn opts(now: i64) -> SignOptions {
    SignOptions {
        issued_elsewhere: 0,
        expires: Duration::days(30),
        max_validity: None,
        now: Timestamp::from_unix(now),
    }
}

#[test]
fn files_in_packer_order_and_cosign_keeps_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let ws = synced(dir.path(), None);
    let r1 = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap();
    assert!(r1.new_manifest);
    assert_eq!(
        r1.sequence, 1_800_000_000,
        "a fresh workspace starts at now"
    );
    let bytes = fs::read(dir.path().join(MANIFEST_PATH)).unwrap();
    let m = Manifest::parse(&bytes).unwrap();
    let order: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        order,
        [
            SHA256SUMS_PATH,
            "releases/1.0.0/NOTES.md",
            "releases/1.0.0/no-training/app.deb.minisig",
            "releases/1.0.0/no-training/app.deb",
        ]
    );
    let r2 = sign(&ws, &key("org2"), opts(1_800_000_100)).unwrap();
    assert!(!r2.new_manifest);
    assert_eq!(r2.sequence, r1.sequence);
    assert_eq!(fs::read(dir.path().join(MANIFEST_PATH)).unwrap(), bytes);
    // A file changed: no co-signature over a stale manifest.
    fs::write(dir.path().join("releases/1.0.0/NOTES.md"), b"other").unwrap();
    let err = sign(&ws, &key("org3"), opts(1_800_000_200)).unwrap_err();
    assert!(err.to_string().contains("NOTES.md"), "{err}");
    assert_eq!(fs::read(dir.path().join(MANIFEST_PATH)).unwrap(), bytes);
}

#[test]
fn sequence_never_goes_back_even_if_the_clock_does() {
    let dir = tempfile::tempdir().unwrap();
    let ws = synced(dir.path(), Some(2_000_000_000));
    let r = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap();
    assert_eq!(r.sequence, 2_000_000_001);
    ws.clear_signed().unwrap();
    let r = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap();
    assert_eq!(r.sequence, 2_000_000_002);
}

#[test]
fn unknown_files_and_overlong_validity_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ws = synced(dir.path(), None);
    let mut o = opts(1_800_000_000);
    o.max_validity = Some(Duration::days(7));
    assert!(sign(&ws, &key("org1"), o).is_err());
    fs::write(dir.path().join("releases/1.0.0/stray.bin"), b"x").unwrap();
    let err = sign(&ws, &key("org1"), opts(1_800_000_000)).unwrap_err();
    assert!(err.to_string().contains("stray.bin"), "{err}");
    assert!(!dir.path().join(MANIFEST_PATH).exists());
}

#[test]
fn partial_downloads_live_under_dot_ferry() {
    let ws = Workspace {
        root: PathBuf::from("/w"),
    };
    assert_eq!(
        ws.partial_path(&bp("releases/1.0.0/p/a.deb")),
        PathBuf::from("/w/.ferry/partial/releases/1.0.0/p/a.deb.part")
    );
}

/// A workspace whose 1.0.0 is an image (its layout's four files), and the
/// state of a mirror that holds the release; `held_layer`: whether the
/// mirror's blob store also holds the layer.
fn image_workspace_and_state(
    dir: &Path,
    held_layer: bool,
) -> (Workspace, ferry_manifests::mirror_state::LoadedState) {
    use ferry_manifests::digest::OciDigest;
    use ferry_manifests::mirror_state::{LoadedState, MirrorState, SCHEMA};
    let ws = synced(dir, None);
    let mut state = ws.load_state().unwrap().expect("synced");
    let layout = "releases/1.0.0/no-training/onprem.oci";
    let (root, layer) = (b"root manifest".as_slice(), b"layer bytes".as_slice());
    let mut files = vec![state.files[0].clone()]; // the notes
    for (rel, bytes) in [
        ("oci-layout".to_string(), b"{}".as_slice()),
        ("index.json".to_string(), b"{\"i\":1}".as_slice()),
        (format!("blobs/sha256/{}", Sha256Digest::of(root)), root),
        (format!("blobs/sha256/{}", Sha256Digest::of(layer)), layer),
    ] {
        let p = format!("{layout}/{rel}");
        fsutil::write_atomic_creating(&ws.path(&bp(&p)), bytes).unwrap();
        files.push(FileEntry {
            path: bp(&p),
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(bytes),
        });
    }
    let a = &mut state.releases[0].artifacts[0];
    a.path = bp(layout);
    a.format = Name::new("oci").unwrap();
    a.image = Some("registry.example/novantra/onprem".parse().unwrap());
    a.digest = Some(OciDigest::of(root));
    a.upstream.clear();
    fs::remove_file(dir.join("releases/1.0.0/no-training/app.deb")).unwrap();
    fs::remove_file(dir.join("releases/1.0.0/no-training/app.deb.minisig")).unwrap();
    state.files = files.clone();
    ws.save_state(&state).unwrap();
    // The mirror: the layout's own files at their paths, blobs in its store.
    let mut held: Vec<FileEntry> = files.iter().take(3).cloned().collect();
    let blobs: &[&[u8]] = if held_layer { &[root, layer] } else { &[root] };
    for b in blobs {
        held.push(FileEntry {
            path: bp(&format!("oci/blobs/sha256/{}", Sha256Digest::of(b))),
            size: b.len() as u64,
            sha256: Sha256Digest::of(b),
        });
    }
    let mirror = MirrorState {
        schema: SCHEMA.into(),
        product: Name::new("novantra").unwrap(),
        manifest_sequence: 1,
        index_sequence: 2,
        index_sha256: Sha256Digest::of(b"index"),
        files: held,
    };
    let ls = LoadedState {
        sha256: Sha256Digest::of(&mirror.to_bytes()),
        state: mirror,
    };
    (ws, ls)
}

#[test]
fn since_leaves_out_an_image_release_whose_blobs_the_mirror_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, ls) = image_workspace_and_state(dir.path(), true);
    let err = sign_since(&ws, &key("org1"), opts(1_800_000_000), Some(&ls)).unwrap_err();
    assert!(err.to_string().contains("nothing to carry"), "{err}");

    // A layer the mirror lacks: the release travels, with its whole layout.
    let dir = tempfile::tempdir().unwrap();
    let (ws, ls) = image_workspace_and_state(dir.path(), false);
    sign_since(&ws, &key("org1"), opts(1_800_000_000), Some(&ls)).unwrap();
    let m = Manifest::parse(&fs::read(dir.path().join(MANIFEST_PATH)).unwrap()).unwrap();
    let layout = m
        .files
        .iter()
        .filter(|f| {
            f.path
                .starts_with_dir("releases/1.0.0/no-training/onprem.oci")
        })
        .count();
    assert_eq!(layout, 4);
}
