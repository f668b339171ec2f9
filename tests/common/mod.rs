//! Shared set-up for the operator's end-to-end tests: the real control plane
//! (one per test binary), an in-process CodeArtifact emulator per test, the
//! real operator binary as a child process restricted to the test's
//! namespace, and the real pip and twine from the test venv.
//!
//! The machinery (control plane, operator process, watchdog, CRD install,
//! metrics parsing, test keys, leak scans) lives in the `testenv` crate, shared
//! with the benchmark; this module adds what is specific to the tests: the
//! operator's test flags, PypiRepository helpers and the names tests import.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod iam;
pub mod node;
pub mod oci;
pub mod pypi_standin;
pub mod python;
pub mod readme;
pub mod reliability;
pub mod tenancy;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::Duration;

use codeartifact_emulator::Emulator;
use codeartifact_operator::crd::PypiRepository;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use testenv::{ControlPlane, Launch, OPERATOR_KEY, OperatorProcess, TempNamespace};

pub use testenv::run;

/// The access key the operator uses against the emulator.
pub const ACCESS_KEY: &str = OPERATOR_KEY.access_key_id;
/// The account of [`ACCESS_KEY`].
pub const ACCOUNT: &str = OPERATOR_KEY.account;

/// One test's world.
pub struct Env {
    /// The control plane shared by this test binary.
    pub cp: &'static ControlPlane,
    /// Admin client.
    pub client: Client,
    /// The test's namespace.
    pub ns: TempNamespace,
    /// The test's CodeArtifact.
    pub emulator: Emulator,
    /// The operator under test.
    pub operator: Operator,
    /// Scratch folder, removed at the end.
    pub tmp: tempfile::TempDir,
}

/// Options for [`setup`].
#[derive(Clone)]
pub struct Options {
    /// Extra operator flags.
    pub operator_args: Vec<String>,
    /// Emulator clock speed.
    pub clock_speed: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            operator_args: vec![
                "--resync-interval=5s".into(),
                "--backoff-base=200ms".into(),
                "--backoff-max=3s".into(),
            ],
            clock_speed: 1.0,
        }
    }
}

/// Starts everything for one test.
pub async fn setup(prefix: &str, opts: Options) -> Env {
    let cp = ControlPlane::shared();
    reliability::setup_on(cp, prefix, opts, 0).await.0
}

/// Applies the CRDs from `crds/` (once per control plane) and waits until they are Established.
fn install_crd(cp: &ControlPlane) {
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    cp.install_crds(&crds)
        .unwrap_or_else(|e| panic!("installing the CRDs: {e:#}"));
}

/// The operator binary, running as a child process with the tests' flags;
/// everything else (kill, restart, logs, metrics, pid) is [`OperatorProcess`]'s.
pub struct Operator(OperatorProcess);

impl Operator {
    /// Starts the operator as admin, watching only `namespace` (or a comma-separated list).
    pub fn start(
        cp: &ControlPlane,
        emulator: &Emulator,
        namespace: &str,
        dir: &Path,
        extra: &[String],
    ) -> Self {
        Self::start_with_kubeconfig(cp.kubeconfig_path(), emulator, namespace, dir, extra)
    }

    /// Starts the operator talking to Kubernetes through `kubeconfig`, e.g. as
    /// a ServiceAccount with only the chart's RBAC.
    pub fn start_with_kubeconfig(
        kubeconfig: &Path,
        emulator: &Emulator,
        namespace: &str,
        dir: &Path,
        extra: &[String],
    ) -> Self {
        let bin = Path::new(env!("CARGO_BIN_EXE_codeartifact-operator"));
        let mut launch = Launch::new(bin, kubeconfig, emulator, dir);
        launch.args = vec![
            format!("--watch-namespaces={namespace}"),
            "--cluster-name=e2e".to_string(),
            "--log-format=json".to_string(),
            // Tests written before CodeArtifactDomain let each PypiRepository
            // create its domain; tenancy tests pass --tenancy=strict (last wins).
            "--tenancy=open".to_string(),
        ];
        launch.args.extend(extra.iter().cloned());
        launch.rust_log = Some("info,codeartifact_operator=debug".to_string());
        Self(OperatorProcess::start(launch).unwrap_or_else(|e| panic!("{e:#}")))
    }

    /// A placeholder for a test that starts its own operator later.
    fn not_started(dir: &Path) -> Self {
        Self(OperatorProcess::not_started(
            dir.join("operator-not-started.log"),
        ))
    }

    /// The harness's process, for helpers that take several operators.
    pub fn process(&self) -> &OperatorProcess {
        &self.0
    }
}

impl Deref for Operator {
    type Target = OperatorProcess;
    fn deref(&self) -> &OperatorProcess {
        &self.0
    }
}

