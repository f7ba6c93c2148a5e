//! The named policy decisions (SPEC §5): one home per rule.
//!
//! Every command that makes one of these decisions calls the function here;
//! `grep` for a rule's name finds its one definition. Each returns a typed
//! [`Refusal`] that carries the values it compared, knows its exit class
//! (always 1, verification) and a hint of what to do.
//!
//! | rule | function | callers |
//! | --- | --- | --- |
//! | rollback / equivocation / repeat | [`freshness`] | `ferry-verify bundle --state` and import (manifest sequence), import (mirror index), `ferry-handoff` (host memory), `ferry sync` (vendor index time) |
//! | channel and profile pins | [`pinned`] | verify and import (the policy's pins), import (the mirror's channels and profiles), `ferry-handoff` (the selection) |
//! | vendor checks an artifact needs | [`vendor_checks`] | the bundle checker (verify, import, repair), `ferry-handoff`, `ferry sync`, `ferry-verify file --trust` |
//! | expiry and max validity | [`validity`] | verify and import (manifest), `ferry sign` (`--expires`), `ferry-handoff` (index) |
//! | threshold counting | [`crate::minisig::verify_threshold`] | every signed document: manifest, index, feed, receipts, trust-chain versions |
//! | trust chain (rotation, revocation) | [`crate::trust::apply`] (with [`Rule::TrustVersionSkipped`], [`Rule::TrustNoRoot`], [`freshness`] for equivocation) | verify, import, fsck, hand-off, sync |
//! | one-hop upgrade rule | [`crate::hops::hop_allowed`] | the hand-off planner, the mirror's update graphs |
//!
//! Secret-key loading lives in `ferry-cli` (`keyload`), atomic writes in
//! `ferry-durable` (`fsutil::write_atomic`).

use std::fmt;

use crate::digest::Sha256Digest;
use crate::name::Name;
use crate::policy::VendorPolicy;
use crate::release::SigKind;
use crate::time::{Duration, Timestamp};

/// A refusal by one of the named rules: what was refused, the rule with the
/// values it compared, and (optionally) what the caller's user should do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subject}: {rule}{}", advice.as_ref().map(|a| format!("; {a}")).unwrap_or_default())]
pub struct Refusal {
    /// The document, release, artifact or mirror refused.
    pub subject: String,
    /// The rule and its values.
    pub rule: Box<Rule>,
    /// What to do or suspect, in the caller's words.
    pub advice: Option<String>,
}

impl Refusal {
    /// A refusal of `subject` by `rule`.
    pub fn new(subject: impl Into<String>, rule: Rule) -> Self {
        Refusal {
            subject: subject.into(),
            rule: Box::new(rule),
            advice: None,
        }
    }

    /// The same refusal with the caller's advice.
    #[must_use]
    pub fn advise(mut self, advice: impl Into<String>) -> Self {
        self.advice = Some(advice.into());
        self
    }
}

/// What a counter is: a sequence number or a generation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A manifest's sequence.
    ManifestSequence,
    /// A mirror index's sequence.
    IndexSequence,
    /// A vendor index's `generated` time.
    Generated,
    /// A trust-chain version (SPEC §3.11).
    TrustVersion,
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Counter::ManifestSequence => "sequence",
            Counter::IndexSequence => "index sequence",
            Counter::Generated => "generated",
            Counter::TrustVersion => "trust chain version",
        })
    }
}

/// Which pin a value is held against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    /// Release channels.
    Channel,
    /// Deployment profiles.
    Profile,
}

/// Who set the pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinSource {
    /// The site's trust policy (`[transfer] channels/profiles`).
    Site,
    /// The mirror's own channels and profiles (fixed at `init`).
    Mirror,
}

/// The rules, with the values each compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// Older than what was accepted.
    Rollback {
        /// What is counted.
        counter: Counter,
        /// The offered value.
        offered: String,
        /// The highest accepted value.
        accepted: String,
    },
    /// The same counter as accepted before, other bytes.
    Equivocation {
        /// What is counted.
        counter: Counter,
        /// The value both carry.
        value: String,
        /// SHA-256 of the document accepted before.
        accepted: Sha256Digest,
        /// SHA-256 of the offered document.
        offered: Sha256Digest,
    },
    /// A channel or profile outside the pins.
    NotPinned {
        /// Channel or profile.
        kind: PinKind,
        /// Who pinned.
        source: PinSource,
        /// The offered values.
        offered: Vec<Name>,
        /// The allowed values.
        allowed: Vec<Name>,
    },
    /// Past its expiry.
    Expired {
        /// When it expired.
        expires: Timestamp,
        /// Now.
        now: Timestamp,
    },
    /// Valid for longer than the policy allows.
    TooLong {
        /// Valid from.
        created: Timestamp,
        /// Valid until.
        expires: Timestamp,
        /// The policy's `max_validity`.
        max: Duration,
    },
    /// A vendor check the policy requires is not there.
    VendorCheckMissing {
        /// Which check.
        check: SigKind,
    },
    /// A trust-chain version that does not follow the one applied.
    TrustVersionSkipped {
        /// The version offered.
        offered: u64,
        /// The newest version applied.
        applied: u64,
    },
    /// A chain update at a site whose policy has no `[root]`.
    TrustNoRoot,
}

