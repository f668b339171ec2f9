//! Smoke tests of the real control plane (tests/control-plane, crate `testenv`):
//! CRDs with schema and CEL validation, owner-reference garbage collection,
//! namespace deletion, and kubectl and helm talking to the server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ObjectMeta, PostParams,
};
use kube::{Api, Client};
use serde_json::{Value, json};
use testenv::{ControlPlane, TempNamespace, pinned_version, wait_for, wait_gone};

/// CRDs are usually Established within a second; a loaded machine gets slack.
const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(30);
/// The garbage collector refreshes discovery every 30 s and needs an initial
/// sync after kube-controller-manager starts, so allow three periods.
const GC_TIMEOUT: Duration = Duration::from_secs(90);
/// The namespace controller deletes contents in passes; 60 s is plenty for a few objects.
const NAMESPACE_TIMEOUT: Duration = Duration::from_secs(60);

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `cmd` without blocking the runtime; fails with its stderr if it fails.
async fn run(cmd: Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let output = tokio::process::Command::from(cmd)
        .output()
        .await
        .with_context(|| format!("cannot run {shown}"))?;
    ensure!(
        output.status.success(),
        "{shown} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// The placeholder CRD plus every `crds/*.yaml` of the repository (the
/// operator's own CRDs, once they exist).
fn crd_files() -> Result<Vec<PathBuf>> {
    let mut files = vec![repo_path("tests/fixtures/smoke/widget-crd.yaml")];
    let crds = repo_path("crds");
    if crds.is_dir() {
        for entry in std::fs::read_dir(&crds)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Applies `file` server-side (idempotent, so tests sharing the control plane
/// may all call it; no last-applied annotation to outgrow) and returns the
/// names of the CRDs in it.
async fn apply_crds(cp: &ControlPlane, file: &Path) -> Result<Vec<String>> {
    let mut cmd = cp.kubectl([
        "apply",
        "--server-side",
        "--force-conflicts",
        "-o",
        "name",
        "-f",
    ]);
    cmd.arg(file);
    let names = run(cmd).await?;
    Ok(names
        .lines()
        .filter_map(|l| l.strip_prefix("customresourcedefinition.apiextensions.k8s.io/"))
        .map(str::to_string)
        .collect())
}

async fn is_established(api: &Api<CustomResourceDefinition>, name: &str) -> bool {
    let Ok(crd) = api.get(name).await else {
        return false;
    };
    let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
    conditions
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True")
}

async fn install_and_await_established(
    cp: &ControlPlane,
    client: &Client,
    file: &Path,
) -> Result<Vec<String>> {
    let names = apply_crds(cp, file).await?;
    ensure!(
        !names.is_empty(),
        "{} holds no CustomResourceDefinition",
        file.display()
    );
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in &names {
        wait_for(ESTABLISHED_TIMEOUT, || is_established(&api, name))
            .await
            .with_context(|| format!("CRD {name} from {} not Established", file.display()))?;
    }
    Ok(names)
}

fn widgets(client: Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("smoke.codeartifact-operator.dev", "v1alpha1", "Widget");
    Api::namespaced_with(
        client,
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, "widgets"),
    )
}

fn widget(name: &str, spec: Value) -> DynamicObject {
    let gvk = GroupVersionKind::gvk("smoke.codeartifact-operator.dev", "v1alpha1", "Widget");
    DynamicObject::new(name, &ApiResource::from_gvk_with_plural(&gvk, "widgets"))
        .data(json!({ "spec": spec }))
}

/// Creates `object` and returns the apiserver's rejection message; fails if it was accepted.
async fn rejection(api: &Api<DynamicObject>, object: &DynamicObject) -> Result<String> {
    match api.create(&PostParams::default(), object).await {
        Err(kube::Error::Api(status)) if status.code == 422 => Ok(status.message),
        Err(other) => bail!("expected a 422 Invalid rejection, got {other}"),
        Ok(_) => bail!("invalid object {:?} was accepted", object.metadata.name),
    }
}

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some([("key".to_string(), "value".to_string())].into()),
        ..ConfigMap::default()
    }
}

fn secret(name: &str, owner: Option<OwnerReference>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        data: Some([("token".to_string(), ByteString(b"not-a-secret".to_vec()))].into()),
        ..Secret::default()
    }
}

#[tokio::test]
async fn crds_install_and_become_established() -> Result<()> {
    let cp = ControlPlane::shared();
    let client = cp.client().await;
    let mut established = Vec::new();
    for file in crd_files()? {
        established.extend(install_and_await_established(cp, &client, &file).await?);
    }
    eprintln!("established: {established:?}");
    ensure!(
        established
            .iter()
            .any(|n| n == "widgets.smoke.codeartifact-operator.dev"),
        "{established:?}"
    );
    Ok(())
}

#[tokio::test]
async fn valid_widget_is_accepted_and_invalid_ones_are_rejected_with_their_message() -> Result<()> {
    let cp = ControlPlane::shared();
    let client = cp.client().await;
    install_and_await_established(
        cp,
        &client,
        &repo_path("tests/fixtures/smoke/widget-crd.yaml"),
    )
    .await?;
    let ns = TempNamespace::create(cp, "smoke-crd").await?;
    let api = widgets(client, ns.name());

    let valid = widget(
        "good",
        json!({ "repository": "team-pypi", "minReplicas": 1, "maxReplicas": 3 }),
    );
    api.create(&PostParams::default(), &valid)
        .await
        .context("valid Widget rejected")?;
    let stored = api.get("good").await?;
    assert_eq!(stored.data["spec"]["repository"], "team-pypi");

    // The OpenAPI pattern rejects an upper-case name; the message quotes the pattern.
    let bad_pattern = widget(
        "bad-pattern",
        json!({ "repository": "Team_PyPI", "minReplicas": 1, "maxReplicas": 3 }),
    );
    let message = rejection(&api, &bad_pattern).await?;
    assert!(message.contains("spec.repository"), "{message}");
    assert!(
        message.contains("should match '^[a-z][a-z0-9-]{1,99}$'"),
        "{message}"
    );

    // The CEL rule rejects min > max with the message written in the CRD.
    let bad_rule = widget(
        "bad-rule",
        json!({ "repository": "team-pypi", "minReplicas": 5, "maxReplicas": 2 }),
    );
    let message = rejection(&api, &bad_rule).await?;
    assert!(
        message.contains("minReplicas must not exceed maxReplicas"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn secret_is_garbage_collected_when_its_owner_is_deleted() -> Result<()> {
    let cp = ControlPlane::shared();
    let client = cp.client().await;
    let ns = TempNamespace::create(cp, "smoke-gc").await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let secrets: Api<Secret> = Api::namespaced(client, ns.name());

    let owner = config_maps
        .create(&PostParams::default(), &config_map("owner"))
        .await?;
    let reference = OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.context("owner has no uid")?,
        ..OwnerReference::default()
    };
    secrets
        .create(&PostParams::default(), &secret("owned", Some(reference)))
        .await?;
    secrets
        .create(&PostParams::default(), &secret("bystander", None))
        .await?;

    config_maps
        .delete("owner", &DeleteParams::default())
        .await?;
    wait_gone(&secrets, "owned", GC_TIMEOUT)
        .await
        .context("the garbage collector did not delete the owned Secret")?;
    ensure!(
        secrets.get_opt("bystander").await?.is_some(),
        "a Secret without owner was deleted"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_namespace_removes_what_was_in_it() -> Result<()> {
    let cp = ControlPlane::shared();
    let client = cp.client().await;
    let ns = TempNamespace::create(cp, "smoke-ns").await?;
    let name = ns.name().to_string();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &name);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &name);
    config_maps
        .create(&PostParams::default(), &config_map("doomed"))
        .await?;
    secrets
        .create(&PostParams::default(), &secret("doomed", None))
        .await?;

    ns.delete().await?;
    let namespaces: Api<Namespace> = Api::all(client);
    wait_gone(&namespaces, &name, NAMESPACE_TIMEOUT)
        .await
        .context("the namespace controller did not finish deleting the namespace")?;
    ensure!(
        config_maps
            .list(&Default::default())
            .await?
            .items
            .is_empty(),
        "ConfigMaps survived"
    );
    ensure!(
        secrets.list(&Default::default()).await?.items.is_empty(),
        "Secrets survived"
    );
    Ok(())
}

#[tokio::test]
async fn kubectl_reports_the_pinned_version_and_reads_readyz() -> Result<()> {
    let cp = ControlPlane::shared();
    let version: Value = serde_json::from_str(&run(cp.kubectl(["version", "-o", "json"])).await?)?;
    let pinned = pinned_version("K8S_VERSION");
    assert_eq!(version["clientVersion"]["gitVersion"], pinned, "{version}");
    assert_eq!(version["serverVersion"]["gitVersion"], pinned, "{version}");

    let readyz = run(cp.kubectl(["get", "--raw", "/readyz"])).await?;
    assert_eq!(readyz.trim(), "ok");
    Ok(())
}

#[tokio::test]
async fn helm_installs_a_chart_and_lists_the_release() -> Result<()> {
    let cp = ControlPlane::shared();
    let version = run(cp.helm(["version", "--short"])).await?;
    assert!(
        version.starts_with(pinned_version("HELM_VERSION")),
        "{version}"
    );

    let ns = TempNamespace::create(cp, "smoke-helm").await?;
    let mut install = cp.helm(["install", "smoke", "--namespace", ns.name()]);
    install.arg(repo_path("tests/fixtures/smoke/chart"));
    run(install).await?;

    let list: Value = serde_json::from_str(
        &run(cp.helm(["list", "--namespace", ns.name(), "-o", "json"])).await?,
    )?;
    assert_eq!(list[0]["name"], "smoke", "{list}");
    assert_eq!(list[0]["status"], "deployed", "{list}");

    let config_maps: Api<ConfigMap> = Api::namespaced(cp.client().await, ns.name());
    let data = config_maps
        .get("smoke-smoke")
        .await?
        .data
        .unwrap_or_default();
    assert_eq!(
        data.get("greeting").map(String::as_str),
        Some("hello from helm")
    );
    // helm read the server version through discovery: the stamped one, not v0.0.0-master.
    assert_eq!(
        data.get("kubeVersion").map(String::as_str),
        Some(pinned_version("K8S_VERSION"))
    );
    Ok(())
}
