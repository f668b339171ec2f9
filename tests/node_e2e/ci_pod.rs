//! The README's CI runner pod, run on the node as written: `envFrom` the
//! Secret, `uv pip install --system` through `UV_DEFAULT_INDEX` and
//! `uv publish` with the `TWINE_*` keys. Only what this machine needs
//! changes (see `ci_pod_manifest`), and the published package must then be
//! in the repository.

use std::path::Path;

use aws_sdk_codeartifact::types::PackageFormat;
use codeartifact_emulator::Emulator;
use testenv::{Image, Node, OPERATOR_KEY};

use crate::common::node::{apply, kubectl, wait};
use crate::common::python::{make_dist, venv};
use crate::common::readme::example;

const PUBLISHED: &str = "ci-built";

/// The example as JSON, with the three changes the test machine needs: the
/// image rebuilt from the same parts (no registry here), `hostNetwork` (the
/// Secret's endpoint is the emulator on the host's loopback), and a
/// `workingDir` holding `requirements.txt` and `dist/`; plus the test's
/// Secret name.
fn ci_pod_manifest(node: &Node, ns: &str, dir: &Path, image: &str, secret: &str) -> String {
    let file = dir.join("ci-pod-example.yaml");
    std::fs::write(&file, example("ci-pod")).expect("write example");
    let json = kubectl(
        node,
        &[
            "create",
            "--dry-run=client",
            "-o",
            "json",
            "-n",
            ns,
            "-f",
            file.to_str().expect("path"),
        ],
    );
    let mut pod: serde_json::Value = serde_json::from_str(&json).expect("pod json");
    let spec = &mut pod["spec"];
    spec["hostNetwork"] = true.into();
    spec["volumes"] = serde_json::json!([
        {"name": "work", "hostPath": {"path": dir.join("ci-work"), "type": "Directory"}}
    ]);
    let container = &mut spec["containers"][0];
    assert_eq!(
        container["envFrom"][0]["secretRef"]["name"],
        "python-packages-pypi"
    );
    container["envFrom"][0]["secretRef"]["name"] = secret.into();
    container["image"] = image.into();
    container["imagePullPolicy"] = "Never".into();
    container["workingDir"] = "/work".into();
    container["volumeMounts"] = serde_json::json!([{"name": "work", "mountPath": "/work"}]);
    pod.to_string()
}

/// Runs the CI pod against PypiRepository `repo` (Secret `repo-pypi`) and
/// checks the public package came through the index and the published one
/// landed in the repository.
pub async fn ci_runner_pod(node: &Node, ns: &str, dir: &Path, emulator: &Emulator) {
    let work = dir.join("ci-work");
    std::fs::create_dir_all(&work).expect("work dir");
    std::fs::write(work.join("requirements.txt"), "requests-lite\n").expect("requirements");
    make_dist(PUBLISHED, "1.0.0", &work.join("dist"), false);
    let uv = venv().join("bin/uv");
    let image = node.image(Image::Ci(&uv)).expect("ci image");
    let manifest = ci_pod_manifest(node, ns, dir, &image, "repo-pypi");
    apply(node, ns, dir, "ci-pod", &manifest);
    wait(
        node,
        ns,
        &["--for=jsonpath={.status.phase}=Succeeded", "pod/ci-build"],
        "180s",
    );
    let log = kubectl(node, &["logs", "-n", ns, "pod/ci-build"]);
    assert!(
        log.contains("requests-lite==2.0.0"),
        "uv installed the public package through the repository:\n{log}"
    );

    let status = kubectl(
        node,
        &[
            "get",
            "pypirepository",
            "repo",
            "-n",
            ns,
            "-o",
            "jsonpath={.status.domainArn} {.status.repositoryName}",
        ],
    );
    let (arn, repository) = status.trim().split_once(' ').expect("status");
    let domain = arn.rsplit('/').next().expect("domain in ARN");
    let versions = OPERATOR_KEY
        .sdk(emulator)
        .list_package_versions()
        .domain(domain)
        .repository(repository)
        .format(PackageFormat::Pypi)
        .package(PUBLISHED)
        .send()
        .await
        .expect("ListPackageVersions");
    let published: Vec<_> = versions.versions().iter().map(|v| v.version()).collect();
    assert_eq!(
        published,
        ["1.0.0"],
        "uv publish put {PUBLISHED} 1.0.0 in the repository:\n{log}"
    );
}
