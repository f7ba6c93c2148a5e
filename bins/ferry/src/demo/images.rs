//! The demo's container images (SPEC §3.12, issue 12): the vendor's
//! registry (ferry's own read-only registry code over an OCI image layout,
//! on 127.0.0.1), the mirror's one-copy-per-blob store, and a container
//! host whose installer receives `FERRY_IMAGE`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use ferry_manifests::time::Timestamp;
use ferry_net::oci_registry::{LayoutCatalog, router};

use super::*;

impl Demo {
    /// Stage 1b: the sample images, built into the vendor folder and into
    /// the vendor's registry storage, which ferry's registry code serves.
    /// Returns the registry's `HOST:PORT`.
    pub(super) fn serve_registry(&mut self) -> Result<String> {
        self.step("The vendor pushes its images to its registry (127.0.0.1 only)");
        let src = self.path("vendor-src");
        let storage = self.path("registry");
        let images = sample::build_images(&src, &storage)?;
        self.say(&format!(
            "{images} images {0}:<version> (no-training) and {0}:<version>-default: linux-arm64, 3 layers, the first two shared by every version; each also an OCI image layout in {1}/<version>/<profile>/onprem.oci",
            sample::IMAGE_REPO,
            src.display()
        ));
        let mut catalog = LayoutCatalog::new();
        catalog.add_layout(sample::IMAGE_REPO, &storage)?;
        let server = ferry_net::serve::StaticServer::start_router(
            router(Arc::new(catalog)),
            &storage,
            "127.0.0.1:0".parse()?,
        )?;
        let host = server.addr().to_string();
        self.say(&format!(
            "the vendor's registry at {host} (plain HTTP): ferry's own read-only registry over {}",
            storage.display()
        ));
        self.say(&format!(
            "a real vendor pushes each layout: skopeo copy --all --preserve-digests oci:{}/2.0.0/no-training/onprem.oci:2.0.0 docker://{host}/{}:2.0.0",
            src.display(),
            sample::IMAGE_REPO,
        ));
        self.servers.push(("vendor registry".into(), server));
        Ok(host)
    }

    /// After the import: the images' blobs as the workspace held them (one
    /// layout per version) against the mirror's store (each blob once).
    pub(super) fn say_blob_store(&self) -> Result<()> {
        let mut carried = (0u64, 0u64);
        let releases = self.path("workspace/releases");
        for v in read_dir(&releases)? {
            let layout = v
                .join("no-training")
                .join(format!("{}.oci", sample::IMAGE_NAME));
            if layout.is_dir() {
                let (n, b) = blob_totals(&layout.join("blobs/sha256"))?;
                carried = (carried.0 + n, carried.1 + b);
            }
        }
        let (n, b) = blob_totals(&self.path("mirror/oci/blobs/sha256"))?;
        self.say(&format!(
            "images: the versions' layouts hold {} blobs, {} bytes; the mirror's oci/ stores {n} blobs, {b} bytes (shared layers stored once)",
            carried.0, carried.1
        ));
        Ok(())
    }

    /// Stage 7: a container host (linux-arm64) on 1.4.0 takes the 2.0.0
    /// image: verified from the mirror into an OCI archive, its installer
    /// given `FERRY_IMAGE`; then the pulls an operator would run.
    pub(super) fn stage_handoff_image(&mut self, mirror_url: &str) -> Result<()> {
        use ferry_handoff_core::{self as handoff, Selector};
        self.step(
            "Product operator: a container host (linux-arm64) on 1.4.0 takes the 2.0.0 image",
        );
        let site = self.path("policy/host.toml");
        let now = Timestamp::now();
        let loaded = ferry_cli::trust::load_policy(&site, None, now)?;
        let client = ferry_net::client::ClientOptions::default();
        let source = ferry_net::mirror_client::HttpMirror::new(mirror_url, &client)?;
        let verified = handoff::load(&source, &loaded.policy, now)?;
        let policy = verified.policy.clone();
        let sel = Selector::new("stable", "no-training", Some(sample::IMAGE_PLATFORM))
            .map_err(anyhow::Error::msg)?;
        let host = self.prepare_host(now, "host-images")?;
        let hop = Hop {
            mirror_url,
            site: &site,
            platform: sample::IMAGE_PLATFORM,
            current: semver::Version::new(1, 4, 0),
            next: semver::Version::new(2, 0, 0),
            now,
        };
        let ctx = handoff::install::InstallContext {
            source: &source,
            probe: &ferry_net::mirror_client::HttpClient::new(&client)?,
            mirror: &verified,
            policy: &policy,
            sel: &sel,
        };
        self.hand_over(&ctx, &host, &hop)?;
        self.say_pulls(mirror_url, &host.record)
    }

    /// The commands an operator runs against `ferry-mirror serve`, the
    /// site's registry.
    fn say_pulls(&self, mirror_url: &str, record: &Path) -> Result<()> {
        let received = std::fs::read_to_string(record)
            .with_context(|| format!("read {}", record.display()))?;
        let image = received
            .lines()
            .find_map(|l| l.strip_prefix("FERRY_IMAGE="))
            .filter(|i| i.contains("@sha256:"))
            .context("the installer did not receive FERRY_IMAGE")?;
        let host = mirror_url
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let repo = format!("{host}/{}", sample::IMAGE_REPO);
        self.say("the site's hosts pull from the mirror, by tag or by the pinned digest (plain HTTP: Docker takes 127.0.0.1 as is; list another mirror host in insecure-registries):");
        self.command(&format!("docker pull --platform linux/arm64 {repo}:3.2.1"));
        self.command(&format!("docker pull --platform linux/arm64 {image}"));
        self.command(&format!(
            "skopeo copy --all --preserve-digests --src-tls-verify=false docker://{repo}:3.2.1 oci:onprem-3.2.1:3.2.1"
        ));
        self.say("or, with no registry at all, the hand-off's verified archive:");
        self.command(&format!(
            "docker load -i {}",
            self.path("host-images/incoming/onprem-2.0.0.oci.tar")
                .display()
        ));
        Ok(())
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        out.push(e.with_context(|| format!("read {}", dir.display()))?.path());
    }
    Ok(out)
}

/// (files, bytes) directly in `dir`.
fn blob_totals(dir: &Path) -> Result<(u64, u64)> {
    let mut totals = (0, 0);
    for p in read_dir(dir)? {
        let m = std::fs::metadata(&p).with_context(|| format!("inspect {}", p.display()))?;
        if m.is_file() {
            totals = (totals.0 + 1, totals.1 + m.len());
        }
    }
    Ok(totals)
}
