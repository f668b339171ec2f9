//! The benchmark's side of the control plane: its own client (marked by a
//! User-Agent so the audit log tells its writes from the operator's), the
//! namespaces, and the PIDs of etcd, kube-apiserver and
//! kube-controller-manager for CPU accounting.

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use testenv::ControlPlane;

use crate::audit::BENCH_USER_AGENT;

/// Label on everything the benchmark creates.
pub const BENCH_LABEL: (&str, &str) = ("codeartifact-bench", "scale");

/// An admin client whose requests carry [`BENCH_USER_AGENT`].
pub async fn client(cp: &ControlPlane) -> Result<Client> {
    let mut config = cp.client_config().await?;
    config.headers.push((
        reqwest::header::USER_AGENT,
        reqwest::header::HeaderValue::from_static(BENCH_USER_AGENT),
    ));
    Ok(Client::try_from(config)?)
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

/// `(name, pid)` of etcd, kube-apiserver and kube-controller-manager.
pub fn control_plane_pids(cp: &ControlPlane) -> Result<Vec<(String, String)>> {
    Ok(cp
        .pids()?
        .into_iter()
        .filter(|(name, _)| {
            ["etcd", "kube-apiserver", "kube-controller-manager"].contains(&name.as_str())
        })
        .map(|(name, pid)| (name, pid.to_string()))
        .collect())
}
