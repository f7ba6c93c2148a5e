//! The rules every bundle carrier shares (SPEC §3.3, §3.6): what may come
//! first, which entries are allowed, and the per-file checks (size, SHA-256,
//! vendor signatures) done while the bytes stream by.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Read;

use ferry_manifests::digest::Sha256Digest;
use ferry_manifests::json::MAX_DOCUMENT_BYTES;
use ferry_manifests::manifest::{
    FileEntry, FileRole, MANIFEST_PATH, SHA256SUMS_PATH, SIGNATURES_DIR, check_sha256sums,
};
use ferry_manifests::minisig::{BatchVerifier, MAX_SIGNATURE_BYTES, OfferedSignature};
use ferry_manifests::path::BundlePath;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::trust::Collector;

mod image;
mod read;
mod trust;
pub(crate) use read::bundle_path;
use read::{check_small, is_signature, read_exact_small};
use serde::Serialize;
use trust::{TRUST_PREFIX, is_trust_dir};

use super::deferred::{Deferred, Hashed};
use super::manifest::{VerifiedManifest, VerifyOptions, verify_manifest};
pub(crate) use super::plan::io_err;
pub use super::plan::{Done, Plan};
use super::{MAX_SIGNATURES, MAX_UPSTREAM_SIG_BYTES};
use crate::error::{Error, Result};

/// Receives each listed file's bytes while they stream by (the mirror
/// import writes them into staging). `done` is called only after that file
/// passed (size, digest, vendor signatures); the bundle as a whole passed
/// only when the verify call returns `Ok` — until then, nothing received
/// may be published.
pub trait Sink {
    /// A listed file starts; its manifest entry says what must follow.
    ///
    /// # Errors
    /// Whatever the sink fails with; verification stops.
    fn start(&mut self, file: &FileEntry) -> Result<()> {
        let _ = file;
        Ok(())
    }
    /// The next bytes of the current file (not yet verified).
    ///
    /// # Errors
    /// Whatever the sink fails with; verification stops.
    fn data(&mut self, buf: &[u8]) -> Result<()> {
        let _ = buf;
        Ok(())
    }
    /// The current file passed every check.
    ///
    /// # Errors
    /// Whatever the sink fails with; verification stops.
    fn done(&mut self, file: &FileEntry) -> Result<()> {
        let _ = file;
        Ok(())
    }
}

/// A sink that keeps nothing (plain verification).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;
impl Sink for NullSink {}

/// One verified file, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    /// Path in the bundle.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes read.
    pub sha256: Sha256Digest,
    /// `artifact`, `upstream-signature`, `notes`, `sha256sums`.
    pub role: &'static str,
    /// Vendor signature checks done on it, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vendor: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Signatures,
    Files,
}

/// Everything a verification found, once the bundle passed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The manifest.
    pub manifest: VerifiedManifest,
    /// Every file, in the order checked.
    pub files: Vec<FileResult>,
    /// Notes that are not failures (ignored signatures, unchecked kinds).
    pub findings: Vec<String>,
    /// Trust-chain versions the bundle carried that were applied, oldest
    /// first (SPEC §3.11); empty when it carried none new.
    pub trust_applied: Vec<u64>,
    /// The effective policy the bundle was checked with: the caller's,
    /// with the bundle's chain applied.
    pub policy: TrustPolicy,
}

/// The state machine every carrier drives, entry by entry.
pub struct Checker<'p> {
    policy: Cow<'p, TrustPolicy>,
    trust: Collector,
    trust_applied: Vec<u64>,
    opts: VerifyOptions,
    stage: Stage,
    manifest_bytes: Vec<u8>,
    sigs: Vec<OfferedSignature>,
    verified: Option<VerifiedManifest>,
    allowed_dirs: HashSet<String>,
    seen_dirs: HashSet<String>,
    seen: HashSet<String>,
    upstream: HashMap<String, Vec<u8>>,
    deferred: Deferred,
    /// The Ed25519 checks of prehashed vendor signatures (issue 17).
    batch: BatchVerifier,
    file_index: HashMap<String, usize>,
    early_sums: Option<Vec<u8>>,
    sums: Option<Vec<u8>>,
    files: Vec<FileResult>,
    findings: Vec<String>,
    manifest_only: bool,
    /// JSON blobs of images (manifests, indexes, configs), for the walk.
    image_docs: image::Docs,
}

