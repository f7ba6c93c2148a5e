use super::*;

fn d(byte: u8) -> String {
    OciDigest::of(&[byte]).to_string()
}

fn manifest_json() -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":1}},"layers":[{{"mediaType":"{}","digest":"{}","size":1}}]}}"#,
        media::OCI_MANIFEST,
        media::OCI_CONFIG,
        d(1),
        media::OCI_LAYER_GZIP,
        d(2)
    )
}

fn parse(text: &str) -> Result<Document> {
    let bytes = text.as_bytes();
    parse_document(bytes, Expect::digest(&OciDigest::of(bytes)))
}

#[test]
fn manifest_parses() {
    let Document::Manifest(m) = parse(&manifest_json()).unwrap() else {
        panic!("a manifest")
    };
    assert_eq!(m.config.digest.to_string(), d(1));
    assert_eq!(m.layers.len(), 1);
}

#[test]
fn digest_checked_before_parsing() {
    let text = manifest_json();
    let wrong = OciDigest::of(b"other");
    let err = parse_document(text.as_bytes(), Expect::digest(&wrong)).unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { blob, .. } if blob == wrong),
        "{err}"
    );
    // Garbage with the wrong digest is a digest error, never a parse error.
    let err = parse_document(b"{not json", Expect::digest(&wrong)).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}

#[test]
fn size_of_descriptor_checked() {
    let text = manifest_json();
    let digest = OciDigest::of(text.as_bytes());
    let expect = Expect {
        digest: &digest,
        size: Some(text.len() as u64 - 1),
        media_type: Some(media::OCI_MANIFEST),
    };
    let err = parse_document(text.as_bytes(), expect).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
}

#[test]
fn too_large_refused_before_hashing() {
    let big = vec![b' '; (MAX_MANIFEST_BYTES + 1) as usize];
    let err = parse_document(&big, Expect::digest(&OciDigest::of(&big))).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn garbage_refused_naming_the_blob() {
    let cases = [
        manifest_json().replace("\"schemaVersion\":2", "\"schemaVersion\":1"),
        manifest_json().replace(
            "\"schemaVersion\":2",
            "\"schemaVersion\":2,\"schemaVersion\":2",
        ),
        manifest_json().replace("\"schemaVersion\":2", "\"schemaVersion\":2,\"extra\":1"),
        format!("{} ", manifest_json()) + "{}",
        manifest_json().replace(&d(2), &d(2).to_uppercase()),
        manifest_json().replace(&d(2), &d(2).replace("sha256:", "sha512:")),
        manifest_json().replace(media::OCI_LAYER_GZIP, "not a type"),
        manifest_json().replace(media::OCI_MANIFEST, media::OCI_CONFIG),
        manifest_json().replace(media::OCI_MANIFEST, media::OCI_INDEX),
        r#"{"schemaVersion":2,"manifests":[],"layers":[]}"#.to_string(),
        r#"{"schemaVersion":2}"#.to_string(),
        "[]".to_string(),
    ];
    for text in cases {
        let err = parse(&text).unwrap_err();
        let blob = OciDigest::of(text.as_bytes());
        assert_eq!(err.blob(), Some(&blob), "{text}: {err}");
        assert!(matches!(err, Error::Format { .. }), "{text}: {err}");
    }
}

#[test]
fn media_type_must_agree_with_descriptor() {
    let text = manifest_json();
    let digest = OciDigest::of(text.as_bytes());
    let expect = Expect {
        digest: &digest,
        size: Some(text.len() as u64),
        media_type: Some(media::DOCKER_MANIFEST),
    };
    let err = parse_document(text.as_bytes(), expect).unwrap_err();
    assert!(
        err.to_string().contains("descriptor pointing at it"),
        "{err}"
    );
}

#[test]
fn index_and_docker_list_parse() {
    let oci = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":7,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        media::OCI_MANIFEST,
        d(3)
    );
    let Document::Index(i) = parse(&oci).unwrap() else {
        panic!("an index")
    };
    assert_eq!(i.media_type, media::OCI_INDEX);
    let docker = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":7,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
        media::DOCKER_INDEX,
        media::DOCKER_MANIFEST,
        d(3)
    );
    let Document::Index(i) = parse(&docker).unwrap() else {
        panic!("an index")
    };
    assert_eq!(
        i.manifests[0].platform.as_ref().unwrap().variant.as_deref(),
        Some("v8")
    );
}

#[test]
fn docker_manifest_needs_its_media_type_when_pointed_at_as_docker() {
    let text = manifest_json().replace(&format!("\"mediaType\":\"{}\",", media::OCI_MANIFEST), "");
    let digest = OciDigest::of(text.as_bytes());
    let expect = Expect {
        digest: &digest,
        size: None,
        media_type: Some(media::DOCKER_MANIFEST),
    };
    assert!(parse_document(text.as_bytes(), expect).is_err());
    // An OCI manifest without mediaType is one by its shape.
    assert!(matches!(parse(&text).unwrap(), Document::Manifest(_)));
}
