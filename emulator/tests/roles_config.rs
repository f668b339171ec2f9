//! Roles configured at start (`--roles FILE`) and through the admin API, then assumed with
//! aws-sdk-sts against the binary.

mod common;

use std::path::Path;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_sts as sts;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_codeartifact-emulator");

fn roles_json(arn: &str) -> serde_json::Value {
    json!([{
        "arn": arn,
        "trusted": ["123456789012"],
        "externalId": "ext-1",
        "policy": {"Version": "2012-10-17",
                   "Statement": {"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"}}
    }])
}

#[tokio::test]
async fn roles_from_the_flag_and_the_admin_api_can_be_assumed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roles.json");
    let arn = "arn:aws:iam::123456789012:role/from-file";
    std::fs::write(&file, roles_json(arn).to_string()).unwrap();
    let (mut child, url, _) = common::spawn_binary(emulator_with_roles(&file)).await;
    let bad = the_admin_api_lists_refuses_and_adds(&url, arn).await;
    both_roles_can_be_assumed(&url, arn).await;
    child.kill().await.unwrap();

    // A role file the emulator cannot use stops startup with a message naming the problem.
    std::fs::write(&file, json!([bad]).to_string()).unwrap();
    let out = emulator_with_roles(&file).output().await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotAction"),
        "{out:?}"
    );
}

/// The binary with one long-term key and `--roles FILE`.
fn emulator_with_roles(file: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--credentials",
            "AKIDCLI:cli-secret:123456789012",
        ])
        .arg("--roles")
        .arg(file);
    command
}

/// The admin API lists the file's role, refuses what the evaluator does not
/// support (naming it) and adds `from-admin`; returns the refused role.
async fn the_admin_api_lists_refuses_and_adds(url: &str, arn: &str) -> serde_json::Value {
    let http = reqwest::Client::new();
    let listed: serde_json::Value = http
        .get(format!("{url}/_emulator/roles"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["arn"], arn);
    let mut bad = roles_json("arn:aws:iam::123456789012:role/bad")[0].clone();
    bad["policy"] = json!({"Statement": {"Effect": "Allow", "NotAction": "*", "Resource": "*"}});
    let refused = http
        .post(format!("{url}/_emulator/roles"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("NotAction"));
    let added = roles_json("arn:aws:iam::123456789012:role/from-admin")[0].clone();
    let ok = http
        .post(format!("{url}/_emulator/roles"))
        .json(&added)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    bad
}

/// aws-sdk-sts assumes the role from the file and the one from the admin API.
async fn both_roles_can_be_assumed(url: &str, arn: &str) {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(
            "AKIDCLI",
            "cli-secret",
            None,
            None,
            "static",
        ))
        .load()
        .await;
    let client = sts::Client::new(&conf);
    for (role, name) in [
        (arn, "from-file"),
        ("arn:aws:iam::123456789012:role/from-admin", "from-admin"),
    ] {
        let out = client
            .assume_role()
            .role_arn(role)
            .role_session_name("cli")
            .external_id("ext-1")
            .send()
            .await
            .unwrap();
        let user = out.assumed_role_user().unwrap().arn();
        assert_eq!(
            user,
            format!("arn:aws:sts::123456789012:assumed-role/{name}/cli")
        );
    }
}
