//! The library path `ferry demo` takes: a vendor index built on disk,
//! served by [`ferry_net::serve::StaticServer`], synced with
//! [`ferry_net::sync::sync_blocking`], signed with
//! [`ferry_workspace::sign`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_manifests::minisig::SecretKey;
use ferry_manifests::name::Name;
use ferry_manifests::policy::TrustPolicy;
use ferry_manifests::time::{Duration, Timestamp};
use ferry_net::client::ClientOptions;
use ferry_net::progress::NoProgress;
use ferry_net::serve::StaticServer;
use ferry_net::sync::{SyncOptions, sync_blocking};
use ferry_workspace::{SignOptions, Workspace, sign};

fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys/demo")
}

#[test]
fn serve_sync_sign_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let rel = src.join("1.0.0");
    std::fs::create_dir_all(rel.join("no-training")).unwrap();
    std::fs::create_dir_all(rel.join("default")).unwrap();
    std::fs::write(src.join("product.toml"), "product = \"novantra\"\n").unwrap();
    std::fs::write(
        rel.join("release.toml"),
        "channels = [\"stable\"]\npublished = \"2026-11-01T00:00:00Z\"\n\
         [[artifacts]]\nfile = \"a.deb\"\nprofile = \"no-training\"\nplatform = \"linux-amd64\"\nformat = \"deb\"\n\
         [[artifacts]]\nfile = \"b.deb\"\nprofile = \"default\"\nplatform = \"linux-amd64\"\nformat = \"deb\"\n",
    )
    .unwrap();
    std::fs::write(rel.join("NOTES.md"), "notes\n").unwrap();
    std::fs::write(rel.join("no-training/a.deb"), vec![7u8; 100_000]).unwrap();
    std::fs::write(rel.join("default/b.deb"), vec![8u8; 1000]).unwrap();
    let web = tmp.path().join("web");
    let vendor = SecretKey::from_file(&keys().join("vendor.key"), None).unwrap();
    ferry_manifests::vendor::build_index(&src, &web, &vendor, Timestamp::now()).unwrap();
    std::fs::create_dir_all(web.join(".ferry")).unwrap();
    std::fs::write(web.join(".ferry/secret"), "x").unwrap();

    let server = StaticServer::start(&web, "127.0.0.1:0".parse().unwrap()).unwrap();
    // `.ferry/` is never served; Range is.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let hidden = rt
        .block_on(client.get(format!("{}.ferry/secret", server.url())).send())
        .unwrap();
    assert_eq!(hidden.status(), 404);
    let ranged = rt
        .block_on(
            client
                .get(format!("{}1.0.0/no-training/a.deb", server.url()))
                .header("Range", "bytes=99990-")
                .send(),
        )
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(rt.block_on(ranged.bytes()).unwrap().len(), 10);

    let policy_path = tmp.path().join("trust.toml");
    std::fs::write(
        &policy_path,
        format!(
            "product = \"novantra\"\n[vendor]\nminisign_keys = [\"{}\"]\n",
            keys().join("vendor.pub").display()
        ),
    )
    .unwrap();
    let policy = TrustPolicy::load(&policy_path).unwrap();
    let ws_dir = tmp.path().join("ws");
    let opts = SyncOptions {
        index_url: format!("{}index.json", server.url()),
        channels: vec![Name::new("stable").unwrap()],
        profiles: vec![Name::new("no-training").unwrap()],
        versions: None,
        platforms: Vec::new(),
        workspace: ws_dir.clone(),
        client: ClientOptions::default(),
        registry_http: Vec::new(),
        jobs: 4,
        retries: 0,
        allow_older_index: false,
    };
    let report = sync_blocking(&opts, &policy, Arc::new(NoProgress)).unwrap();
    assert_eq!(report.files, 3);
    assert_eq!(report.downloaded, 3);
    assert!(!ws_dir.join("releases/1.0.0/default").exists());

    let ws = Workspace::existing(&ws_dir).unwrap();
    let org = SecretKey::from_file(&keys().join("org1.key"), None).unwrap();
    let signed = sign(
        &ws,
        &org,
        SignOptions {
            issued_elsewhere: 0,
            expires: Duration::days(30),
            max_validity: None,
            now: Timestamp::now(),
        },
    )
    .unwrap();
    assert!(signed.new_manifest);
    assert_eq!(signed.files, 4);
    drop(server);
}
