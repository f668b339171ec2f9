//! The benchmark's side of the control plane: its own client (marked by a
//! User-Agent so the audit log tells its writes from the operator's), the
//! namespaces, the CodeArtifactDomains that admit them (strict tenancy), and the PIDs of etcd, kube-apiserver and
//! kube-controller-manager for CPU accounting.

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use std::time::Duration;

use codeartifact_emulator::Role;
use codeartifact_operator::crd::{CONDITION_READY, CodeArtifactDomain};
use kube::api::{ListParams, ObjectMeta, PostParams};
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

/// One CodeArtifactDomain per bench domain, as a platform team would declare
/// it: the operator creates the domain (`Manage`, kept on deletion), and one
/// rule lets the benchmark's namespaces (by label) create, connect and
/// delete `pkg-*` repositories. The domains `scoped` names (IAM mode) go
/// through [`BENCH_ROLE`] and hand out repository-scoped, read-only tokens.
pub async fn create_domains(client: &Client, names: &[String], scoped: &[String]) -> Result<()> {
    let api: Api<CodeArtifactDomain> = Api::all(client.clone());
    for name in names {
        let mut rule = serde_json::json!({
            "namespaceSelector": { "matchLabels": { BENCH_LABEL.0: BENCH_LABEL.1 } },
            "repositories": ["pkg-*"],
            "create": true,
            "delete": true,
            "externalConnection": true,
        });
        let mut spec = serde_json::json!({});
        if scoped.contains(name) {
            rule["tokenScope"] = "RepositoryRead".into();
            spec["role"] = serde_json::json!({ "arn": BENCH_ROLE });
        }
        spec["access"] = serde_json::json!([rule]);
        let domain: CodeArtifactDomain = serde_json::from_value(serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1",
            "kind": "CodeArtifactDomain",
            "metadata": { "name": name },
            "spec": spec,
        }))?;
        api.create(&PostParams::default(), &domain)
            .await
            .with_context(|| format!("creating CodeArtifactDomain {name}"))?;
    }
    Ok(())
}

/// The role the IAM mode's domains name.
pub const BENCH_ROLE: &str = "arn:aws:iam::111122223333:role/bench-scoped";

/// [`BENCH_ROLE`] in the emulator: trusted by the operator's account, all
/// of CodeArtifact and the bearer token (the session policy of each
/// repository-scoped token narrows it).
pub fn bench_role() -> Role {
    Role {
        arn: BENCH_ROLE.into(),
        trusted: vec![testenv::OPERATOR_KEY.account.into()],
        external_id: None,
        policy: serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
             "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
        ]}),
        max_session_seconds: 3600,
    }
}

/// Waits until the operator reports every CodeArtifactDomain Ready.
pub async fn wait_domains_ready(client: &Client, names: &[String]) -> Result<()> {
    let api: Api<CodeArtifactDomain> = Api::all(client.clone());
    testenv::wait_for_every(
        Duration::from_millis(200),
        Duration::from_secs(120),
        || async {
            let Ok(list) = api.list(&ListParams::default()).await else {
                return false;
            };
            names.iter().all(|n| {
                list.items.iter().any(|d| {
                    d.metadata.name.as_ref() == Some(n)
                        && d.status.as_ref().is_some_and(|s| {
                            s.conditions
                                .iter()
                                .any(|c| c.type_ == CONDITION_READY && c.status == "True")
                        })
                })
            })
        },
    )
    .await
    .context("the CodeArtifactDomains did not become Ready")?;
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
