//! `ferry-verify bundle`: one entry point for every carrier.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ferry_manifests::policy::TrustPolicy;

use super::BUF;
use super::checker::{Checker, NullSink, Outcome, Sink};
use super::manifest::{VerifiedManifest, VerifyOptions};
use super::parity::{RepairReport, repair};
use super::report::{Repaired, Report};
use super::tar_read::read_tar;
use super::volumes::{VolumeEntry, VolumeReader, VolumeSet, json_for_first_volume};
use crate::error::{Error, Result};

/// What to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A tar or tar.gz stream on standard input.
    Stdin,
    /// A tar, tar.gz or zip file, a directory, a first volume `NAME.000`,
    /// or a `NAME.volumes.json`.
    Path(PathBuf),
}

impl Input {
    /// `-` is standard input.
    #[must_use]
    pub fn from_arg(s: &Path) -> Self {
        if s.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::Path(s.to_path_buf())
        }
    }

    fn describe(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::Path(p) => p.display().to_string(),
        }
    }
}

/// `--repair`: rebuild damaged volumes from parity before verifying.
#[derive(Debug, Clone, Default)]
pub enum Repair {
    /// Do not repair.
    #[default]
    No,
    /// Rebuild beside the originals as `NAME.NNN.repaired`.
    Beside,
    /// Rebuild into this directory.
    Into(PathBuf),
}

/// Verifies a bundle with no sink.
///
/// # Errors
/// The first rule broken (exit 1), a configuration problem (exit 2), or
/// an environment problem such as a missing file (exit 3).
pub fn verify_bundle(
    input: &Input,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
    repair_mode: &Repair,
) -> Result<Report> {
    run(input, policy, opts, repair_mode, &mut NullSink, false)
}

/// Verifies a bundle, handing each file's bytes to `sink` as they stream
/// by (the mirror import). Nothing the sink received may be used unless
/// this returns `Ok`.
///
/// # Errors
/// As [`verify_bundle`].
pub fn verify_bundle_with_sink(
    input: &Input,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
    sink: &mut dyn Sink,
) -> Result<Report> {
    run(input, policy, opts, &Repair::No, sink, true)
}

enum Kind {
    Tar,
    TarGz,
    Zip,
    Dir,
    Volumes(PathBuf),
}

fn sniff(path: &Path) -> Result<Kind> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "open", e))?;
    if meta.is_dir() {
        return Ok(Kind::Dir);
    }
    let s = path.to_string_lossy();
    if s.ends_with(".volumes.json") {
        return Ok(Kind::Volumes(path.to_path_buf()));
    }
    if let Some(j) = json_for_first_volume(path)
        && j.exists()
    {
        return Ok(Kind::Volumes(j));
    }
    if !meta.is_file() {
        return Err(Error::bundle(
            path.display().to_string(),
            "not a regular file or directory (FIFOs and devices are refused)",
        ));
    }
    let mut f =
        ferry_manifests::input::open_regular(path).map_err(|e| Error::io(path, "open", e))?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(Error::io(path, "read", e)),
        }
    }
    Ok(if got >= 2 && magic[..2] == [0x1f, 0x8b] {
        Kind::TarGz
    } else if got == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
        Kind::Zip
    } else {
        Kind::Tar
    })
}

/// Maps decompression errors to verification failures, keeping ours.
struct GzGuard<R>(R);
impl<R: Read> Read for GzGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.get_ref()
                .is_some_and(|i| i.is::<Error>() || i.is::<ferry_manifests::Error>())
            {
                e
            } else {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("corrupt gzip stream ({e}); refused"),
                )
            }
        })
    }
}

fn read_targz<R: BufRead>(
    r: R,
    what: &str,
    checker: &mut Checker<'_>,
    sink: &mut dyn Sink,
) -> Result<()> {
    let gz = flate2::bufread::GzDecoder::new(r);
    let GzGuard(gz) = read_tar(GzGuard(gz), what, checker, sink)?;
    if checker.is_done() {
        return Ok(());
    }
    // The header's optional fields are bytes no digest covers: `ferry pack`
    // writes none, the `gzip` tool a short file name (ATTACKS B21).
    if let Some(h) = gz.header() {
        let field = if h.extra().is_some() {
            Some("an extra field")
        } else if h.comment().is_some() {
            Some("a comment")
        } else if h.filename().is_some_and(|n| n.len() > 255) {
            Some("a file name longer than 255 bytes")
        } else {
            None
        };
        if let Some(f) = field {
            return Err(Error::bundle(
                what,
                format!("gzip header with {f} (refused: hidden data)"),
            ));
        }
    }
    // One gzip member, nothing after it (ATTACKS B21). Reading the tar
    // to its end made flate2 check the CRC-32 and ISIZE trailer.
    let mut inner = gz.into_inner();
    let rest = inner
        .fill_buf()
        .map_err(|e| Error::io(PathBuf::from(what), "read", e))?;
    if !rest.is_empty() {
        return Err(Error::bundle(
            what,
            "data after the gzip member (a second member or trailing bytes; refused)",
        ));
    }
    Ok(())
}

