//! Helpers for the multi-tenancy tests (tests/e2e_tenancy*.rs): an operator
//! in strict mode that serves only this test's CodeArtifactDomains (by a
//! label, since domains are cluster-scoped and tests share the control
//! plane), and PypiRepositories in any of the test's namespaces.

use std::time::{Duration, Instant};

use codeartifact_operator::crd::{CodeArtifactDomain, PypiRepository};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use testenv::{ControlPlane, TempNamespace};

use super::reliability::setup_on;
use super::{Env, Options};

/// The label that selects this test's CodeArtifactDomains.
pub const SELECTOR_KEY: &str = "e2e-tenancy";

/// A strict-mode world: the Env's namespace plus `extra` namespaces, one operator
/// watching all of them, serving CodeArtifactDomains labelled `SELECTOR_KEY=<id>`.
pub struct Strict {
    /// The usual Env (its namespace is the first team's).
    pub env: Env,
    /// More namespaces.
    pub extra: Vec<TempNamespace>,
    /// Label value of this test's CodeArtifactDomains.
    pub id: String,
}

/// Starts it; `resync` is the operator's resync interval (a Go duration).
pub async fn setup_strict(prefix: &str, extra: usize, resync: &str) -> Strict {
    let id = format!("{prefix}-{}", std::process::id());
    let mut opts = Options::default();
    opts.operator_args
        .retain(|a| !a.starts_with("--resync-interval"));
    opts.operator_args.extend([
        "--tenancy=strict".to_string(),
        format!("--domain-selector={SELECTOR_KEY}={id}"),
        format!("--resync-interval={resync}"),
    ]);
    let (env, extra) = setup_on(ControlPlane::shared(), prefix, opts, extra).await;
    Strict { env, extra, id }
}

impl Strict {
    /// The namespace names: the Env's first, then the extra ones.
    pub fn ns(&self, i: usize) -> String {
        if i == 0 {
            self.env.ns.name().to_string()
        } else {
            self.extra[i - 1].name().to_string()
        }
    }

    /// Creates (or replaces the spec of) a CodeArtifactDomain with this test's label.
    pub async fn apply_domain(&self, name: &str, spec: serde_json::Value) {
        let api: Api<CodeArtifactDomain> = Api::all(self.env.client.clone());
        let obj = serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "CodeArtifactDomain",
            "metadata": {"name": name, "labels": {SELECTOR_KEY: self.id}}, "spec": spec,
        });
        api.patch(
            name,
            &PatchParams::apply("e2e-tenancy").force(),
            &Patch::Apply(&obj),
        )
        .await
        .expect("apply CodeArtifactDomain");
    }

    /// Waits until a CodeArtifactDomain is Ready and returns it.
    pub async fn wait_domain_ready(&self, name: &str) -> CodeArtifactDomain {
        let api: Api<CodeArtifactDomain> = Api::all(self.env.client.clone());
        let ok = testenv::wait_for(Duration::from_secs(60), || async {
            api.get_opt(name).await.ok().flatten().is_some_and(|d| {
                d.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
        })
        .await;
        let now = api.get_opt(name).await.ok().flatten();
        assert!(
            ok.is_ok(),
            "{name} not Ready: {now:#?}\n{}",
            self.env.operator.logs()
        );
        now.expect("domain exists")
    }

    /// Deletes a CodeArtifactDomain (cluster-scoped, so tests clean up after themselves).
    pub async fn delete_domain(&self, name: &str) {
        let api: Api<CodeArtifactDomain> = Api::all(self.env.client.clone());
        let _ = api.delete(name, &DeleteParams::default()).await;
    }

    /// PypiRepositories in namespace `i`.
    pub fn repos(&self, i: usize) -> Api<PypiRepository> {
        Api::namespaced(self.env.client.clone(), &self.ns(i))
    }

    /// Secrets in namespace `i`.
    pub fn secrets(&self, i: usize) -> Api<Secret> {
        Api::namespaced(self.env.client.clone(), &self.ns(i))
    }

    /// Creates a PypiRepository in namespace `i` from JSON.
    pub async fn create(&self, i: usize, name: &str, spec: serde_json::Value) {
        let obj: PypiRepository = serde_json::from_value(serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
            "metadata": {"name": name, "namespace": self.ns(i)}, "spec": spec,
        }))
        .expect("PypiRepository");
        self.repos(i)
            .create(&PostParams::default(), &obj)
            .await
            .expect("create PypiRepository");
    }

    /// Waits until `name` in namespace `i` has condition Ready with `status`
    /// (and, when given, `reason`); returns the object and how long it took.
    pub async fn wait_ready_is(
        &self,
        i: usize,
        name: &str,
        status: &str,
        reason: Option<&str>,
    ) -> (PypiRepository, Duration) {
        let api = self.repos(i);
        let started = Instant::now();
        let ok = testenv::wait_for(Duration::from_secs(60), || async {
            api.get_opt(name).await.ok().flatten().is_some_and(|o| {
                // The condition's own generation: failure statuses leave status.observedGeneration.
                o.status.as_ref().is_some_and(|st| {
                    st.conditions.iter().any(|c| {
                        c.type_ == "Ready"
                            && c.status == status
                            && reason.is_none_or(|want| c.reason == want)
                            && c.observed_generation == o.metadata.generation
                    })
                })
            })
        })
        .await;
        let elapsed = started.elapsed();
        let now = api.get_opt(name).await.ok().flatten();
        assert!(
            ok.is_ok(),
            "{}/{name} never had Ready={status} {reason:?}; now: {now:#?}\n{}",
            self.ns(i),
            tail(&self.env.operator.logs())
        );
        (now.expect("exists"), elapsed)
    }

    /// The Secret's data keys and token (if any).
    pub async fn secret_token(&self, i: usize, name: &str) -> Option<String> {
        let s = self.secrets(i).get_opt(name).await.expect("get Secret")?;
        let data = s.data.unwrap_or_default();
        data.get("token")
            .map(|t| String::from_utf8(t.0.clone()).expect("utf-8"))
    }

    /// Sets (or, with `None`, removes) a label on namespace `i`.
    pub async fn label_namespace(&self, i: usize, key: &str, value: Option<&str>) {
        label_namespace(&self.env.client, &self.ns(i), key, value).await;
    }
}

/// Sets or removes a namespace label.
pub async fn label_namespace(client: &Client, ns: &str, key: &str, value: Option<&str>) {
    let api: Api<Namespace> = Api::all(client.clone());
    let patch = serde_json::json!({"metadata": {"labels": {key: value}}});
    api.patch(ns, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("label namespace");
}

/// The last 40 lines of a log.
pub fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().rev().take(40).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// The emulator's calls that change something (everything but reads).
pub fn writes(calls: &std::collections::BTreeMap<String, u64>) -> u64 {
    calls
        .iter()
        .filter(|(op, _)| {
            !(op.starts_with("Describe") || op.starts_with("List") || op.starts_with("Get"))
        })
        .map(|(_, n)| n)
        .sum()
}
