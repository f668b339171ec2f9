//! Shared helpers for the emulator's integration tests: start an emulator, build SDK clients,
//! sign raw requests, upload files over the PyPI endpoint and find the Python venv.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_codeartifact as ca;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use codeartifact_emulator::{Config, Emulator};

/// Account of the first test key (`AKIDEMULATOR`).
pub const ACCOUNT: &str = "111122223333";
/// Account of the second test key (`AKIDOTHER`).
pub const OTHER_ACCOUNT: &str = "444455556666";

/// An emulator with [`Config::for_tests`].
pub async fn start() -> Emulator {
    Emulator::start(Config::for_tests())
        .await
        .expect("emulator starts")
}

/// An SDK client configured as in the specification (§9.1).
pub fn client_with(emu: &Emulator, key: &str, secret: &str) -> ca::Client {
    let conf = ca::Config::builder()
        .behavior_version(ca::config::BehaviorVersion::latest())
        .region(ca::config::Region::new(emu.region().to_string()))
        .credentials_provider(Credentials::new(key, secret, None, None, "static"))
        .endpoint_url(emu.base_url())
        .build();
    ca::Client::from_conf(conf)
}

/// A client for account [`ACCOUNT`].
pub fn client(emu: &Emulator) -> ca::Client {
    client_with(emu, "AKIDEMULATOR", "emulator-secret")
}

/// A client for account [`OTHER_ACCOUNT`].
pub fn other_client(emu: &Emulator) -> ca::Client {
    client_with(emu, "AKIDOTHER", "other-secret")
}

/// Send a raw request signed (or not) like the SDK signs, to test the wire protocol directly.
pub async fn raw(
    emu: &Emulator,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    signer: Option<(&str, &str)>,
) -> reqwest::Response {
    let url = format!("{}{path_and_query}", emu.base_url());
    let host = emu.base_url().trim_start_matches("http://").to_string();
    let mut headers: Vec<(String, String)> = vec![("host".into(), host)];
    if !body.is_empty() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if let Some((key, secret)) = signer {
        let identity = Credentials::new(key, secret, None, None, "test").into();
        let params = SigningParams::builder()
            .identity(&identity)
            .region(emu.region())
            .name("codeartifact")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            method,
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        for (k, v) in instructions.headers() {
            headers.push((k.to_string(), v.to_string()));
        }
    }
    let mut req = reqwest::Client::new().request(method.parse().expect("method"), &url);
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        req = req.header(k, v);
    }
    req.body(body.to_vec()).send().await.expect("request sent")
}

/// Upload `content` as `filename` to a repository endpoint, like twine does (multipart form).
pub async fn upload(
    endpoint: &str,
    token: &str,
    name: &str,
    version: &str,
    filename: &str,
    content: &[u8],
) -> reqwest::Response {
    use sha2::{Digest, Sha256};
    let boundary = "emulatortestboundary";
    let sha = hex::encode(Sha256::digest(content));
    let mut body = Vec::new();
    for (k, v) in [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", name),
        ("version", version),
        ("filetype", "bdist_wheel"),
        ("requires_python", ">=3.8"),
        ("sha256_digest", &sha),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    reqwest::Client::new()
        .post(endpoint)
        .basic_auth("aws", Some(token))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload sent")
}

/// Create a domain and a repository; return a token and the PyPI endpoint.
pub async fn domain_with_repo(c: &ca::Client, domain: &str, repo: &str) -> (String, String) {
    c.create_domain()
        .domain(domain)
        .send()
        .await
        .expect("create domain");
    c.create_repository()
        .domain(domain)
        .repository(repo)
        .send()
        .await
        .expect("create repository");
    endpoint_and_token(c, domain, repo).await
}

/// A fresh token and the PyPI endpoint of `repo`.
pub async fn endpoint_and_token(c: &ca::Client, domain: &str, repo: &str) -> (String, String) {
    let token = c
        .get_authorization_token()
        .domain(domain)
        .send()
        .await
        .expect("token")
        .authorization_token
        .expect("token value");
    let endpoint = c
        .get_repository_endpoint()
        .domain(domain)
        .repository(repo)
        .format(ca::types::PackageFormat::Pypi)
        .send()
        .await
        .expect("endpoint")
        .repository_endpoint
        .expect("endpoint value");
    (token, endpoint)
}

/// The venv with pip, twine and boto3 (`CODEARTIFACT_TEST_VENV`); fails loudly when missing.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("CODEARTIFACT_TEST_VENV").unwrap_or_else(|| {
        panic!(
            "CODEARTIFACT_TEST_VENV is not set: these tests drive the real pip, twine and boto3. \
             Run `make pytools` in the repository root and export \
             CODEARTIFACT_TEST_VENV=$PWD/target/pytools (the Makefile's test targets do this)."
        )
    });
    let python = PathBuf::from(venv).join("bin").join("python");
    assert!(
        python.exists(),
        "CODEARTIFACT_TEST_VENV points to {}, which has no bin/python; run `make pytools`",
        python.display()
    );
    python
}

/// `emulator/tests/python/<name>`.
pub fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python")
        .join(name)
}

/// A `tokio::process::Command` for the venv's Python with an isolated environment: no user
/// pip configuration, no find-links from the host, no prompts.
pub fn python_command(home: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(venv_python());
    for var in [
        "PIP_FIND_LINKS",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_CONFIG_FILE",
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
        "TWINE_REPOSITORY_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true);
    cmd
}

/// Starts the emulator binary as `command` says (its flags set) and reads its
/// startup line: the child (killed when dropped), its base URL and its region.
pub async fn spawn_binary(
    mut command: tokio::process::Command,
) -> (tokio::process::Child, String, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the emulator binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let wait = std::time::Duration::from_secs(30);
    let line = tokio::time::timeout(wait, lines.next_line())
        .await
        .expect("startup line within 30 s")
        .expect("stdout readable")
        .expect("a line");
    // Keep reading, so that later output never meets a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (url, region) = line
        .strip_prefix("codeartifact-emulator listening on ")
        .and_then(|rest| rest.split_once(" region "))
        .expect(&line);
    (child, url.to_string(), region.to_string())
}

/// Runs a Python conformance script against `emu` with the first test key
/// (`EMULATOR_*` variables), keeping the machine's own AWS configuration out.
pub fn python_against(
    mut command: tokio::process::Command,
    emu: &Emulator,
    script: &str,
) -> tokio::process::Command {
    command
        .arg(python_script(script))
        .env("EMULATOR_URL", emu.base_url())
        .env("EMULATOR_REGION", emu.region())
        .env("EMULATOR_KEY", "AKIDEMULATOR")
        .env("EMULATOR_SECRET", "emulator-secret")
        .env("EMULATOR_ACCOUNT", ACCOUNT)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    command
}