/// Verifies only the manifest of a bundle (or of a `manifest.json` beside
/// its `signatures/` folder): signatures, threshold, expiry, validity,
/// sequence, pins (`ferry-verify manifest`).
///
/// # Errors
/// As [`super::manifest::verify_manifest`].
pub fn verify_manifest_of(
    input: &Input,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
) -> Result<super::manifest::VerifiedManifest> {
    Ok(verify_manifest_and_trust(input, policy, opts)?.0)
}

/// As [`verify_manifest_of`], also returning the effective policy: the
/// trust chain the bundle carries applied over `policy` (SPEC §3.11).
///
/// # Errors
/// As [`verify_manifest_of`], and whatever the chain's rules refuse.
pub fn verify_manifest_and_trust(
    input: &Input,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
) -> Result<(super::manifest::VerifiedManifest, TrustPolicy)> {
    if let Input::Path(p) = input
        && p.is_file()
        && p.extension().is_some_and(|e| e == "json")
        && !p.to_string_lossy().ends_with(".volumes.json")
    {
        return Ok((verify_loose_manifest(p, policy, opts)?, policy.clone()));
    }
    let mut checker = Checker::manifest_only(policy, opts.clone())?;
    let what = input.describe();
    let mut sink = NullSink;
    match input {
        Input::Stdin => {
            let r = BufReader::with_capacity(BUF, std::io::stdin().lock());
            read_tar(r, &what, &mut checker, &mut sink)?;
        }
        Input::Path(p) => match sniff(p)? {
            Kind::Dir => super::dir::verify_dir(p, &mut checker, None)?,
            Kind::Zip => super::zip_read::verify_zip(p, &mut checker, &mut sink, false)?,
            Kind::Tar => {
                read_tar(open_buffered(p)?, &what, &mut checker, &mut sink)?;
            }
            Kind::TarGz => read_targz(open_buffered(p)?, &what, &mut checker, &mut sink)?,
            Kind::Volumes(json) => {
                let set = VolumeSet::load(&json)?;
                let dir = volumes_dir(&json);
                let fmt = set.format.clone();
                let mut vr = VolumeReader::new(&dir, set, HashMap::new());
                let r = BufReader::with_capacity(BUF, &mut vr);
                if fmt == "tar.gz" {
                    read_targz(r, &what, &mut checker, &mut sink)?;
                } else {
                    read_tar(r, &what, &mut checker, &mut sink)?;
                }
            }
        },
    }
    checker.into_parts()
}

/// A `manifest.json` on its own: the `*.minisig` files of the
/// `signatures/` folder beside it (sorted, at most
/// [`super::MAX_SIGNATURES`]) are its signatures.
fn verify_loose_manifest(
    p: &Path,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
) -> Result<super::manifest::VerifiedManifest> {
    let bytes =
        ferry_manifests::minisig::read_small_bytes(p, ferry_manifests::json::MAX_DOCUMENT_BYTES)?;
    let sig_dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("signatures");
    let mut sigs = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&sig_dir) {
        let mut names: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "minisig"))
            .collect();
        names.sort();
        for n in names.into_iter().take(super::MAX_SIGNATURES) {
            let b = ferry_manifests::minisig::read_small_bytes(
                &n,
                ferry_manifests::minisig::MAX_SIGNATURE_BYTES as u64,
            )?;
            sigs.push(ferry_manifests::minisig::OfferedSignature {
                name: n.display().to_string(),
                bytes: b,
            });
        }
    }
    super::manifest::verify_manifest(policy, opts, bytes, &sigs)
}

/// A bundle file opened (regular files only) for streaming.
fn open_buffered(p: &Path) -> Result<BufReader<std::fs::File>> {
    let f = ferry_manifests::input::open_regular(p).map_err(|e| Error::io(p, "open", e))?;
    Ok(BufReader::with_capacity(BUF, f))
}