fn join(names: &[Name]) -> String {
    names
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Rollback {
                counter,
                offered,
                accepted,
            } => write!(
                f,
                "{counter} {offered} is older than {counter} {accepted} already accepted: rollback refused"
            ),
            Rule::Equivocation {
                counter,
                value,
                accepted,
                offered,
            } => write!(
                f,
                "{counter} {value} was already accepted with other bytes (sha256 {accepted}, now {offered}): equivocation refused"
            ),
            Rule::NotPinned {
                kind,
                source,
                offered,
                allowed,
            } => {
                let whose = match source {
                    PinSource::Site => "this site's pinned",
                    PinSource::Mirror => "this mirror's",
                };
                let (one, many) = match kind {
                    PinKind::Channel => ("channel", "channels"),
                    PinKind::Profile => ("profile", "profiles"),
                };
                match offered.as_slice() {
                    [o] => write!(f, "{one} \"{o}\"")?,
                    _ => write!(f, "{many} [{}]", join(offered))?,
                }
                write!(f, " not among {whose} {many} [{}]", join(allowed))
            }
            Rule::Expired { expires, now } => write!(f, "expired at {expires} (now {now})"),
            Rule::TooLong {
                created,
                expires,
                max,
            } => write!(
                f,
                "valid from {created} to {expires}, longer than the policy's max_validity {max}"
            ),
            Rule::VendorCheckMissing { check } => match check {
                SigKind::Minisign => f.write_str(
                    "no vendor minisign signature by a key of this policy, and the policy's vendor.require has \"minisign\"",
                ),
                SigKind::Sigstore => f.write_str(
                    "no Sigstore bundle checkable with this policy, and the policy's vendor.require has \"sigstore\"",
                ),
            },
            Rule::TrustVersionSkipped { offered, applied } => write!(
                f,
                "version {offered} does not follow version {applied}, the newest applied: versions are applied one at a time, never skipped (version {} is missing)",
                applied + 1
            ),
            Rule::TrustNoRoot => f.write_str(
                "this site's trust policy has no [root] section, so it accepts no trust-chain update",
            ),
        }
    }
}

/// A counter value and the digest of the document that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen<T> {
    /// The counter's value.
    pub value: T,
    /// SHA-256 of the document; `None` where equivocation is not judged.
    pub sha256: Option<Sha256Digest>,
}

/// What [`freshness`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Newer than anything accepted (or nothing was).
    New,
    /// The very document accepted before.
    Repeat,
}

/// Rollback, equivocation and repeat (SPEC §5 rules 2 and 7): `offered`
/// must not be older than `accepted`; with the same value it must be the
/// same document.
///
/// # Errors
/// [`Rule::Rollback`] or [`Rule::Equivocation`].
pub fn freshness<T: Ord + fmt::Display>(
    subject: &str,
    counter: Counter,
    offered: &Seen<T>,
    accepted: Option<&Seen<T>>,
) -> Result<Freshness, Refusal> {
    let Some(accepted) = accepted else {
        return Ok(Freshness::New);
    };
    match offered.value.cmp(&accepted.value) {
        std::cmp::Ordering::Greater => Ok(Freshness::New),
        std::cmp::Ordering::Less => Err(Refusal::new(
            subject,
            Rule::Rollback {
                counter,
                offered: offered.value.to_string(),
                accepted: accepted.value.to_string(),
            },
        )),
        std::cmp::Ordering::Equal => match (accepted.sha256, offered.sha256) {
            (Some(a), Some(o)) if a != o => Err(Refusal::new(
                subject,
                Rule::Equivocation {
                    counter,
                    value: offered.value.to_string(),
                    accepted: a,
                    offered: o,
                },
            )),
            _ => Ok(Freshness::Repeat),
        },
    }
}

/// Channel and profile pins (SPEC §5 rule 5). An empty `allowed` pins
/// nothing. A channel passes when any of the offered channels is allowed
/// (a release may sit in several); a profile must be allowed itself.
///
/// # Errors
/// [`Rule::NotPinned`].
pub fn pinned(
    subject: &str,
    kind: PinKind,
    source: PinSource,
    offered: &[Name],
    allowed: &[Name],
) -> Result<(), Refusal> {
    if allowed.is_empty() || offered.iter().any(|o| allowed.contains(o)) {
        return Ok(());
    }
    Err(Refusal::new(
        subject,
        Rule::NotPinned {
            kind,
            source,
            offered: offered.to_vec(),
            allowed: allowed.to_vec(),
        },
    ))
}