impl<'p> Checker<'p> {
    /// A check that stops once the manifest and its signatures passed
    /// (`ferry-verify manifest`); `[vendor]` is not needed.
    ///
    /// # Errors
    /// [`ferry_manifests::Error::Config`] when `[transfer]` is missing.
    pub fn manifest_only(policy: &'p TrustPolicy, opts: VerifyOptions) -> Result<Self> {
        policy.transfer()?;
        let mut c = Checker::build(policy, opts);
        c.manifest_only = true;
        Ok(c)
    }

    /// Whether a manifest-only check is complete (carriers stop reading).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.manifest_only && self.verified.is_some()
    }

    /// The verified manifest (a manifest-only check's result).
    ///
    /// # Errors
    /// See [`Checker::seal`].
    pub fn into_manifest(self) -> Result<VerifiedManifest> {
        Ok(self.into_parts()?.0)
    }

    /// The verified manifest and the effective policy (the bundle's trust
    /// chain applied).
    ///
    /// # Errors
    /// See [`Checker::seal`].
    pub fn into_parts(mut self) -> Result<(VerifiedManifest, TrustPolicy)> {
        self.seal()?;
        let vm = self.verified.take().expect("sealed");
        Ok((vm, self.policy.into_owned()))
    }

    /// A fresh check. The policy must have `[transfer]` and `[vendor]`.
    ///
    /// # Errors
    /// [`ferry_manifests::Error::Config`] (exit 2) when a section is missing.
    pub fn new(policy: &'p TrustPolicy, opts: VerifyOptions) -> Result<Self> {
        policy.transfer()?;
        policy.vendor()?;
        Ok(Checker::build(policy, opts))
    }

    fn build(policy: &'p TrustPolicy, opts: VerifyOptions) -> Self {
        Checker {
            policy: Cow::Borrowed(policy),
            trust: Collector::default(),
            trust_applied: Vec::new(),
            opts,
            stage: Stage::Start,
            manifest_bytes: Vec::new(),
            sigs: Vec::new(),
            verified: None,
            allowed_dirs: HashSet::new(),
            seen_dirs: HashSet::new(),
            seen: HashSet::new(),
            upstream: HashMap::new(),
            deferred: Deferred::default(),
            batch: BatchVerifier::new(),
            file_index: HashMap::new(),
            early_sums: None,
            sums: None,
            files: Vec::new(),
            findings: Vec::new(),
            image_docs: image::Docs::default(),
            manifest_only: false,
        }
    }

    /// The verified manifest, once signatures were checked.
    #[must_use]
    pub fn manifest(&self) -> Option<&VerifiedManifest> {
        self.verified.as_ref()
    }

    /// A directory entry: allowed only for parents of listed files (and
    /// `ferry/`, `ferry/signatures/`), once each.
    ///
    /// # Errors
    /// [`Error::Bundle`] naming the entry.
    pub fn directory(&mut self, name: &str) -> Result<()> {
        let p = bundle_path(name)?;
        let s = p.as_str().to_string();
        let ok = match self.stage {
            Stage::Start => s == "ferry" || is_trust_dir(&s),
            Stage::Signatures if s == "ferry" || s == SIGNATURES_DIR || is_trust_dir(&s) => true,
            _ => {
                self.seal()?;
                if self.manifest_only {
                    return Ok(());
                }
                self.allowed_dirs.contains(&s)
            }
        };
        if !ok {
            return Err(Error::bundle(
                &s,
                "directory entry that is not the parent of a listed file (refused)",
            ));
        }
        if !self.seen_dirs.insert(s.clone()) {
            return Err(Error::bundle(
                &s,
                "directory listed twice (duplicate entry)",
            ));
        }
        Ok(())
    }

    /// A regular-file entry of `size` bytes whose data `reader` yields.
    ///
    /// # Errors
    /// Any rule of SPEC §3.6 or any per-file check.
    pub fn file(
        &mut self,
        name: &str,
        size: u64,
        reader: &mut dyn Read,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        if let Some(plan) = self.plan(name, size, reader)? {
            let done = plan.run(reader, sink)?;
            self.record(done)?;
        }
        Ok(())
    }

    /// Checks a file entry's name, place and size; for the manifest and its
    /// signatures reads them (they are small) and returns `None`; for every
    /// other file returns the plan to run over its bytes.
    ///
    /// # Errors
    /// Any rule of SPEC §3.6.
    pub fn plan(&mut self, name: &str, size: u64, reader: &mut dyn Read) -> Result<Option<Plan>> {
        let p = bundle_path(name)?;
        if self.before_files(&p, size, reader)? {
            return Ok(None);
        }
        self.seal()?;
        if self.manifest_only {
            return Ok(None);
        }
        let entry = self.listed_entry(&p, size)?;
        let s = p.as_str();
        let vendor = self.policy.vendor()?;
        let mut plan = Plan::new(entry, vendor.legacy);
        plan.progress = self.opts.progress.clone();
        let vm = self.verified.as_ref().expect("sealed");
        match vm.role_of(&p) {
            Some(FileRole::Sha256Sums) => {
                plan.role = "sha256sums";
                plan.keep = true;
                check_small(s, size, MAX_DOCUMENT_BYTES)?;
            }
            Some(FileRole::Notes(_)) | None => {}
            Some(FileRole::ImageFile(_, a)) => {
                plan.role = "image-file";
                plan.keep = image::keep(size);
                // The root's bytes are what the vendor signed (§3.12).
                if image::is_root(a, &p) {
                    image::plan_signed(
                        &mut plan,
                        a,
                        s,
                        vendor,
                        &mut self.upstream,
                        &mut self.deferred,
                    )?;
                }
            }
            Some(FileRole::UpstreamSignature(..)) => {
                plan.role = "upstream-signature";
                check_small(s, size, MAX_UPSTREAM_SIG_BYTES)?;
                plan.keep = true;
            }
            Some(FileRole::Artifact(_, a)) => {
                plan.role = "artifact";
                image::plan_signed(
                    &mut plan,
                    a,
                    s,
                    vendor,
                    &mut self.upstream,
                    &mut self.deferred,
                )?;
            }
        }
        Ok(Some(plan))
    }

    /// The entries before the files: `ferry/SHA256SUMS` (GNU tar sorts it
    /// first), the manifest, its signatures. Returns whether `p` was one
    /// of them (read whole: they are small).
    fn before_files(&mut self, p: &BundlePath, size: u64, reader: &mut dyn Read) -> Result<bool> {
        let s = p.as_str();
        if let Some(rel) = s.strip_prefix(TRUST_PREFIX) {
            return self.trust_file(s, rel, size, reader);
        }
        match self.stage {
            // GNU tar sorts `ferry/SHA256SUMS` before `ferry/manifest.json`
            // (byte order): the one file taken before the manifest, held
            // in memory (it is small) and checked once the manifest is.
            Stage::Start if s == SHA256SUMS_PATH && self.early_sums.is_none() => {
                check_small(s, size, MAX_DOCUMENT_BYTES)?;
                self.early_sums = Some(read_exact_small(reader, size, s)?);
                Ok(true)
            }
            Stage::Start => {
                if s != MANIFEST_PATH {
                    return Err(Error::bundle(
                        s,
                        format!("the first file of a bundle must be {MANIFEST_PATH} (refused)"),
                    ));
                }
                check_small(MANIFEST_PATH, size, MAX_DOCUMENT_BYTES)?;
                self.manifest_bytes = read_exact_small(reader, size, s)?;
                self.seen.insert(s.to_string());
                self.stage = Stage::Signatures;
                Ok(true)
            }
            Stage::Signatures if is_signature(p) => {
                if self.sigs.len() >= MAX_SIGNATURES {
                    return Err(Error::bundle(
                        s,
                        format!("more than {MAX_SIGNATURES} manifest signatures (refused)"),
                    ));
                }
                check_small(s, size, MAX_SIGNATURE_BYTES as u64)?;
                if !self.seen.insert(s.to_string()) {
                    return Err(Error::bundle(s, "listed twice (duplicate entry)"));
                }
                let bytes = read_exact_small(reader, size, s)?;
                self.sigs.push(OfferedSignature {
                    name: s.to_string(),
                    bytes,
                });
                Ok(true)
            }
            Stage::Signatures | Stage::Files => Ok(false),
        }
    }

    /// After the manifest: the entry must be listed, once, with its size.
    fn listed_entry(&mut self, p: &BundlePath, size: u64) -> Result<FileEntry> {
        let s = p.as_str();
        if s == MANIFEST_PATH {
            return Err(Error::bundle(
                s,
                "a second manifest in one bundle (refused)",
            ));
        }
        if p.starts_with_dir(SIGNATURES_DIR) {
            return Err(Error::bundle(
                s,
                "manifest signatures must come right after ferry/manifest.json, before any other file (refused)",
            ));
        }
        let vm = self.verified.as_ref().expect("sealed");
        let Some(entry) = vm.file(s).cloned() else {
            return Err(Error::bundle(
                s,
                "not listed in the manifest: extraneous file refused",
            ));
        };
        if !self.seen.insert(s.to_string()) {
            return Err(Error::bundle(s, "listed twice (duplicate entry refused)"));
        }
        if size != entry.size {
            return Err(ferry_manifests::Error::SizeMismatch {
                what: s.to_string(),
                expected: entry.size,
                actual: size,
            }
            .into());
        }
        Ok(entry)
    }

    /// Takes the result of a finished [`Plan`].
    ///
    /// # Errors
    /// Never today; reserved for cross-file rules.
    pub fn record(&mut self, done: Done) -> Result<()> {
        let path = done.result.path.clone();
        let sha256 = done.result.sha256;
        for (sig, key, sig_path) in done.signed {
            let Some(prehash) = done.prehash else {
                return Err(Error::bundle(
                    &path,
                    "signed but not prehashed (internal error; refused)",
                ));
            };
            self.batch.push(
                &key,
                sig,
                prehash,
                format!("{path}: vendor signature {sig_path}"),
            )?;
        }
        let kept = self.image_docs.take(&done.result, done.kept);
        self.file_index.insert(path.clone(), self.files.len());
        self.files.push(done.result);
        if let Some(bytes) = kept {
            if path == SHA256SUMS_PATH {
                self.sums = Some(bytes);
            } else {
                // A signature its artifact is waiting for is checked now;
                // otherwise it waits for its artifact's plan.
                let vendor = self.policy.vendor()?;
                let mut notes = Vec::new();
                match self.deferred.signature_done(
                    vendor,
                    &mut self.batch,
                    &path,
                    &bytes,
                    &mut notes,
                )? {
                    Some(artifact) => self.add_notes(&artifact, notes),
                    None => {
                        self.upstream.insert(path.clone(), bytes);
                    }
                }
            }
        }
        if !done.awaited.is_empty() {
            let vendor = self.policy.vendor()?;
            let hashed = Hashed {
                artifact: path.clone(),
                sha256,
                prehash: done.prehash,
            };
            let mut notes = Vec::new();
            self.deferred.artifact_done(
                vendor,
                &mut self.batch,
                &hashed,
                done.awaited,
                &mut self.upstream,
                &mut notes,
            )?;
            self.add_notes(&path, notes);
        }
        Ok(())
    }

    fn add_notes(&mut self, artifact: &str, notes: Vec<String>) {
        if let Some(i) = self.file_index.get(artifact) {
            self.files[*i].vendor.extend(notes);
        }
    }

    /// Verifies the manifest once its signatures have all been read.
    ///
    /// # Errors
    /// See [`verify_manifest`].
    pub fn seal(&mut self) -> Result<&VerifiedManifest> {
        if self.stage == Stage::Start {
            return Err(Error::bundle(
                MANIFEST_PATH,
                "missing: a bundle starts with ferry/manifest.json (refused)",
            ));
        }
        if self.verified.is_none() {
            self.apply_trust()?;
            let bytes = std::mem::take(&mut self.manifest_bytes);
            let vm = verify_manifest(&self.policy, &self.opts, bytes, &self.sigs)?;
            for (name, why) in &vm.signers.ignored {
                self.findings.push(format!("{name}: ignored ({why})"));
            }
            self.allowed_dirs.insert("ferry".into());
            self.allowed_dirs.insert(SIGNATURES_DIR.into());
            for f in &vm.manifest.files {
                for a in f.path.ancestors() {
                    self.allowed_dirs.insert(a.as_str().to_string());
                }
            }
            self.opts.progress.start("verify", vm.manifest.total_size());
            self.verified = Some(vm);
            self.stage = Stage::Files;
            if let Some(bytes) = self.early_sums.take() {
                self.take_early_sums(bytes)?;
            }
        }
        Ok(self.verified.as_ref().expect("just set"))
    }

    /// `ferry/SHA256SUMS` that came before the manifest: now checked
    /// against the manifest's entry like any listed file.
    fn take_early_sums(&mut self, bytes: Vec<u8>) -> Result<()> {
        let vm = self.verified.as_ref().expect("sealed");
        let Some(entry) = vm.file(SHA256SUMS_PATH).cloned() else {
            return Err(Error::bundle(
                SHA256SUMS_PATH,
                "not listed in the manifest: extraneous file refused",
            ));
        };
        let sha256 = Sha256Digest::of(&bytes);
        ferry_manifests::digest::check(
            SHA256SUMS_PATH,
            (&entry.sha256, entry.size),
            (&sha256, bytes.len() as u64),
        )?;
        self.seen.insert(SHA256SUMS_PATH.to_string());
        self.file_index
            .insert(SHA256SUMS_PATH.to_string(), self.files.len());
        self.files.push(FileResult {
            path: SHA256SUMS_PATH.to_string(),
            size: entry.size,
            sha256,
            role: "sha256sums",
            vendor: Vec::new(),
        });
        self.sums = Some(bytes);
        Ok(())
    }

    /// Whether a path has been seen (for carriers that check extras).
    #[must_use]
    pub fn seen(&self, path: &str) -> bool {
        self.seen.contains(path)
    }

    /// Ends the check: every listed file present, `ferry/SHA256SUMS`
    /// agreeing with `files`.
    ///
    /// # Errors
    /// A missing file or a disagreeing SHA256SUMS.
    pub fn finish(mut self) -> Result<Outcome> {
        self.seal()?;
        self.opts.progress.finish();
        let vm = self.verified.take().expect("sealed");
        for f in &vm.manifest.files {
            if !self.seen.contains(f.path.as_str()) {
                return Err(Error::bundle(
                    f.path.as_str(),
                    "listed in the manifest but missing from the bundle (truncated or incomplete copy)",
                ));
            }
        }
        self.deferred.finish()?;
        self.batch.finish()?;
        self.image_docs.check_images(&vm)?;
        if let Some(sums) = &self.sums {
            check_sha256sums(sums, &vm.manifest)?;
        }
        Ok(Outcome {
            manifest: vm,
            files: self.files,
            findings: self.findings,
            trust_applied: self.trust_applied,
            policy: self.policy.into_owned(),
        })
    }
}
