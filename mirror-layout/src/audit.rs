//! The mirror's hash-chained audit log, `audit/log.jsonl` (SPEC §3.9).
//!
//! One JSON object a line: `seq`, `time`, `action`, `actor`, `details`,
//! `prev` (SHA-256 of the previous line's bytes, without its newline; 64
//! zeros for the first). The signed mirror index records the head (last
//! `seq` and the SHA-256 of the last line), so the signature anchors the
//! whole chain. `ferry-verify audit-log` checks it.

use serde::{Deserialize, Serialize};

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::time::Timestamp;

use crate::error::{Error, Result};

/// Largest audit log read (lines are small; a mirror imports rarely).
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The mirror was created.
    Init,
    /// A bundle was imported.
    Import,
    /// Old versions were removed.
    Prune,
    /// The mirror was published to object storage (`ferry-mirror
    /// publish`, SPEC §3.14): target, objects, bytes.
    Publish,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// 0, 1, 2… without gaps.
    pub seq: u64,
    /// When.
    pub time: Timestamp,
    /// What.
    pub action: Action,
    /// Who (user@host of the process).
    pub actor: String,
    /// Action-specific details.
    pub details: serde_json::Value,
    /// SHA-256 of the previous line (64 zeros for the first).
    pub prev: Sha256Digest,
}

/// The head of a chain: the last entry's `seq` and the SHA-256 of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// Last `seq`.
    pub seq: u64,
    /// SHA-256 of the last line.
    pub sha256: Sha256Digest,
}

impl Entry {
    /// The line bytes (no newline) as written to the log.
    ///
    /// # Panics
    /// Never: entries always serialize.
    #[must_use]
    pub fn to_line(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("audit entries serialize")
    }
}

/// The next entry after `head` (or the first if `None`).
#[must_use]
pub fn next_entry(
    head: Option<Head>,
    time: Timestamp,
    action: Action,
    actor: &str,
    details: serde_json::Value,
) -> Entry {
    Entry {
        seq: head.map_or(0, |h| h.seq + 1),
        time,
        action,
        actor: actor.to_string(),
        details,
        prev: head.map_or(Sha256Digest([0; 32]), |h| h.sha256),
    }
}

/// The actor string of this process: `name@host (uid N)`, from the real
/// user id the kernel reports (`/proc/self/status`) and its name in
/// `/etc/passwd`; never from `$USER`, which anyone can set (issue 10).
#[must_use]
pub fn current_actor() -> String {
    let uid = real_uid();
    let name = uid.and_then(user_name).unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    match uid {
        Some(u) => format!("{name}@{host} (uid {u})"),
        None => format!("{name}@{host}"),
    }
}

/// The real user id of this process.
fn real_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The name of `uid` in `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

/// Checks a whole log: every line parses strictly, `seq` counts from 0
/// without gaps, each `prev` is the SHA-256 of the line before. Returns the
/// entries and the head.
///
/// # Errors
/// [`Error::Refused`] naming the line and the break.
pub fn verify_chain(bytes: &[u8], what: &str) -> Result<(Vec<Entry>, Option<Head>)> {
    let bad = |line: usize, reason: String| Error::Refused {
        what: format!("{what}: line {line}"),
        reason,
    };
    if bytes.is_empty() {
        return Ok((Vec::new(), None));
    }
    if !bytes.ends_with(b"\n") {
        return Err(bad(
            bytes.split(|b| *b == b'\n').count(),
            "the last line is not complete (no newline): the log was cut".into(),
        ));
    }
    let mut entries = Vec::new();
    let mut head: Option<Head> = None;
    for (i, line) in bytes[..bytes.len() - 1].split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let entry: Entry = ferry_manifests::json::parse_strict(line, &format!("{what}: line {n}"))
            .map_err(|e| bad(n, e.to_string()))?;
        let expected_seq = head.map_or(0, |h| h.seq + 1);
        if entry.seq != expected_seq {
            return Err(bad(
                n,
                format!("seq is {}, expected {expected_seq}", entry.seq),
            ));
        }
        let expected_prev = head.map_or(Sha256Digest([0; 32]), |h| h.sha256);
        if entry.prev != expected_prev {
            return Err(bad(
                n,
                format!(
                    "prev is {}, but the previous line hashes to {expected_prev}: the log was altered",
                    entry.prev.short()
                ),
            ));
        }
        // Re-serialization must give the same bytes: no reformatted lines.
        if entry.to_line() != line {
            return Err(bad(n, "the line is not in ferry's canonical form".into()));
        }
        head = Some(Head {
            seq: entry.seq,
            sha256: Sha256Digest::of(line),
        });
        entries.push(entry);
    }
    Ok((entries, head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut head = None;
        for i in 0..n {
            let e = next_entry(
                head,
                Timestamp::from_unix(1_800_000_000 + i as i64),
                Action::Import,
                "root@test",
                serde_json::json!({"i": i}),
            );
            let line = e.to_line();
            head = Some(Head {
                seq: e.seq,
                sha256: Sha256Digest::of(&line),
            });
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn a_good_chain_verifies() {
        let (entries, head) = verify_chain(&log_of(3), "log").unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(head.unwrap().seq, 2);
    }

    #[test]
    fn edits_deletions_and_cuts_are_found() {
        let log = log_of(3);
        let text = String::from_utf8(log.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let edited = text.replace("\"i\":1", "\"i\":9");
        assert!(
            verify_chain(edited.as_bytes(), "log")
                .unwrap_err()
                .to_string()
                .contains("line 3")
        );
        let deleted = format!("{}\n{}\n", lines[0], lines[2]);
        assert!(
            verify_chain(deleted.as_bytes(), "log")
                .unwrap_err()
                .to_string()
                .contains("seq is 2, expected 1")
        );
        assert!(
            verify_chain(&log[..log.len() - 5], "log")
                .unwrap_err()
                .to_string()
                .contains("cut")
        );
    }
}
