//! The command-line binary (flags, startup line) and the `--state` file across restarts.

mod common;

use aws_credential_types::Credentials;
use aws_sdk_codeartifact as ca;
use codeartifact_emulator::{Config, Emulator};
use common::{client, domain_with_repo, spawn_binary, upload};

const BIN: &str = env!("CARGO_BIN_EXE_codeartifact-emulator");

#[tokio::test]
async fn binary_prints_its_base_url_and_region_then_serves_signed_requests() {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(["--listen", "127.0.0.1:0", "--region", "eu-central-1"])
        .args(["--credentials", "AKIDCLI:cli-secret:123456789012"])
        .args(["--credentials", "AKIDCLI2:other:210987654321"]);
    let (mut child, url, region) = spawn_binary(command).await;
    let url = url.as_str();
    assert_eq!(region, "eu-central-1");
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let health: serde_json::Value = reqwest::get(format!("{url}/_emulator/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["baseUrl"], url);
    let conf = ca::Config::builder()
        .behavior_version(ca::config::BehaviorVersion::latest())
        .region(ca::config::Region::new("eu-central-1"))
        .credentials_provider(Credentials::new("AKIDCLI2", "other", None, None, "static"))
        .endpoint_url(url)
        .build();
    let d = ca::Client::from_conf(conf)
        .create_domain()
        .domain("cli")
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.domain().unwrap().arn(),
        Some("arn:aws:codeartifact:eu-central-1:210987654321:domain/cli")
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn binary_rejects_malformed_credentials() {
    let out = tokio::process::Command::new(BIN)
        .args(["--credentials", "only-a-key"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEY:SECRET:ACCOUNT"));
}

/// Fill an emulator with one of everything the state file must keep; returns the token.
async fn populate(emu: &Emulator) -> String {
    let c = client(emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    let tag = ca::types::Tag::builder()
        .key("k")
        .value("v")
        .build()
        .unwrap();
    let arn = "arn:aws:codeartifact:us-west-2:111122223333:domain/dom";
    c.tag_resource()
        .resource_arn(arn)
        .tags(tag)
        .send()
        .await
        .unwrap();
    let policy = c
        .put_domain_permissions_policy()
        .domain("dom")
        .policy_document("{}");
    policy.send().await.unwrap();
    let r = upload(
        &endpoint,
        &token,
        "kept",
        "1.0",
        "kept-1.0.tar.gz",
        b"kept-bytes",
    )
    .await;
    assert_eq!(r.status(), 200);
    token
}

#[tokio::test]
async fn state_file_keeps_everything_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let config = Config {
        state_file: Some(state.clone()),
        ..Config::for_tests()
    };
    let emu = Emulator::start(config.clone()).await.unwrap();
    let token = populate(&emu).await;
    let (domains, repos) = (emu.domains(), emu.repositories());
    emu.shutdown().await;
    let files = std::fs::read_dir(dir.path()).unwrap();
    let leftovers: Vec<_> = files.map(|e| e.unwrap().file_name()).collect();
    assert_eq!(
        leftovers,
        ["state.json"],
        "written atomically, no temp file left"
    );

    let emu = Emulator::start(config).await.unwrap();
    assert_eq!(emu.domains(), domains);
    assert_eq!(emu.repositories(), repos);
    assert!(emu.issued_tokens().contains(&token));
    let c = client(&emu);
    let d = c.describe_domain().domain("dom").send().await.unwrap();
    assert_eq!(d.domain().unwrap().asset_size_bytes(), 10);
    assert!(
        c.get_domain_permissions_policy()
            .domain("dom")
            .send()
            .await
            .is_ok()
    );
    let file = format!(
        "{}/pypi/d/dom-111122223333/repo/files/kept/kept-1.0.tar.gz",
        emu.base_url()
    );
    let download = reqwest::Client::new()
        .get(file)
        .basic_auth("aws", Some(&token));
    let bytes = download.send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&bytes[..], b"kept-bytes");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_state_file_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, b"{ broken").unwrap();
    let config = Config {
        state_file: Some(state),
        ..Config::for_tests()
    };
    let err = Emulator::start(config).await.unwrap_err();
    assert!(format!("{err:#}").contains("state file"), "{err:#}");
}

#[tokio::test]
async fn on_a_wildcard_address_endpoints_use_the_host_the_client_called() {
    let config = Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..Config::for_tests()
    };
    let emu = Emulator::start(config).await.unwrap();
    let port = emu.base_url().rsplit(':').next().unwrap().to_string();
    let via = format!("http://localhost:{port}");
    let conf = ca::Config::builder()
        .behavior_version(ca::config::BehaviorVersion::latest())
        .region(ca::config::Region::new("us-west-2"))
        .credentials_provider(Credentials::new(
            "AKIDEMULATOR",
            "emulator-secret",
            None,
            None,
            "t",
        ))
        .endpoint_url(&via)
        .build();
    let c = ca::Client::from_conf(conf);
    let (_, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    assert_eq!(endpoint, format!("{via}/pypi/d/dom-111122223333/repo/"));
    emu.shutdown().await;
}
