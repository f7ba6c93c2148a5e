//! Real S3-compatible stores on 127.0.0.1 for the publish tests (issue
//! 14): a three-node Garage cluster with replication factor 3 and its
//! website endpoint, and a single `s3s-fs` (which honours conditional
//! writes). Each is started by the test in its own folder and killed on
//! drop. A missing binary skips the test with a note on stderr, except in
//! CI (`CI` set), where it fails: `scripts/ci.sh` installs both.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test's access key (Garage wants `GK` + 24 hex digits and 64 hex
/// digits of secret). Test-only values, never a real credential.
pub const KEY_ID: &str = "GK0f3aa1b2c3d4e5f60718293a";
/// Its secret.
pub const SECRET: &str = "5e1f2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The path of `name` on `PATH`, or `None` (the test skips) outside CI.
///
/// # Panics
/// In CI (`CI` set) when the binary is missing.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed; scripts/ci.sh installs it (cargo install {name} --locked)"
        );
        eprintln!(
            "skipped: {name} is not installed (cargo install {name} --locked; scripts/ci.sh does)"
        );
    }
    found
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_listening(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct GarageNode {
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    rpc: u16,
    s3: u16,
    web: u16,
}

/// A three-node Garage cluster, replication factor 3, one bucket served
/// by the website endpoint (named `localhost`, so `http://localhost:PORT/`
/// serves it: Garage picks the bucket by the `Host` header).
pub struct Garage {
    bin: PathBuf,
    nodes: Vec<GarageNode>,
    /// The bucket.
    pub bucket: String,
}

impl Garage {
    /// Starts the cluster in `dir` with bucket `localhost`; `None` when
    /// Garage is not installed (outside CI).
    pub fn start(dir: &Path) -> Option<Garage> {
        let bin = tool("garage")?;
        let secret = "a1".repeat(32);
        let mut nodes = Vec::new();
        for i in 0..3 {
            let d = dir.join(format!("garage-{i}"));
            std::fs::create_dir_all(&d).unwrap();
            let (rpc, s3, web) = (free_port(), free_port(), free_port());
            let config = d.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    "metadata_dir = \"{m}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
                     replication_factor = 3\nconsistency_mode = \"consistent\"\n\
                     rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                     rpc_secret = \"{secret}\"\n\n[s3_api]\ns3_region = \"garage\"\n\
                     api_bind_addr = \"127.0.0.1:{s3}\"\nroot_domain = \".s3.garage.localhost\"\n\n\
                     [s3_web]\nbind_addr = \"127.0.0.1:{web}\"\nroot_domain = \".web.garage.localhost\"\n\
                     index = \"index.html\"\n",
                    m = d.join("meta").display(),
                    data = d.join("data").display(),
                ),
            )
            .unwrap();
            nodes.push(GarageNode {
                log: d.join("garage.log"),
                config,
                child: None,
                rpc,
                s3,
                web,
            });
        }
        let mut g = Garage {
            bin,
            nodes,
            bucket: "localhost".into(),
        };
        for i in 0..3 {
            g.spawn(i);
        }
        g.form_cluster();
        Some(g)
    }

    fn spawn(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&n.config)
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start garage");
        n.child = Some(child);
        wait_listening(n.rpc, "garage rpc");
        wait_listening(n.s3, "garage s3");
    }

    /// Runs the `garage` CLI against node `i`; returns stdout (panics on failure).
    fn cli(&self, i: usize, args: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let out = Command::new(&self.bin)
                .arg("-c")
                .arg(&self.nodes[i].config)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("run garage");
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).to_string();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "garage {args:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn node_id(&self, i: usize) -> String {
        self.cli(i, &["node", "id", "-q"]).trim().to_string()
    }

    /// `node connect`, layout (zone dc1, 1G each), the bucket, the key,
    /// the website: `script/dev-cluster.sh` of Garage, in Rust.
    fn form_cluster(&self) {
        let ids: Vec<String> = (0..3).map(|i| self.node_id(i)).collect();
        for id in &ids[1..] {
            self.cli(0, &["node", "connect", id]);
        }
        self.wait_healthy();
        for id in &ids {
            let short = &id[..16];
            self.cli(0, &["layout", "assign", short, "-z", "dc1", "-c", "1G"]);
        }
        self.cli(0, &["layout", "apply", "--version", "1"]);
        let b = self.bucket.as_str();
        self.cli(0, &["bucket", "create", b]);
        self.cli(
            0,
            &["key", "import", "--yes", "-n", "ferry", KEY_ID, SECRET],
        );
        self.cli(
            0,
            &[
                "bucket", "allow", b, "--read", "--write", "--owner", "--key", "ferry",
            ],
        );
        self.cli(0, &["bucket", "website", "--allow", b]);
    }

    /// Waits until node 0 sees every running node healthy.
    pub fn wait_healthy(&self) {
        let running = self.nodes.iter().filter(|n| n.child.is_some()).count();
        let start = Instant::now();
        loop {
            let s = self.cli(0, &["status"]);
            let healthy = s
                .split("==== FAILED NODES ====")
                .next()
                .unwrap_or_default()
                .matches("127.0.0.1:")
                .count();
            if healthy == running {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "cluster never healthy:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The S3 API of node 0 (the one never killed).
    pub fn s3_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.nodes[0].s3)
    }

    /// The website endpoint of node 0, serving the bucket.
    pub fn web_url(&self) -> String {
        format!("http://localhost:{}/", self.nodes[0].web)
    }

    /// SIGKILL node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again and waits for a healthy cluster.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        let id = self.node_id(i);
        self.cli(0, &["node", "connect", &id]);
        self.wait_healthy();
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// One `s3s-fs` on 127.0.0.1 over `root` (objects are plain files at
/// `root/BUCKET/KEY`), with bucket `mirror`.
pub struct S3sFs {
    child: Child,
    /// The data folder.
    pub root: PathBuf,
    /// The port.
    pub port: u16,
    /// The bucket.
    pub bucket: String,
}

impl S3sFs {
    /// Starts it in `dir`; `None` when s3s-fs is not installed (outside CI).
    pub fn start(dir: &Path) -> Option<S3sFs> {
        let bin = tool("s3s-fs")?;
        let root = dir.join("s3s-fs");
        let bucket = "mirror".to_string();
        std::fs::create_dir_all(root.join(&bucket)).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("s3s-fs.log")).unwrap();
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", KEY_ID, "--secret-key", SECRET])
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start s3s-fs");
        wait_listening(port, "s3s-fs");
        Some(S3sFs {
            child,
            root,
            port,
            bucket,
        })
    }

    /// Its S3 endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The file holding object `key` of the bucket.
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.root.join(&self.bucket).join(key)
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
