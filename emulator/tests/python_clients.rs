//! Real Python clients against the emulator: boto3 runs the conformance scenario, twine uploads
//! with a `.pypirc` and pip installs with a `pip.conf` written exactly as `aws codeartifact
//! login` writes them. Needs CODEARTIFACT_TEST_VENV (`make pytools`); fails without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use aws_sdk_codeartifact as ca;
use codeartifact_emulator::{Config, Emulator};
use common::{client, domain_with_repo, python_command, python_script, venv_python};

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Build a wheel and an sdist of `name` `version` into `dir`.
async fn build_dists(home: &Path, dir: &Path, name: &str, version: &str) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let out = python_command(home)
        .arg(python_script("distbuild.py"))
        .args([dir.to_str().unwrap(), name, version])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// `pip.conf` as `aws codeartifact login --tool pip` writes it (via `pip config set`).
fn write_pip_conf(dir: &Path, endpoint: &str, token: &str) -> PathBuf {
    let (scheme, rest) = endpoint.split_once("://").unwrap();
    let path = dir.join("pip.conf");
    std::fs::write(
        &path,
        format!("[global]\nindex-url = {scheme}://aws:{token}@{rest}simple/\n"),
    )
    .unwrap();
    path
}

/// `.pypirc` as `aws codeartifact login --tool twine` writes a new one.
fn write_pypirc(dir: &Path, endpoint: &str, token: &str) -> PathBuf {
    let path = dir.join(".pypirc");
    std::fs::write(
        &path,
        format!(
            "[distutils]\nindex-servers = \n\tpypi\n\tcodeartifact\n\n[codeartifact]\nrepository = {endpoint}\nusername = aws\npassword = {token}\n\n"
        ),
    )
    .unwrap();
    path
}

async fn pip_install(home: &Path, conf: &Path, target: &Path, requirement: &str) -> Output {
    python_command(home)
        .args([
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg("--target")
        .arg(target)
        .arg(requirement)
        .env("PIP_CONFIG_FILE", conf)
        .output()
        .await
        .unwrap()
}

fn installed_version(target: &Path, module: &str) -> Option<String> {
    std::fs::read_to_string(target.join(module).join("__init__.py")).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_runs_the_conformance_scenario() {
    let python = venv_python();
    let emu = common::start().await;
    let command = tokio::process::Command::new(python);
    let out = common::python_against(command, &emu, "boto3_conformance.py")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("boto3 conformance OK"),
        "{}",
        show(&out)
    );
    // Every operation in scope was reached by boto3 at least once.
    let calls = emu.calls();
    assert!(calls.len() >= 24, "operations reached: {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twine_uploads_and_pip_installs_with_login_style_config_until_the_token_expires() {
    venv_python();
    let emu = common::start().await;
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let dists = build_dists(home, &home.join("dist"), "Demo_Pkg", "0.1.0").await;

    let pypirc = write_pypirc(home, &endpoint, &token);
    let twine = || {
        python_command(home)
            .args([
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
            ])
            .arg("--config-file")
            .arg(&pypirc)
            .args(["--repository", "codeartifact"])
            .args(&dists)
            .output()
    };
    let first = twine().await.unwrap();
    assert!(first.status.success(), "{}", show(&first));
    let files = c
        .list_package_versions()
        .domain("dom")
        .repository("repo")
        .format(ca::types::PackageFormat::Pypi)
        .package("demo-pkg")
        .send()
        .await
        .unwrap();
    assert_eq!(files.versions()[0].version(), "0.1.0");
    let again = twine().await.unwrap();
    assert!(!again.status.success());
    assert!(show(&again).contains("409"), "{}", show(&again));

    let conf = write_pip_conf(home, &endpoint, &token);
    let target = home.join("site");
    let out = pip_install(home, &conf, &target, "demo-pkg==0.1.0").await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        installed_version(&target, "demo_pkg").as_deref(),
        Some("VERSION = \"0.1.0\"\n")
    );

    emu.advance_clock(Duration::from_secs(43_200 + 60));
    let expired_target = home.join("site-expired");
    let out = pip_install(home, &conf, &expired_target, "demo-pkg==0.1.0").await;
    assert!(
        !out.status.success(),
        "pip must refuse an expired token: {}",
        show(&out)
    );
    assert!(installed_version(&expired_target, "demo_pkg").is_none());
}

/// "team" -> upstream "airgap" -> public:pypi, the usual CodeArtifact layout; returns
/// a token and the endpoint of "team".
async fn airgap_layout(c: &ca::Client) -> (String, String) {
    domain_with_repo(c, "dom", "airgap").await;
    let assoc = c
        .associate_external_connection()
        .domain("dom")
        .repository("airgap");
    assoc
        .external_connection("public:pypi")
        .send()
        .await
        .unwrap();
    let up = ca::types::UpstreamRepository::builder().repository_name("airgap");
    let team = c.create_repository().domain("dom").repository("team");
    team.upstreams(up.build().unwrap()).send().await.unwrap();
    common::endpoint_and_token(c, "dom", "team").await
}

async fn assert_ingested(c: &ca::Client, repo: &str, package: &str) {
    let v = c
        .list_package_versions()
        .domain("dom")
        .repository(repo)
        .format(ca::types::PackageFormat::Pypi)
        .package(package)
        .send()
        .await
        .unwrap();
    let origin = v.versions()[0].origin().unwrap();
    assert_eq!(origin.origin_type().unwrap().as_str(), "EXTERNAL", "{repo}");
    let entry = origin.domain_entry_point().unwrap();
    assert_eq!(entry.external_connection_name(), Some("public:pypi"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_packages_install_through_the_external_connection_and_survive_an_air_gap() {
    venv_python();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let public = home.join("public");
    build_dists(home, &public, "Air_Pkg", "1.2.3").await;
    build_dists(home, &public, "never-fetched", "1.0").await;
    let config = Config {
        public_pypi_dir: Some(public.clone()),
        ..Config::for_tests()
    };
    let emu = Emulator::start(config).await.unwrap();
    let c = client(&emu);
    let (token, endpoint) = airgap_layout(&c).await;
    let conf = write_pip_conf(home, &endpoint, &token);

    let out = pip_install(home, &conf, &home.join("t1"), "air-pkg").await;
    assert!(out.status.success(), "{}", show(&out));
    let installed = installed_version(&home.join("t1"), "air_pkg");
    assert_eq!(installed.as_deref(), Some("VERSION = \"1.2.3\"\n"));
    assert_ingested(&c, "airgap", "air-pkg").await;
    assert_ingested(&c, "team", "air-pkg").await;

    let dis = c
        .disassociate_external_connection()
        .domain("dom")
        .repository("airgap");
    dis.external_connection("public:pypi").send().await.unwrap();
    let out = pip_install(home, &conf, &home.join("t2"), "air-pkg==1.2.3").await;
    assert!(
        out.status.success(),
        "cached package installs after the air gap: {}",
        show(&out)
    );
    let out = pip_install(home, &conf, &home.join("t3"), "never-fetched").await;
    assert!(
        !out.status.success(),
        "uncached public package must be gone: {}",
        show(&out)
    );
}
