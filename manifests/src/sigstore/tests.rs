use super::*;

fn id(san: &str, re: bool, iss: &str) -> SigstoreIdentity {
    SigstoreIdentity {
        san: san.into(),
        san_regex: re,
        issuer: iss.into(),
    }
}

#[test]
fn regex_is_a_full_match() {
    let p = SanPattern::new(r"https://github\.com/acme/.*@refs/tags/v.*", true).unwrap();
    assert!(p.matches("https://github.com/acme/rel.yml@refs/tags/v1"));
    assert!(!p.matches("xhttps://github.com/acme/rel.yml@refs/tags/v1"));
    let p = SanPattern::new("a|b", true).unwrap();
    assert!(p.matches("a") && p.matches("b"));
    assert!(!p.matches("ab") && !p.matches("xa"));
    assert!(SanPattern::new("(", true).is_err());
    assert!(!SanPattern::new("a.c", false).unwrap().matches("abc"));
}

#[test]
fn signer_check_names_the_failing_part() {
    let ids = [id("s", false, "i")];
    let pats = compile(&ids).unwrap();
    assert!(check_signer("s", "i", &pats).is_ok());
    let e = check_signer("t", "i", &pats).unwrap_err();
    assert!(
        e.contains("certificate identity \"t\" does not match"),
        "{e}"
    );
    let e = check_signer("s", "j", &pats).unwrap_err();
    assert!(
        e.contains("issuer \"j\" does not match expected issuer \"i\""),
        "{e}"
    );
}

#[test]
fn oversized_and_malformed_bundles_fail() {
    let e = SigstoreBundle::parse(br#"{"mediaType":"a","mediaType":"b"}"#, "b")
        .err()
        .unwrap();
    assert!(e.to_string().contains("duplicate key"), "{e}");
    let big = vec![b' '; (MAX_BUNDLE_BYTES + 1) as usize];
    assert!(matches!(
        SigstoreBundle::parse(&big, "b").err(),
        Some(Error::Sigstore { .. })
    ));
    let e = SigstoreBundle::parse(b"{\"mediaType\":", "b")
        .err()
        .unwrap();
    assert!(e.to_string().contains("malformed bundle JSON"), "{e}");
    let e = SigstoreBundle::parse(b"{}", "b").err().unwrap();
    assert!(e.to_string().contains("no mediaType"), "{e}");
}