impl DerefMut for Operator {
    fn deref_mut(&mut self) -> &mut OperatorProcess {
        &mut self.0
    }
}

impl Env {
    /// PypiRepositories in the test namespace.
    pub fn repos(&self) -> Api<PypiRepository> {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    /// Secrets in the test namespace.
    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    /// Creates a PypiRepository from a YAML or JSON document (namespace filled in).
    pub async fn create(&self, manifest: &str) -> PypiRepository {
        let mut obj: PypiRepository = serde_saphyr::from_str(manifest).expect("manifest parses");
        obj.metadata.namespace = Some(self.ns.name().to_string());
        self.repos()
            .create(&PostParams::default(), &obj)
            .await
            .expect("create PypiRepository")
    }

    /// Merge-patches a PypiRepository's spec.
    pub async fn patch_spec(&self, name: &str, spec: serde_json::Value) {
        let patch = serde_json::json!({ "spec": spec });
        self.repos()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch spec");
    }

    /// Deletes a PypiRepository.
    pub async fn delete(&self, name: &str) {
        self.repos()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete PypiRepository");
    }

    /// Waits until `name` satisfies `check`, and returns it; panics with the
    /// object and the operator's log tail on timeout.
    pub async fn wait_until(
        &self,
        name: &str,
        timeout: Duration,
        check: impl Fn(&PypiRepository) -> bool,
    ) -> PypiRepository {
        let api = self.repos();
        let ok = testenv::wait_for(timeout, || async {
            api.get_opt(name)
                .await
                .ok()
                .flatten()
                .is_some_and(|o| check(&o))
        })
        .await;
        let current = api.get_opt(name).await.ok().flatten();
        if ok.is_err() {
            let logs = self.operator.logs();
            let tail: Vec<&str> = logs.lines().rev().take(40).collect();
            panic!(
                "{name} did not reach the expected state in {timeout:?}; now: {current:#?}\noperator log tail:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        current.expect("object exists")
    }

    /// Waits for Ready=True on the current generation.
    pub async fn wait_ready(&self, name: &str) -> PypiRepository {
        self.wait_until(name, Duration::from_secs(60), |o| {
            condition(o, "Ready").is_some_and(|(s, _, _)| s == "True") && observed_current(o)
        })
        .await
    }

    /// Waits until `name` is gone.
    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        testenv::wait_gone(&self.repos(), name, timeout)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{name} was not deleted in {timeout:?}\n{}",
                    self.operator.logs()
                )
            });
    }

    /// `(domain, repository)` of every repository in the test's CodeArtifact.
    pub fn emulator_repositories(&self) -> std::collections::BTreeSet<(String, String)> {
        self.emulator
            .repositories()
            .into_iter()
            .map(|r| (r.domain, r.name))
            .collect()
    }

    /// The Secret's data as strings.
    pub async fn secret_data(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        let s = self.secrets().get(name).await.expect("Secret exists");
        s.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v.0).expect("utf-8")))
            .collect()
    }

    /// Events in the namespace as `(type, reason, note)`.
    pub async fn events(&self) -> Vec<(String, String, String)> {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), self.ns.name());
        let list = api.list(&Default::default()).await.expect("list Events");
        list.items
            .into_iter()
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Asserts that no token the emulator ever issued appears in the
    /// operator's logs or metrics, the namespace's Events, or any
    /// PypiRepository (status included); returns how many tokens were checked.
    pub async fn assert_no_token_leaks(&self) -> usize {
        reliability::assert_no_leaks(
            &self.client,
            &self.emulator,
            &[self.ns.name()],
            &[&self.operator],
        )
        .await
    }
}

/// `(status, reason, message)` of a condition.
pub fn condition(o: &PypiRepository, type_: &str) -> Option<(String, String, String)> {
    let c = o
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Whether status describes the current generation.
pub fn observed_current(o: &PypiRepository) -> bool {
    o.status.as_ref().and_then(|s| s.observed_generation) == o.metadata.generation
}

/// The files in deploy/examples that declare PypiRepositories.
pub const EXAMPLE_FILES: [&str; 5] = [
    "basic.yaml",
    "private-only.yaml",
    "upstreams.yaml",
    "delete-policy.yaml",
    "short-token.yaml",
];

/// The PypiRepositories [`EXAMPLE_FILES`] declare; each becomes Ready.
pub const EXAMPLE_REPOSITORIES: [&str; 6] = [
    "python-packages",
    "private-packages",
    "shared",
    "team-a",
    "scratch",
    "ci",
];

/// The YAML documents of `deploy/examples/<file>`.
pub fn example_documents(file: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split("\n---\n").map(str::to_string).collect()
}