/// The folder of a volume set: where its `volumes.json` is.
fn volumes_dir(json: &Path) -> PathBuf {
    json.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// What the carrier adds to the report: its format, the volumes checked
/// and those rebuilt from parity.
struct Carried {
    format: String,
    volumes: Vec<VolumeEntry>,
    repaired: Vec<Repaired>,
}

impl Carried {
    fn format(format: &str) -> Self {
        Carried {
            format: format.to_string(),
            volumes: Vec::new(),
            repaired: Vec::new(),
        }
    }
}

/// Verifies like [`verify_bundle_with_sink`] and hands back the verified
/// manifest instead of a report: an import's second pass, which then
/// needs one manifest in memory, not two (issue 17: at 100,000 files a
/// manifest's text, entries and path index are ~150 MB).
///
/// # Errors
/// As [`verify_bundle`].
pub fn verify_bundle_into_manifest(
    input: &Input,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
    sink: &mut dyn Sink,
) -> Result<VerifiedManifest> {
    let (outcome, _) = run_checks(input, policy, opts, &Repair::No, sink, true)?;
    Ok(outcome.manifest)
}

fn run(
    input: &Input,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
    repair_mode: &Repair,
    sink: &mut dyn Sink,
    sequential: bool,
) -> Result<Report> {
    let (outcome, carried) = run_checks(input, policy, opts, repair_mode, sink, sequential)?;
    let mut report = Report::new(policy, opts.now, input.describe(), carried.format, outcome);
    report.volumes = carried.volumes;
    report.repaired = carried.repaired;
    Ok(report)
}

fn run_checks(
    input: &Input,
    policy: &TrustPolicy,
    opts: &VerifyOptions,
    repair_mode: &Repair,
    sink: &mut dyn Sink,
    sequential: bool,
) -> Result<(Outcome, Carried)> {
    let mut checker = Checker::new(policy, opts.clone())?;
    let what = input.describe();
    let carried = match input {
        Input::Stdin => {
            let mut r = BufReader::with_capacity(BUF, std::io::stdin().lock());
            let head = r
                .fill_buf()
                .map_err(|e| Error::io(PathBuf::from("-"), "read", e))?;
            if head.starts_with(&[0x1f, 0x8b]) {
                read_targz(r, &what, &mut checker, sink)?;
                Carried::format("tar.gz")
            } else {
                read_tar(r, &what, &mut checker, sink)?;
                Carried::format("tar")
            }
        }
        Input::Path(p) => match sniff(p)? {
            Kind::Dir => {
                super::dir::verify_dir(p, &mut checker, sequential.then_some(sink))?;
                Carried::format("dir")
            }
            Kind::Zip => {
                super::zip_read::verify_zip(p, &mut checker, sink, !sequential)?;
                Carried::format("zip")
            }
            Kind::Tar | Kind::TarGz => {
                let r = open_buffered(p)?;
                if matches!(sniff(p)?, Kind::TarGz) {
                    read_targz(r, &what, &mut checker, sink)?;
                    Carried::format("tar.gz")
                } else {
                    read_tar(r, &what, &mut checker, sink)?;
                    Carried::format("tar")
                }
            }
            Kind::Volumes(json) => verify_volumes(&json, &what, repair_mode, &mut checker, sink)?,
        },
    };
    Ok((checker.finish()?, carried))
}

/// A volume set: repaired first when asked, read through its volumes, and
/// its `volumes.json` must name the manifest the volumes carry.
fn verify_volumes(
    json: &Path,
    what: &str,
    repair_mode: &Repair,
    checker: &mut Checker<'_>,
    sink: &mut dyn Sink,
) -> Result<Carried> {
    let set = VolumeSet::load(json)?;
    let dir = volumes_dir(json);
    let rep: RepairReport = match repair_mode {
        Repair::No => RepairReport::default(),
        Repair::Beside => repair(json, None)?,
        Repair::Into(d) => repair(json, Some(d))?,
    };
    let overrides: HashMap<String, PathBuf> = rep.overrides();
    let fmt = set.format.clone();
    let mut vr = VolumeReader::new(&dir, set, overrides);
    let r = BufReader::with_capacity(BUF, &mut vr);
    let res = if fmt == "tar.gz" {
        read_targz(r, what, checker, sink)
    } else {
        read_tar(r, what, checker, sink).map(|_| ())
    };
    if let Err(e) = res {
        // Damage is reported by volume, not by the entry it broke.
        if let Some(ve) = vr.drain_current() {
            return Err(ve);
        }
        return Err(e);
    }
    let vm = checker.seal()?;
    if vm.sha256 != vr.set().manifest_sha256 {
        return Err(Error::bundle(
            json.display().to_string(),
            format!(
                "names manifest sha256 {}, but the volumes carry manifest {}: volumes.json belongs to another bundle (refused)",
                vr.set().manifest_sha256,
                vm.sha256
            ),
        ));
    }
    let repaired = rep
        .rebuilt
        .iter()
        .map(|(name, path)| Repaired {
            name: name.clone(),
            path: path.clone(),
        })
        .collect();
    Ok(Carried {
        format: format!("volumes ({fmt})"),
        volumes: vr.set().volumes.clone(),
        repaired,
    })
}
