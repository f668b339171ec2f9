//! Helpers for the reliability tests (tests/reliability_*.rs): set-ups on any
//! control plane and over several namespaces, more operators, CodeArtifact
//! access behind the operator's back, and token-leak scans that span several
//! operators and namespaces.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_sdk_codeartifact as ca;
use codeartifact_emulator::{Config as EmulatorConfig, Emulator};
use codeartifact_operator::crd::PypiRepository;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use testenv::{ControlPlane, LeakScan, OTHER_KEY, TempNamespace, TestKey};

#[allow(unused_imports)] // only some test binaries read metrics
pub use testenv::metric_value;

use super::{Env, Operator, Options, install_crd, python};

/// Like [`super::setup`], on any control plane (a private one from
/// [`ControlPlane::start`], leaked to `'static` by the caller, for tests that
/// disrupt it), with `extra_namespaces` more namespaces that the one operator
/// also watches. The Env's namespace comes first in the watch list.
pub async fn setup_on(
    cp: &'static ControlPlane,
    prefix: &str,
    opts: Options,
    extra_namespaces: usize,
) -> (Env, Vec<TempNamespace>) {
    let mut env = setup_without_operator_on(cp, prefix, &opts).await;
    let mut extra = Vec::new();
    for i in 0..extra_namespaces {
        extra.push(
            TempNamespace::create(cp, &format!("{prefix}{i}"))
                .await
                .expect("create namespace"),
        );
    }
    let watched: Vec<&str> = std::iter::once(env.ns.name())
        .chain(extra.iter().map(TempNamespace::name))
        .collect();
    env.operator = Operator::start(
        cp,
        &env.emulator,
        &watched.join(","),
        env.tmp.path(),
        &opts.operator_args,
    );
    (env, extra)
}

/// Installs the CRD from `crds/` (once per test binary) and waits until it is Established.
pub fn install_crd_on(cp: &ControlPlane) {
    install_crd(cp);
}

/// The emulator as [`super::setup`] configures it: test accounts, one public wheel.
async fn start_emulator(dir: &Path, clock_speed: f64) -> Emulator {
    let public = dir.join("public-pypi");
    python::make_dist("requests-lite", "2.0.0", &public, true);
    let mut config = EmulatorConfig::for_tests();
    config.public_pypi_dir = Some(public);
    config.clock_speed = clock_speed;
    Emulator::start(config).await.expect("start the emulator")
}

impl Env {
    /// One more operator on the same emulator and control plane, watching
    /// `namespaces` (comma-separated) with `args` (the Options defaults are not added).
    pub fn another_operator(&self, namespaces: &str, args: &[String]) -> Operator {
        Operator::start(self.cp, &self.emulator, namespaces, self.tmp.path(), args)
    }

    /// An operator that talks to Kubernetes through `kubeconfig` instead of
    /// the admin one, e.g. as a ServiceAccount with only the chart's RBAC.
    /// Same flags and environment as [`Operator::start`] otherwise.
    pub fn operator_with_kubeconfig(
        &self,
        kubeconfig: &Path,
        namespaces: &str,
        extra: &[String],
    ) -> Operator {
        Operator::start_with_kubeconfig(
            kubeconfig,
            &self.emulator,
            namespaces,
            self.tmp.path(),
            extra,
        )
    }
}

/// An SDK client signed with `access_key` (the operator's or the second
/// account's), for creating resources behind the operator's back.
pub fn sdk(emulator: &Emulator, access_key: &str) -> ca::Client {
    TestKey::by_access_key(access_key).sdk(emulator)
}

/// The second test account's access key (account 444455556666).
pub const OTHER_ACCESS_KEY: &str = OTHER_KEY.access_key_id;
/// The second test account.
pub const OTHER_ACCOUNT: &str = OTHER_KEY.account;

/// Asserts that no token the emulator issued appears in any operator's log
/// or metrics, or in the Events or PypiRepository objects (status included)
/// of any of `namespaces`. Returns how many tokens were checked.
pub async fn assert_no_leaks(
    client: &Client,
    emulator: &Emulator,
    namespaces: &[&str],
    operators: &[&Operator],
) -> usize {
    let tokens = emulator.issued_tokens();
    assert!(!tokens.is_empty(), "the scenario should have minted tokens");
    let mut scan = LeakScan::new();
    for (i, op) in operators.iter().enumerate() {
        scan.operator(&format!("operator {i}"), op.process()).await;
    }
    for ns in namespaces {
        scan.events(client, ns).await;
        scan.objects::<PypiRepository>(client, ns, "PypiRepositories")
            .await;
    }
    scan.assert_clean(&tokens)
}

