//! Strict JSON reading for every ferry document (SPEC §3).
//!
//! Rules (ATTACKS C7–C9): UTF-8 only, one value and nothing after it, a size
//! cap checked before parsing, **duplicate keys refused at any depth**
//! (serde's maps keep the last value silently), unknown fields refused by
//! the typed structs (`deny_unknown_fields`), and the `schema` checked before
//! the rest is interpreted. Errors name the document and the field path.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Result};

/// Largest document ferry parses (manifests, indexes, feeds), in bytes:
/// 128 MiB, about 400,000 listed files. A manifest or mirror index grows by
/// about 300 bytes a file, and SPEC §6 allows 2 KiB of memory a listed file,
/// so a document this size stays inside the memory bound of the bundle or
/// mirror it describes (16 MiB, the earlier cap, stopped near 50,000 files).
pub const MAX_DOCUMENT_BYTES: u64 = 128 * 1024 * 1024;

/// Parses `bytes` as the document kind `schema` into `T`.
///
/// `doc` names the document in errors (a file name or a kind).
///
/// # Errors
/// [`Error::DocumentTooLarge`], [`Error::UnknownSchema`] or
/// [`Error::Format`] naming the field.
pub fn parse_document<T: DeserializeOwned>(
    bytes: &[u8],
    doc: &str,
    schema: &'static str,
) -> Result<T> {
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(Error::DocumentTooLarge {
            doc: doc.to_string(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    // A large document (a 10,000-file manifest is 3 MB) is walked for
    // duplicate keys on a second thread while this one parses it: the two
    // passes were a quarter of a 10,001-file verification (issue 17). The
    // parsed value is used only once the walk and the schema passed.
    let (found, parsed) = if bytes.len() >= PARALLEL_MIN_BYTES {
        std::thread::scope(|sc| {
            let walk = sc.spawn(|| check_structure(bytes, doc));
            let parsed = serde_json::from_slice::<T>(bytes).ok();
            let found = walk.join().unwrap_or_else(|_| {
                Err(Error::format(
                    doc,
                    "(document)",
                    "the structure check failed",
                ))
            });
            (found, parsed)
        })
    } else {
        (check_structure(bytes, doc), None)
    };
    match found? {
        None => {
            return Err(Error::format(
                doc,
                "schema",
                format!("missing (expected \"{schema}\")"),
            ));
        }
        Some(found) if found != schema => {
            return Err(Error::UnknownSchema {
                doc: doc.to_string(),
                found: crate::error::escape_untrusted(&found),
                expected: schema,
            });
        }
        Some(_) => {}
    }
    match parsed {
        Some(value) => Ok(value),
        None => typed(bytes, doc),
    }
}

/// Documents at least this large are walked and parsed on two threads.
const PARALLEL_MIN_BYTES: usize = 1024 * 1024;

/// Parses `bytes` into `T` with duplicate-key and trailing-data checks but
/// no `schema` field (for documents of other tools).
///
/// # Errors
/// As [`parse_document`].
pub fn parse_strict<T: DeserializeOwned>(bytes: &[u8], doc: &str) -> Result<T> {
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(Error::DocumentTooLarge {
            doc: doc.to_string(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    check_structure(bytes, doc)?;
    typed(bytes, doc)
}

fn typed<T: DeserializeOwned>(bytes: &[u8], doc: &str) -> Result<T> {
    // The common case, a good document, without tracking the path (a
    // third of the time of a 10,000-file manifest, issue 17); a bad one is
    // parsed again to name the field.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "(document)".to_string()
        } else {
            path
        };
        Error::format(doc, field, e.into_inner().to_string())
    })?;
    de.end()
        .map_err(|e| Error::format(doc, "(document)", format!("trailing data: {e}")))?;
    Ok(value)
}

/// Walks the whole document once, refusing duplicate keys at any depth and
/// trailing data, and returns the top-level `schema` string if there is one.
fn check_structure(bytes: &[u8], doc: &str) -> Result<Option<String>> {
    if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        return Err(Error::format(
            doc,
            "(document)",
            "starts with a UTF-8 byte-order mark",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = Walk {
        path: "",
        top: true,
    }
    .deserialize(&mut de)
    .map_err(|e| Error::format(doc, "(document)", e.to_string()))?;
    de.end()
        .map_err(|e| Error::format(doc, "(document)", format!("trailing data: {e}")))?;
    Ok(found)
}

struct Walk<'a> {
    path: &'a str,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.top {
            f.write_str("a JSON object")
        } else {
            f.write_str("any JSON value")
        }
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut keys = HashSet::new();
        let mut schema = None;
        while let Some(key) = map.next_key::<String>()? {
            let child = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !keys.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key \"{}\"",
                    crate::error::escape_untrusted(&child)
                )));
            }
            let value = map.next_value_seed(Walk {
                path: &child,
                top: false,
            })?;
            if self.top && key == "schema" {
                schema = value;
            }
        }
        Ok(schema)
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        if self.top {
            return Err(serde::de::Error::custom(
                "the document must be a JSON object",
            ));
        }
        let mut i = 0usize;
        loop {
            let child = format!("{}[{i}]", self.path);
            if seq
                .next_element_seed(Walk {
                    path: &child,
                    top: false,
                })?
                .is_none()
            {
                break;
            }
            i += 1;
        }
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        self.scalar()?;
        Ok(Some(v.to_string()))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
        self.scalar()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
        self.scalar()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
        self.scalar()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
        self.scalar()
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
        self.scalar()
    }
    fn visit_none<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
        self.scalar()
    }
}

