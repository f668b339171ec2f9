//! The benchmark's side of the control plane: its own client (marked by a
//! User-Agent so the audit log tells its writes from the operator's), the
//! CRD, the namespaces, and the PIDs of etcd, kube-apiserver and
//! kube-controller-manager for CPU accounting.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use testenv::ControlPlane;

use crate::audit::BENCH_USER_AGENT;

/// Label on everything the benchmark creates.
pub const BENCH_LABEL: (&str, &str) = ("codeartifact-bench", "scale");

/// An admin client whose requests carry [`BENCH_USER_AGENT`].
pub async fn client(cp: &ControlPlane) -> Result<Client> {
    // Same provider choice as testenv: kube and the AWS SDK both use aws-lc-rs.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let kubeconfig = Kubeconfig::read_from(cp.kubeconfig_path())?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    config.headers.push((
        reqwest::header::USER_AGENT,
        reqwest::header::HeaderValue::from_static(BENCH_USER_AGENT),
    ));
    Ok(Client::try_from(config)?)
}

/// Applies `crds/` and waits until the CRD is Established.
pub fn install_crd(cp: &ControlPlane) -> Result<()> {
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    run(cp
        .kubectl(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(&crds))?;
    run(&mut cp.kubectl([
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/pypirepositories.codeartifact-operator.dev",
    ]))
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Creates the namespaces, a few at a time.
pub async fn create_namespaces(client: &Client, names: &[String]) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    futures::stream::iter(names)
        .map(|name| {
            let ns = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some([(BENCH_LABEL.0.to_string(), BENCH_LABEL.1.to_string())].into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            };
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &ns)
                    .await
                    .with_context(|| format!("creating namespace {name}"))
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// `(name, pid)` of etcd, kube-apiserver and kube-controller-manager, from
/// the `pids` file up.sh keeps ("NAME PID START" lines).
pub fn control_plane_pids(cp: &ControlPlane) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(cp.dir().join("pids"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .filter(|(name, _)| {
            ["etcd", "kube-apiserver", "kube-controller-manager"].contains(&name.as_str())
        })
        .collect())
}
