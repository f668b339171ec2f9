//! Shared set-up for the operator's end-to-end tests: the real control plane
//! (one per test binary), an in-process CodeArtifact emulator per test, the
//! real operator binary as a child process restricted to the test's
//! namespace, and the real pip and twine from the test venv.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod python;
pub mod reliability;
pub mod tenancy;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use codeartifact_emulator::Emulator;
use codeartifact_operator::crd::PypiRepository;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use testenv::{ControlPlane, TempNamespace};

/// The access key the operator uses against the emulator.
pub const ACCESS_KEY: &str = "AKIDEMULATOR";
const SECRET_KEY: &str = "emulator-secret";
/// The account of [`ACCESS_KEY`].
pub const ACCOUNT: &str = "111122223333";

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

/// Applies the CRD from `crds/` once per test binary and waits until it is Established.
fn install_crd(cp: &ControlPlane) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        run(cp
            .kubectl(["apply", "--server-side", "--force-conflicts", "-f"])
            .arg(&crds));
        run(&mut cp.kubectl([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/pypirepositories.codeartifact-operator.dev",
            "crd/codeartifactdomains.codeartifact-operator.dev",
        ]));
    });
}

/// Runs a command and panics with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The operator binary, running as a child process.
pub struct Operator {
    child: Option<Child>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Where its stdout and stderr go (appended across restarts).
    pub log: PathBuf,
    /// Port of /metrics, /livez and /readyz.
    pub port: u16,
}

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
        let port = free_port();
        let mut args = vec![
            "run".to_string(),
            format!("--listen=127.0.0.1:{port}"),
            format!("--watch-namespaces={namespace}"),
            "--cluster-name=e2e".to_string(),
            "--log-format=json".to_string(),
            // Tests written before CodeArtifactDomain let each PypiRepository
            // create its domain; tenancy tests pass --tenancy=strict (last wins).
            "--tenancy=open".to_string(),
        ];
        args.extend(extra.iter().cloned());
        let env = [
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", emulator.region().to_string()),
            ("AWS_ENDPOINT_URL_CODEARTIFACT", emulator.base_url()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("RUST_LOG", "info,codeartifact_operator=debug".to_string()),
        ];
        let env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let log = dir.join(format!("operator-{port}.log"));
        let mut op = Self {
            child: None,
            args,
            env,
            log,
            port,
        };
        op.spawn();
        op
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("operator log");
        let child = Command::new(env!("CARGO_BIN_EXE_codeartifact-operator"))
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().cloned())
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start codeartifact-operator");
        watchdog(child.id());
        self.child = Some(child);
    }

    /// SIGKILLs the operator (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills and starts it again with the same flags.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The /metrics text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        reqwest::get(url)
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills `pid` once this test process is gone, even after SIGKILL, so no
/// operator outlives its test.
fn watchdog(pid: u32) {
    let script = "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\" 2>/dev/null; true";
    let _ = Command::new("bash")
        .args([
            "-c",
            script,
            "watchdog",
            &std::process::id().to_string(),
            &pid.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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
        let api = self.repos();
        testenv::wait_for(timeout, || async {
            matches!(api.get_opt(name).await, Ok(None))
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{name} was not deleted in {timeout:?}\n{}",
                self.operator.logs()
            )
        });
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
    /// operator's logs, the namespace's Events, any PypiRepository (status
    /// included) or the metrics.
    pub async fn assert_no_token_leaks(&self) {
        let tokens = self.emulator.issued_tokens();
        assert!(!tokens.is_empty(), "the scenario should have minted tokens");
        let events = format!("{:?}", self.events().await);
        let objects = serde_json::to_string(
            &self
                .repos()
                .list(&Default::default())
                .await
                .expect("list")
                .items,
        )
        .unwrap_or_default();
        let metrics = self.operator.metrics().await;
        let logs = self.operator.logs();
        for t in &tokens {
            for (what, text) in [
                ("operator log", &logs),
                ("Events", &events),
                ("PypiRepository objects", &objects),
                ("metrics", &metrics),
            ] {
                assert!(!text.contains(t.as_str()), "a token leaked into the {what}");
            }
        }
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