impl Walk<'_> {
    fn scalar<E: serde::de::Error>(&self) -> std::result::Result<Option<String>, E> {
        if self.top {
            Err(E::custom("the document must be a JSON object"))
        } else {
            Ok(None)
        }
    }
}

/// Serializes a document the one way ferry writes them: pretty-printed,
/// two-space indent, with a final newline. Signatures cover these exact
/// bytes; readers never re-serialize (ATTACKS C10).
///
/// # Panics
/// Never for ferry's own types (they serialize infallibly).
#[must_use]
pub fn to_document_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("ferry documents always serialize");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        schema: String,
        n: u64,
        #[serde(default)]
        inner: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        a: u64,
    }

    const S: &str = "ferry.test/v1";

    fn parse(s: &str) -> Result<Doc> {
        parse_document(s.as_bytes(), "t.json", S)
    }

    #[test]
    fn good() {
        parse(r#"{"schema":"ferry.test/v1","n":5,"inner":[{"a":1}]}"#).unwrap();
    }

    #[test]
    fn duplicate_keys_at_any_depth() {
        let e = parse(r#"{"schema":"ferry.test/v1","n":5,"n":1}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate key \"n\""), "{e}");
        let e = parse(r#"{"schema":"ferry.test/v1","n":5,"inner":[{"a":1,"a":2}]}"#).unwrap_err();
        assert!(
            e.to_string().contains("duplicate key \"inner[0].a\""),
            "{e}"
        );
    }

    #[test]
    fn unknown_field_and_schema() {
        let e = parse(r#"{"schema":"ferry.test/v1","n":5,"evil":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `evil`"), "{e}");
        let e = parse(r#"{"schema":"ferry.test/v9","n":5}"#).unwrap_err();
        assert!(matches!(e, Error::UnknownSchema { .. }), "{e}");
        assert!(e.to_string().contains("ferry.test/v9"), "{e}");
        let e = parse(r#"{"n":5}"#).unwrap_err();
        assert!(e.to_string().contains("schema: missing"), "{e}");
    }

    #[test]
    fn numbers_are_strict() {
        for bad in ["1.0", "1e2", "-1", "\"5\"", "18446744073709551616"] {
            let e = parse(&format!(r#"{{"schema":"ferry.test/v1","n":{bad}}}"#)).unwrap_err();
            assert!(e.to_string().contains("t.json: n:"), "{bad}: {e}");
        }
    }

    #[test]
    fn framing() {
        for bad in [
            "\u{feff}{\"schema\":\"ferry.test/v1\",\"n\":5}",
            r#"{"schema":"ferry.test/v1","n":5}{"x":1}"#,
            r#"{"schema":"ferry.test/v1","n":5,}"#,
            r#"[1]"#,
            r#"{"schema":"ferry.test/v1","n":5,"inner":[{"a":"\ud800"}]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = format!(
            r#"{{"schema":"ferry.test/v1","n":5,"x":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(parse(&deep).is_err());
    }
}
