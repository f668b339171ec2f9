//! boto3's STS client, real pip and real twine against the emulator's STS and IAM evaluation.
//! Needs CODEARTIFACT_TEST_VENV (`make pytools`); fails without it.

mod common;

use std::path::{Path, PathBuf};

use codeartifact_emulator::{Emulator, Role};
use common::{client, python_command, python_script, upload};
use serde_json::json;

const ROLE: &str = "arn:aws:iam::111122223333:role/reader";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_assume_role_then_pip_reads_and_twine_is_refused_under_a_session_policy() {
    common::venv_python();
    let emu = common::start().await;
    emu.add_role(reader_role()).unwrap();
    let c = client(&emu);
    let (token, read_endpoint) = common::domain_with_repo(&c, "dom", "reads").await;
    c.create_repository()
        .domain("dom")
        .repository("others")
        .send()
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    publish_into_both_repositories(&c, home, &token, &read_endpoint).await;
    let twine_dir = home.join("twine");
    build_into(home, &twine_dir).await;

    let shown = run_sts_conformance(&emu, home, &twine_dir).await;
    assert!(
        home.join("ok").join("scoped_pkg").exists(),
        "pip installed the package: {shown}"
    );
    assert!(!home.join("other").join("scoped_pkg").exists());
    assert_eq!(emu.call_count("AssumeRole"), 5, "{:?}", emu.calls());
    // Nothing twine sent was stored.
    let versions = c
        .list_package_versions()
        .domain("dom")
        .repository("reads")
        .format(aws_sdk_codeartifact::types::PackageFormat::Pypi)
        .package("twine-pkg")
        .send()
        .await;
    assert!(versions.is_err(), "the refused upload left no package");
}

/// A role the first test key may assume: all of CodeArtifact but DeleteDomain.
fn reader_role() -> Role {
    Role {
        arn: ROLE.into(),
        trusted: vec!["AKIDEMULATOR".into()],
        external_id: None,
        policy: json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"},
                {"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*"},
                {"Effect": "Deny", "Action": "codeartifact:DeleteDomain", "Resource": "*"}
            ]
        }),
        max_session_seconds: 3600,
    }
}

/// Published with the long-term key into both repositories; the scoped token may read one.
async fn publish_into_both_repositories(
    c: &aws_sdk_codeartifact::Client,
    home: &Path,
    token: &str,
    read_endpoint: &str,
) {
    let dist = home.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let built = python_command(home)
        .arg(python_script("distbuild.py"))
        .args([dist.to_str().unwrap(), "Scoped_Pkg", "1.0.0"])
        .output()
        .await
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let files: Vec<PathBuf> = String::from_utf8(built.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    let wheel = files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "whl"))
        .unwrap();
    let bytes = std::fs::read(wheel).unwrap();
    let name = wheel.file_name().unwrap().to_str().unwrap();
    let (_, other_endpoint) = common::endpoint_and_token(c, "dom", "others").await;
    for endpoint in [read_endpoint, other_endpoint.as_str()] {
        let r = upload(endpoint, token, "scoped-pkg", "1.0.0", name, &bytes).await;
        assert_eq!(r.status(), 200);
    }
}

/// boto3 assumes the role, pip reads and twine is refused (`sts_conformance.py`);
/// returns its output for later messages.
async fn run_sts_conformance(emu: &Emulator, home: &Path, twine_dir: &Path) -> String {
    let out = common::python_against(python_command(home), emu, "sts_conformance.py")
        .env("OTHER_KEY", "AKIDOTHER")
        .env("OTHER_SECRET", "other-secret")
        .env("ROLE_ARN", ROLE)
        .env("DOMAIN", "dom")
        .env("READ_REPO", "reads")
        .env("OTHER_REPO", "others")
        .env("REQUIREMENT", "scoped-pkg==1.0.0")
        .env("DIST_DIR", twine_dir)
        .env("WORK_DIR", home)
        .output()
        .await
        .unwrap();
    let shown = format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sts conformance OK"),
        "{shown}"
    );
    shown
}

/// A second package for twine to try (and fail) to publish.
async fn build_into(home: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = python_command(home)
        .arg(python_script("distbuild.py"))
        .args([dir.to_str().unwrap(), "Twine_Pkg", "2.0.0"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
