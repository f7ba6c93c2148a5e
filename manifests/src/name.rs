//! Names: products, channels, profiles, platforms, formats.
//!
//! A name is one path component of SPEC §3.1 (profiles and versions become
//! directories) of at most 64 bytes, so it can also sit in a trusted comment
//! (`product=<p>`) without quoting.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A validated short name (`[A-Za-z0-9._+-]{1,64}`, not starting with `.`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Validates `s`.
    ///
    /// # Errors
    /// A message saying which rule failed.
    pub fn new(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err(format!(
                "\"{}\" must be 1 to 64 characters",
                s.escape_default()
            ));
        }
        if s.starts_with('.') {
            return Err(format!("\"{s}\" must not start with '.'"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
        {
            return Err(format!(
                "\"{}\" may hold only A-Z a-z 0-9 . _ + -",
                s.escape_default()
            ));
        }
        Ok(Name(s.to_string()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Name {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Name::new(s)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::new(&s).map_err(serde::de::Error::custom)
    }
}
