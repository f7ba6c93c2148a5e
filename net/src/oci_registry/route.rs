//! The URL grammar of the OCI Distribution API's read side: repository
//! names may hold slashes (`novantra/onprem`), so a path is split from its
//! end (`…/manifests/<reference>`, `…/blobs/<digest>`, `…/tags/list`).

use ferry_oci::Digest as OciDigest;

/// What a `/v2/…` path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/v2/`: the API version check.
    Base,
    /// `/v2/<name>/manifests/<reference>`.
    Manifest(String, Reference),
    /// `/v2/<name>/blobs/<digest>`.
    Blob(String, Digest),
    /// `/v2/<name>/tags/list`.
    Tags(String),
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    Tag(String),
    Digest(Digest),
}

/// A digest as asked for: SHA-256 (all ferry stores), or something else
/// this registry cannot hold (answered as unknown, never guessed at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Digest {
    Sha256(OciDigest),
    /// Well-formed but of another algorithm (`sha512:…`).
    Other(String),
}

/// Why a path is not a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not an API path at all.
    NotFound,
    /// A repository name the grammar refuses.
    Name(String),
    /// A reference that is neither a tag nor a digest.
    Reference(String),
    /// A malformed digest.
    Digest(String),
}

/// Parses an already percent-decoded path.
pub(crate) fn parse(path: &str) -> Result<Route, Invalid> {
    let rest = match path {
        "/v2" | "/v2/" => return Ok(Route::Base),
        p => p.strip_prefix("/v2/").ok_or(Invalid::NotFound)?,
    };
    let mut parts = rest.rsplitn(3, '/');
    let (Some(last), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Invalid::NotFound);
    };
    let route = match (kind, last) {
        ("tags", "list") => Route::Tags(name.to_string()),
        ("manifests", r) => Route::Manifest(name.to_string(), reference(r)?),
        ("blobs", d) => Route::Blob(name.to_string(), digest(d)?),
        _ => return Err(Invalid::NotFound),
    };
    let name = match &route {
        Route::Tags(n) | Route::Manifest(n, _) | Route::Blob(n, _) => n,
        Route::Base => return Ok(route),
    };
    if valid_repository(name) {
        Ok(route)
    } else {
        Err(Invalid::Name(name.clone()))
    }
}

fn reference(r: &str) -> Result<Reference, Invalid> {
    if r.contains(':') {
        return digest(r).map(Reference::Digest);
    }
    if valid_tag(r) {
        Ok(Reference::Tag(r.to_string()))
    } else {
        Err(Invalid::Reference(r.to_string()))
    }
}

/// `algorithm:encoded` as the OCI image spec writes it; SHA-256 must be
/// 64 lowercase hex digits.
fn digest(d: &str) -> Result<Digest, Invalid> {
    let bad = || Invalid::Digest(d.to_string());
    let (alg, enc) = d.split_once(':').ok_or_else(bad)?;
    if alg == "sha256" {
        return d.parse().map(Digest::Sha256).map_err(|_| bad());
    }
    let alg_ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'+' | b'.' | b'_' | b'-'));
    let enc_ok = !enc.is_empty()
        && enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
    if alg_ok && enc_ok {
        Ok(Digest::Other(d.to_string()))
    } else {
        Err(bad())
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`,
/// at most 255 bytes (OCI Distribution, "pulling manifests").
pub(crate) fn valid_repository(name: &str) -> bool {
    name.len() <= 255 && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub(crate) fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn names_with_slashes_split_from_the_end() {
        assert_eq!(parse("/v2/"), Ok(Route::Base));
        assert_eq!(
            parse("/v2/novantra/onprem/tags/list"),
            Ok(Route::Tags("novantra/onprem".into()))
        );
        assert_eq!(
            parse("/v2/novantra/onprem/manifests/3.2.1-no-training"),
            Ok(Route::Manifest(
                "novantra/onprem".into(),
                Reference::Tag("3.2.1-no-training".into())
            ))
        );
        // A repository may itself be named `manifests`.
        let Ok(Route::Blob(name, Digest::Sha256(d))) =
            parse(&format!("/v2/a/manifests/blobs/sha256:{HEX}"))
        else {
            panic!("a blob route");
        };
        assert_eq!((name.as_str(), d.hex().as_str()), ("a/manifests", HEX));
    }

    #[test]
    fn malformed_parts_are_named() {
        assert_eq!(parse("/v2/onprem"), Err(Invalid::NotFound));
        assert_eq!(parse("/other"), Err(Invalid::NotFound));
        assert_eq!(
            parse("/v2/Novantra/x/tags/list"),
            Err(Invalid::Name("Novantra/x".into()))
        );
        assert_eq!(
            parse("/v2/a/../b/tags/list"),
            Err(Invalid::Name("a/../b".into()))
        );
        assert_eq!(
            parse("/v2/a/blobs/sha256:ABC"),
            Err(Invalid::Digest("sha256:ABC".into()))
        );
        assert_eq!(
            parse("/v2/a/manifests/.hidden"),
            Err(Invalid::Reference(".hidden".into()))
        );
        assert_eq!(
            parse("/v2/a/blobs/sha512:abcd"),
            Ok(Route::Blob("a".into(), Digest::Other("sha512:abcd".into())))
        );
    }

    #[test]
    fn repository_grammar() {
        for ok in ["a", "novantra/onprem", "a.b_c__d---e/f0", "x-y"] {
            assert!(valid_repository(ok), "{ok}");
        }
        for bad in ["", "a//b", "-a", "a-", "a..b", "a___b", "a/", "A", "a b"] {
            assert!(!valid_repository(bad), "{bad}");
        }
        assert!(valid_tag("3.2.1") && valid_tag("_x") && !valid_tag("-x"));
        assert!(!valid_tag(&"a".repeat(129)));
    }
}
