//! What every subcommand shares: where the mirror is, the trust policy,
//! and what this install runs.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ferry_cli::UsageError;
use ferry_handoff_core::{self as handoff, DirSource, MirrorSource, Selector, VerifiedMirror};
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::Timestamp;
use ferry_net::client::ClientOptions;
use ferry_net::mirror_client::{HttpClient, HttpMirror};
use semver::Version;

/// Mirror, policy, running version, channel, profile.
#[derive(Debug, Args)]
pub(crate) struct MirrorArgs {
    /// The internal mirror: an http(s) URL or a folder.
    #[arg(long, value_name = "URL|DIR")]
    pub(crate) mirror: String,
    /// The site's trust policy (ferry-trust.toml); its [mirror].keys must
    /// have signed the mirror's index and feed.
    #[arg(long, value_name = "POLICY")]
    pub(crate) trust: PathBuf,
    /// The version this install runs now.
    #[arg(long, value_name = "VERSION")]
    pub(crate) current: Version,
    /// The channel this install follows (stable, preview).
    #[arg(long)]
    pub(crate) channel: String,
    /// The installed deployment profile (default, no-training).
    #[arg(long)]
    pub(crate) profile: String,
    /// The platform (linux-amd64…; default: this host's own).
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// An extra CA certificate (PEM) for an https mirror or health URL.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Where this host remembers the newest index each mirror served, to
    /// refuse a replayed older one (default: $XDG_STATE_HOME/ferry/handoff,
    /// else ~/.local/state/ferry/handoff).
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// Where this host records the trust-chain versions it applied from
    /// the mirror's trust/ (default: POLICY.state/).
    #[arg(long, value_name = "DIR")]
    pub(crate) trust_state: Option<PathBuf>,
}

/// The host-memory folder: `--state`, else the user's state folder.
fn state_dir(given: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(d) = given {
        return Some(d.clone());
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(d).join("ferry/handoff"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/ferry/handoff"))
}

/// A mirror source: HTTP or a folder.
pub(crate) enum Source {
    Http(HttpMirror),
    Dir(DirSource),
}

impl Source {
    pub(crate) fn as_dyn(&self) -> &dyn MirrorSource {
        match self {
            Source::Http(h) => h,
            Source::Dir(d) => d,
        }
    }
}

/// What a subcommand starts from.
pub(crate) struct Loaded {
    pub(crate) policy: TrustPolicy,
    pub(crate) source: Source,
    pub(crate) mirror: VerifiedMirror,
    pub(crate) sel: Selector,
    pub(crate) client: ClientOptions,
}

impl MirrorArgs {
    /// Loads the policy, then reads and verifies the mirror.
    pub(crate) fn load(&self, now: Timestamp) -> Result<Loaded> {
        ferry_net::limits::set(ferry_net::limits::from_vars(|k| std::env::var(k).ok())?);
        let mut sel = Selector::new(&self.channel, &self.profile, self.platform.as_deref())
            .map_err(|e| UsageError(format!("--channel/--profile/--platform: {e}")))?;
        let loaded = ferry_cli::trust::load_policy(&self.trust, self.trust_state.as_deref(), now)?;
        let client = ClientOptions {
            ca_cert: self.ca_cert.clone(),
        };
        let source = if self.mirror.starts_with("http://") || self.mirror.starts_with("https://") {
            Source::Http(HttpMirror::new(&self.mirror, &client)?)
        } else {
            let dir = PathBuf::from(&self.mirror);
            if !dir.is_dir() {
                return Err(UsageError(format!(
                    "--mirror {}: is neither an http(s) URL nor a folder",
                    self.mirror
                ))
                .into());
            }
            Source::Dir(DirSource::new(dir))
        };
        let mirror = handoff::load(source.as_dyn(), &loaded.policy, now)?;
        // The chain the mirror served is remembered (SPEC §3.11): a replayed
        // older chain changes nothing, and dropped keys stay dropped.
        loaded.record(&mirror.policy, now)?;
        let policy = mirror.policy.clone();
        // SPEC §5 rule 7: never an older signed index than one accepted.
        if let Some(dir) = state_dir(self.state.as_ref()) {
            handoff::memory::check_and_remember(&dir, &mirror, now)?;
        }
        handoff::resolve_platform(&mirror, &mut sel)?;
        Ok(Loaded {
            policy,
            source,
            mirror,
            sel,
            client,
        })
    }
}

impl Loaded {
    /// The health probe: the mirror's client, or a new one.
    pub(crate) fn probe(&self) -> Result<ProbeRef<'_>> {
        Ok(match &self.source {
            Source::Http(h) => ProbeRef::Borrowed(h.client()),
            Source::Dir(_) => ProbeRef::Owned(Box::new(HttpClient::new(&self.client)?)),
        })
    }
}

pub(crate) enum ProbeRef<'a> {
    Borrowed(&'a HttpClient),
    Owned(Box<HttpClient>),
}

impl ProbeRef<'_> {
    pub(crate) fn get(&self) -> &HttpClient {
        match self {
            ProbeRef::Borrowed(c) => c,
            ProbeRef::Owned(c) => c,
        }
    }
}