/// Which vendor checks passed (or are still awaited) for one artifact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VendorChecks {
    /// A minisign signature by a vendor key.
    pub minisign: bool,
    /// A Sigstore bundle checkable with the policy.
    pub sigstore: bool,
}

impl VendorChecks {
    /// What `vendor.require` asks of every artifact.
    #[must_use]
    pub fn required(vendor: &VendorPolicy) -> Self {
        VendorChecks {
            minisign: vendor.require.contains(&SigKind::Minisign),
            sigstore: vendor.require.contains(&SigKind::Sigstore),
        }
    }
}

/// The vendor checks an artifact needs (SPEC §5 rule 3): every check the
/// policy's `vendor.require` names must be in `present`.
///
/// # Errors
/// [`Rule::VendorCheckMissing`] naming the first missing check.
pub fn vendor_checks(
    subject: &str,
    vendor: &VendorPolicy,
    present: VendorChecks,
) -> Result<(), Refusal> {
    let need = VendorChecks::required(vendor);
    let missing = if need.minisign && !present.minisign {
        SigKind::Minisign
    } else if need.sigstore && !present.sigstore {
        SigKind::Sigstore
    } else {
        return Ok(());
    };
    Err(Refusal::new(
        subject,
        Rule::VendorCheckMissing { check: missing },
    ))
}

/// Expiry and max validity (SPEC §5 rule 4): a document is refused once
/// `now` reaches `expires`, or when it was made valid for longer than
/// `max`.
///
/// # Errors
/// [`Rule::Expired`] or [`Rule::TooLong`].
pub fn validity(
    subject: &str,
    created: Option<Timestamp>,
    expires: Timestamp,
    now: Timestamp,
    max: Option<Duration>,
) -> Result<(), Refusal> {
    if expires <= now {
        return Err(Refusal::new(subject, Rule::Expired { expires, now }));
    }
    if let (Some(created), Some(max)) = (created, max) {
        let valid = expires.seconds_since(created);
        if u64::try_from(valid).unwrap_or(u64::MAX) > max.seconds() {
            return Err(Refusal::new(
                subject,
                Rule::TooLong {
                    created,
                    expires,
                    max,
                },
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(v: u64, d: u8) -> Seen<u64> {
        Seen {
            value: v,
            sha256: Some(Sha256Digest::of(&[d])),
        }
    }

    #[test]
    fn freshness_decides_new_repeat_rollback_equivocation() {
        let c = Counter::ManifestSequence;
        assert_eq!(freshness("m", c, &seen(2, 0), None), Ok(Freshness::New));
        assert_eq!(
            freshness("m", c, &seen(3, 0), Some(&seen(2, 0))),
            Ok(Freshness::New)
        );
        assert_eq!(
            freshness("m", c, &seen(2, 0), Some(&seen(2, 0))),
            Ok(Freshness::Repeat)
        );
        let r = freshness("m", c, &seen(1, 0), Some(&seen(2, 0))).unwrap_err();
        assert!(matches!(*r.rule, Rule::Rollback { .. }), "{r}");
        assert!(r.to_string().contains("rollback refused"));
        let r = freshness("m", c, &seen(2, 1), Some(&seen(2, 0))).unwrap_err();
        assert!(matches!(*r.rule, Rule::Equivocation { .. }), "{r}");
    }

    #[test]
    fn pins_pass_when_empty_or_any_offered_is_allowed() {
        let n = |s: &str| Name::new(s).unwrap();
        let (k, s) = (PinKind::Channel, PinSource::Site);
        assert!(pinned("r", k, s, &[n("beta")], &[]).is_ok());
        assert!(pinned("r", k, s, &[n("beta"), n("stable")], &[n("stable")]).is_ok());
        let r = pinned("r", k, s, &[n("beta")], &[n("stable")]).unwrap_err();
        assert_eq!(
            r.to_string(),
            "r: channel \"beta\" not among this site's pinned channels [stable]"
        );
    }

    #[test]
    fn validity_refuses_expired_and_too_long() {
        let day = |d: i64| Timestamp::from_unix(1_767_225_600 + d * 86_400);
        let now = day(10);
        let max = Some(Duration::days(7));
        assert!(validity("m", Some(day(9)), day(12), now, max).is_ok());
        let e = validity("m", None, now, now, None).unwrap_err();
        assert!(matches!(*e.rule, Rule::Expired { .. }));
        let e = validity("m", Some(day(1)), day(31), now, max).unwrap_err();
        assert!(matches!(*e.rule, Rule::TooLong { .. }));
    }
}