/// Token expiry per Secret (`namespace/name` → `expiresAt`) of the operator's
/// Secrets in `namespaces`.
pub async fn secret_expiries(
    client: &Client,
    namespaces: &[&str],
) -> BTreeMap<String, (String, chrono::DateTime<chrono::Utc>)> {
    let mut out = BTreeMap::new();
    for ns in namespaces {
        let api: Api<Secret> = Api::namespaced(client.clone(), ns);
        let lp = kube::api::ListParams::default()
            .labels("app.kubernetes.io/managed-by=codeartifact-operator");
        let Ok(list) = api.list(&lp).await else {
            continue;
        };
        for s in list.items {
            let data = s.data.unwrap_or_default();
            let (Some(token), Some(expires)) = (data.get("token"), data.get("expiresAt")) else {
                continue;
            };
            let expires = String::from_utf8_lossy(&expires.0).to_string();
            let Ok(at) = chrono::DateTime::parse_from_rfc3339(&expires) else {
                continue;
            };
            let name = format!("{ns}/{}", s.metadata.name.unwrap_or_default());
            out.insert(
                name,
                (
                    String::from_utf8_lossy(&token.0).to_string(),
                    at.with_timezone(&chrono::Utc),
                ),
            );
        }
    }
    out
}

/// Waits until `check` holds for every PypiRepository in `namespaces`
/// (and there are `expected` of them); panics with the laggards on timeout.
pub async fn wait_all(
    client: &Client,
    namespaces: &[&str],
    expected: usize,
    timeout: Duration,
    check: impl Fn(&PypiRepository) -> bool,
) {
    let list_all = || async {
        let mut all = Vec::new();
        for ns in namespaces {
            let api: Api<PypiRepository> = Api::namespaced(client.clone(), ns);
            all.extend(
                api.list(&Default::default())
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default(),
            );
        }
        all
    };
    let ok = testenv::wait_for(timeout, || async {
        let all = list_all().await;
        all.len() == expected && all.iter().all(&check)
    })
    .await;
    if ok.is_err() {
        let all = list_all().await;
        let laggards: Vec<String> = all
            .iter()
            .filter(|o| !check(o))
            .map(|o| {
                format!(
                    "{}/{}: {:?}",
                    o.metadata.namespace.as_deref().unwrap_or(""),
                    o.metadata.name.as_deref().unwrap_or(""),
                    o.status
                )
            })
            .collect();
        panic!(
            "{} of {expected} objects; not there yet after {timeout:?}:\n{}",
            all.len(),
            laggards.join("\n")
        );
    }
}

/// Ready=True for the current generation.
pub fn is_ready(o: &PypiRepository) -> bool {
    super::condition(o, "Ready").is_some_and(|(s, _, _)| s == "True") && super::observed_current(o)
}

/// Like [`super::setup`] on the shared control plane, but with no operator
/// running yet: the test starts its own with [`Env::operator_with_kubeconfig`]
/// (for example with only the chart's RBAC) and puts it in `env.operator`.
pub async fn setup_without_operator(prefix: &str, opts: Options) -> Env {
    setup_without_operator_on(ControlPlane::shared(), prefix, &opts).await
}

async fn setup_without_operator_on(cp: &'static ControlPlane, prefix: &str, opts: &Options) -> Env {
    install_crd(cp);
    let client = cp.client().await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let emulator = start_emulator(tmp.path(), opts.clock_speed).await;
    let ns = TempNamespace::create(cp, prefix)
        .await
        .expect("create namespace");
    let operator = Operator::not_started(tmp.path());
    Env {
        cp,
        client,
        ns,
        emulator,
        operator,
        tmp,
    }
}

/// A PypiRepository manifest with `spec` (YAML lines indented by two spaces).
pub fn manifest_yaml(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

/// Waits for Ready=False with `reason` and returns the condition's message.
pub async fn not_ready(env: &Env, name: &str, reason: &str) -> String {
    let wanted = |o: &PypiRepository| {
        super::condition(o, "Ready").is_some_and(|(s, r, _)| s == "False" && r == reason)
    };
    let obj = env.wait_until(name, Duration::from_secs(90), wanted).await;
    super::condition(&obj, "Ready").expect("Ready").2
}
