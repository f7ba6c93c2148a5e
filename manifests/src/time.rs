//! Timestamps (RFC 3339 UTC, one fixed form) and validity periods.
//!
//! Only `YYYY-MM-DDTHH:MM:SSZ` is accepted (ATTACKS C8: one fixed format;
//! no local offsets, no fractional seconds), so every consumer reads the
//! same instant. The clock is an input: verifiers take "now" as a parameter.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// An instant, to the second, in UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time, truncated to the second.
    #[must_use]
    pub fn now() -> Self {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp())
    }

    /// From seconds since the Unix epoch.
    #[must_use]
    pub fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub fn unix(self) -> i64 {
        self.0
    }

    /// The latest instant ferry can write and read back:
    /// 9999-12-31T23:59:59Z (the fixed form has four year digits).
    pub const MAX: Timestamp = Timestamp(253_402_300_799);

    /// This instant plus a duration, never past [`Timestamp::MAX`], so
    /// that whatever is computed can be written and read back.
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        self.checked_plus(d).unwrap_or(Self::MAX)
    }

    /// This instant plus a duration, or `None` when the result cannot be
    /// represented (after [`Timestamp::MAX`]): for times a user asks for
    /// (`--expires`), which must be refused, not silently shortened.
    #[must_use]
    pub fn checked_plus(self, d: Duration) -> Option<Self> {
        let secs = i64::try_from(d.0).ok()?;
        let t = self.0.checked_add(secs)?;
        (t <= Self::MAX.0).then_some(Timestamp(t))
    }

    /// Seconds from `earlier` to `self` (negative if `earlier` is later).
    #[must_use]
    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parsed = PrimitiveDateTime::parse(s, FORMAT).map_err(|_| {
            format!("\"{s}\" is not an RFC 3339 UTC time of the form 2026-11-20T10:00:00Z")
        })?;
        Ok(Timestamp(parsed.assume_utc().unix_timestamp()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(FORMAT).ok())
        {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How far ahead of this host's clock a signed document's issue time may
/// lie (clocks of two machines differ by a little): five minutes.
pub const MAX_CLOCK_SKEW: Duration = Duration(300);

/// The one rule for "not valid yet" (issue 10): a document issued (or
/// created) after `now` plus [`MAX_CLOCK_SKEW`] is refused. Returns the
/// reason, for the caller to wrap with the document's name.
///
/// # Errors
/// The reason, naming both times.
pub fn check_not_in_future(field: &str, t: Timestamp, now: Timestamp) -> Result<(), String> {
    if t > now.plus(MAX_CLOCK_SKEW) {
        return Err(format!(
            "{field} {t} lies in the future (now is {now}, allowing {MAX_CLOCK_SKEW} of clock skew): it is not valid yet, or one of the two clocks is wrong"
        ));
    }
    Ok(())
}

/// A length of time, written `45d`, `24h`, `30m` or `90s`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

impl Duration {
    /// The longest duration ferry accepts: 1000 years (365,250 days), so
    /// that now plus any duration is a time it can write and read back
    /// (issue 10: `--expires 99999999999999d` signed what nobody reads).
    pub const MAX: Duration = Duration(365_250 * 86_400);

    /// Whole seconds.
    #[must_use]
    pub fn seconds(self) -> u64 {
        self.0
    }

    /// From days.
    #[must_use]
    pub fn days(d: u64) -> Self {
        Duration(d.saturating_mul(86_400))
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("\"{s}\" is not a duration like 45d, 24h, 30m or 90s");
        // Split off the last character, not the last byte (fuzz: "45ח").
        let (last, _) = s.char_indices().next_back().ok_or_else(err)?;
        let (num, unit) = s.split_at(last);
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u64 = num.parse().map_err(|_| err())?;
        let mult = match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return Err(err()),
        };
        let secs = n.checked_mul(mult).ok_or_else(err)?;
        if secs > Duration::MAX.0 {
            return Err(format!(
                "\"{s}\" is longer than {} (1000 years): a time that far ahead cannot be written as ferry writes times, nor read back",
                Duration::MAX
            ));
        }
        Ok(Duration(secs))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s.is_multiple_of(3_600) {
            write!(f, "{}h", s / 3_600)
        } else if s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {

    /// Found by fuzzing (fuzz/regressions/text_fields): a multi-byte last
    /// character used to split inside the character and panic.
    #[test]
    fn a_duration_with_a_multibyte_unit_is_an_error_not_a_panic() {
        let input = include_str!("../../fuzz/regressions/text_fields/duration-multibyte-unit");
        let _ = input.parse::<Duration>();
        assert!("45ח".parse::<Duration>().is_err());
        assert!("ח".parse::<Duration>().is_err());
        let policy =
            include_bytes!("../../fuzz/regressions/trust_policy/max-validity-multibyte-unit.toml");
        let e = crate::policy::TrustPolicy::from_bytes(policy, std::path::Path::new("p.toml"));
        assert!(e.is_err());
    }

    use super::*;

    #[test]
    fn round_trip() {
        let t: Timestamp = "2026-11-20T10:00:00Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-20T10:00:00Z");
        assert_eq!(t.unix(), 1_795_168_800);
    }

    #[test]
    fn one_fixed_form() {
        for bad in [
            "2026-11-20T10:00:00",
            "2026-11-20T10:00:00+01:00",
            "2026-11-20T10:00:00.5Z",
            "2026-11-20 10:00:00Z",
            "2026-13-20T10:00:00Z",
            "yesterday",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_ferry_cannot_represent_are_refused() {
        assert!("365250d".parse::<Duration>().is_ok());
        for s in [
            "365251d",
            "99999999999999d",
            "8766001h",
            "18446744073709551615s",
        ] {
            let e = s.parse::<Duration>().unwrap_err();
            assert!(
                e.contains("1000 years") || e.contains("not a duration"),
                "{s}: {e}"
            );
        }
        let t: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
        let far = t.plus(Duration::MAX);
        assert_eq!(far.to_string().parse::<Timestamp>().unwrap(), far);
        assert_eq!(Timestamp::MAX.plus(Duration(1)), Timestamp::MAX);
        assert!(Timestamp::MAX.checked_plus(Duration(1)).is_none());
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn durations() {
        assert_eq!("45d".parse::<Duration>().unwrap().seconds(), 45 * 86_400);
        assert_eq!("24h".parse::<Duration>().unwrap().seconds(), 86_400);
        for bad in ["", "d", "-1d", "1.5d", "10", "10w", "99999999999999999999d"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }
}
