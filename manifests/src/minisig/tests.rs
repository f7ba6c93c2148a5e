use super::*;

/// A fresh key pair for tests (the folder holding the secret key lives as
/// long as the third value).
pub(crate) fn pair() -> (SecretKey, PublicKey, tempfile::TempDir) {
    let g = generate(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.key");
    std::fs::write(&p, &g.secret).unwrap();
    let sk = SecretKey::from_file(&p, None).unwrap();
    let pk = PublicKey::from_text(&g.public, "k.pub").unwrap();
    assert_eq!(sk.id(), pk.id());
    (sk, pk, dir)
}

#[test]
fn sign_and_verify_round_trip() {
    let (sk, pk, _d) = pair();
    let text = sk
        .sign(
            &b"hello"[..],
            "ferry-manifest product=x sequence=1 sha256=00",
        )
        .unwrap();
    let sig = SignatureFile::parse(text.as_bytes(), "s").unwrap();
    assert!(sig.is_prehashed());
    pk.verify(b"hello", &sig, Legacy::Refuse, "s").unwrap();
    assert!(pk.verify(b"hellO", &sig, Legacy::Refuse, "s").is_err());
    // CRLF copies still verify (ATTACKS C6).
    let crlf = text.replace('\n', "\r\n");
    let sig = SignatureFile::parse(crlf.as_bytes(), "s").unwrap();
    pk.verify(b"hello", &sig, Legacy::Refuse, "s").unwrap();
}

#[test]
fn malformed_signature_files() {
    let (sk, _pk, _d) = pair();
    let text = sk.sign(&b"x"[..], "c").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cases = [
        format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]),
        format!("{text}extra\n"),
        format!("\u{feff}{text}"),
        text.replace("trusted comment: c", "trusted comment: c\rx"),
        text.replace("trusted comment: c", "trusted comment: \u{1b}[2J"),
        text.replace(
            "trusted comment: c",
            &format!("trusted comment: {}", "a".repeat(9000)),
        ),
        text.replace("trusted comment: ", "trusted: "),
    ];
    for c in cases {
        assert!(SignatureFile::parse(c.as_bytes(), "s").is_err(), "{c:?}");
    }
}

#[test]
fn key_id_round_trip() {
    let id = KeyId::parse("C373193807678450").unwrap();
    assert_eq!(id.to_string(), "C373193807678450");
    assert!(KeyId::parse("c373193807678450").is_err());
    assert!(KeyId::parse("C37319380767845").is_err());
}

#[test]
fn weak_keys_are_refused() {
    // "Ed" || keynum || identity point (01 00..00).
    let mut bytes = b"Ed".to_vec();
    bytes.extend_from_slice(&[1u8; 8]);
    let mut point = [0u8; 32];
    point[0] = 1;
    bytes.extend_from_slice(&point);
    let b64 = base64_encode(&bytes);
    let e = PublicKey::from_base64(&b64, "k").unwrap_err().to_string();
    assert!(e.contains("weak") || e.contains("not a minisign"), "{e}");
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn threshold_counts_distinct_keys() {
    let (sk1, pk1, _d1) = pair();
    let (sk2, pk2, _d2) = pair();
    let keys = KeySet::new(vec![pk1.clone(), pk2.clone(), pk1.clone()]).unwrap();
    assert_eq!(keys.len(), 2);
    let data = b"manifest";
    let c = "ferry-manifest product=p sequence=1 sha256=x";
    let s1 = OfferedSignature {
        name: "a".into(),
        bytes: sk1.sign(&data[..], c).unwrap().into_bytes(),
    };
    let s1b = OfferedSignature {
        name: "b".into(),
        bytes: sk1.sign(&data[..], c).unwrap().into_bytes(),
    };
    let s2 = OfferedSignature {
        name: "c".into(),
        bytes: sk2.sign(&data[..], c).unwrap().into_bytes(),
    };
    let other = OfferedSignature {
        name: "d".into(),
        bytes: sk2.sign(&data[..], "other").unwrap().into_bytes(),
    };
    // One key twice: below threshold 2 (ATTACKS A3).
    assert!(
        verify_threshold(
            &keys,
            2,
            data,
            c,
            &[s1.clone(), s1b.clone(), s1.clone()],
            "m"
        )
        .is_err()
    );
    // Wrong trusted comment does not count (A15).
    assert!(verify_threshold(&keys, 2, data, c, &[s1.clone(), other], "m").is_err());
    let r = verify_threshold(&keys, 2, data, c, &[s1, s1b, s2], "m").unwrap();
    assert_eq!(r.valid.len(), 2);
    assert_eq!(r.ignored.len(), 1);
}

#[test]
fn keyset_refuses_clashes() {
    let (_sk, pk, _d) = pair();
    // The same raw key under another key id.
    let mut bytes = b"Ed".to_vec();
    bytes.extend_from_slice(&[9u8; 8]);
    bytes.extend_from_slice(pk.raw());
    let other = PublicKey::from_base64(&base64_encode(&bytes), "k").unwrap();
    assert!(
        KeySet::new(vec![pk, other])
            .unwrap_err()
            .contains("two key ids")
    );
}
