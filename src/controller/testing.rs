//! What the controller's unit tests share (declared under `repository`,
//! since `controller/mod.rs` belongs to the watch set-up): the CodeArtifact emulator in
//! process and a [`Context`] whose Kubernetes client points at a closed
//! port, so the steps that need no Kubernetes (`sync`, `delete`) run against
//! the real wire protocol in milliseconds, and any step that wrongly reaches
//! for Kubernetes fails.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_codeartifact as ca;
use aws_sdk_codeartifact::config::retry::RetryConfig;
use codeartifact_emulator::{Config, Emulator, RepositoryInfo};
use testenv::OPERATOR_KEY;

use crate::access::Grant;
use crate::aws::{Clients, CodeArtifact};
use crate::config::Tenancy;
use crate::controller::backoff::BackoffConfig;
use crate::controller::desired::{Desired, desired};
use crate::controller::tenancy::Admission;
use crate::controller::{Context, ControllerConfig};
use crate::crd::PypiRepository;
use crate::metrics::Metrics;

/// The cluster name the test contexts run with.
pub const CLUSTER: &str = "c1";

/// Every right a CodeArtifactDomain can grant.
pub const FULL: Grant = Grant {
    create: true,
    adopt: true,
    delete: true,
};

/// An emulator, the operator's context against it, and an SDK client with
/// the operator's key for changing things behind the operator's back.
pub struct World {
    /// The emulator (in process).
    pub emu: Emulator,
    /// The controller's context; its Kubernetes client reaches nothing.
    pub ctx: Context,
    /// The operator's account, straight through the SDK.
    pub sdk: ca::Client,
}

/// A world with `tenancy`. The SDK does not retry, so that an injected
/// fault reaches the controller at once.
pub async fn world(tenancy: Tenancy) -> World {
    let emu = Emulator::start(Config::for_tests())
        .await
        .expect("emulator starts");
    let conf = OPERATOR_KEY.sdk(&emu).config().to_builder();
    let sdk = ca::Client::from_conf(conf.retry_config(RetryConfig::disabled()).build());
    let metrics = Arc::new(Metrics::new());
    let operator = CodeArtifact::new(sdk.clone(), emu.region().to_string(), metrics.clone());
    // No role is assumed in these tests: the base config is the operator's own.
    let base = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(emu.region().to_string()))
        .build();
    let aws = Clients::new(base, Some(emu.base_url()), operator, metrics.clone());
    let nowhere = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
    let client = kube::Client::try_from(nowhere).expect("kube client");
    let config = ControllerConfig {
        cluster_name: CLUSTER.into(),
        resync: Duration::from_secs(300),
        backoff: BackoffConfig {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        },
        namespaces: vec![],
        reporter: "unit-test".into(),
        instance: None,
        concurrency: 0,
        tenancy,
        domain_selector: String::new(),
    };
    let ctx = Context::new(client, aws, metrics, config);
    World { emu, ctx, sdk }
}

/// A PypiRepository `team/<name>` with uid `<name>-uid` at `generation`.
pub fn object(name: &str, generation: i64, spec: serde_json::Value) -> PypiRepository {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
        "metadata": {"name": name, "namespace": "team", "uid": format!("{name}-uid"), "generation": generation},
        "spec": spec,
    }))
    .expect("a valid PypiRepository")
}

/// Admission under strict tenancy with `grant`.
pub fn admitted(grant: Grant) -> Admission {
    Admission {
        grant,
        domain_owner: None,
        declared_by: "acme".into(),
        role: None,
        token_scope: crate::crd::TokenScope::Domain,
    }
}

impl World {
    /// The desired state of `obj` as the reconcile computes it.
    pub fn desired(&self, obj: &PypiRepository, admission: Option<&Admission>) -> Desired {
        desired(obj, self.emu.region(), CLUSTER, admission).expect("a valid spec")
    }

    /// The repository `name`, as the emulator holds it.
    pub fn repository(&self, name: &str) -> Option<RepositoryInfo> {
        self.emu.repositories().into_iter().find(|r| r.name == name)
    }

    /// Creates domain `name` behind the operator's back.
    pub async fn create_domain(&self, name: &str) {
        self.sdk
            .create_domain()
            .domain(name)
            .send()
            .await
            .expect("CreateDomain");
    }

    /// Creates repository `name` in `domain` behind the operator's back.
    pub async fn create_repository(&self, domain: &str, name: &str, description: &str) {
        self.sdk
            .create_repository()
            .domain(domain)
            .repository(name)
            .description(description)
            .send()
            .await
            .expect("CreateRepository");
    }
}
