//! The Helm chart on the real control plane: lint and template, install
//! (every object accepted), the operator running with only the chart's
//! ServiceAccount permissions in both install modes, and /metrics.

mod common;

use std::path::{Path, PathBuf};

use common::{Env, Options, run, setup};
use testenv::ControlPlane;

const CHART: &str = "charts/codeartifact-operator";

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(CHART)
}

/// `helm ARGS` and its combined output, without failing.
fn helm(cp: &ControlPlane, args: &[&str]) -> (bool, String) {
    let out = cp.helm(args).output().expect("run helm");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A kubeconfig that authenticates as `sa` with a TokenRequest token, so the
/// apiserver enforces exactly the RBAC bound to it.
fn service_account_kubeconfig(cp: &ControlPlane, ns: &str, sa: &str, dir: &Path) -> PathBuf {
    let token = run(&mut cp.kubectl(["create", "token", sa, "-n", ns, "--duration=1h"]))
        .trim()
        .to_string();
    let server = run(&mut cp.kubectl([
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]));
    let ca = run(&mut cp.kubectl([
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]));
    let path = dir.join(format!("{sa}.kubeconfig"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {sa}\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context: {{cluster: c, user: {sa}}}\ncurrent-context: c\n"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

fn repo(name: &str) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: charted\n"
    )
}

async fn can_i(env: &Env, sa: &str, verb_resource: &[&str], ns: &str) -> bool {
    let out = env
        .cp
        .kubectl(
            ["auth", "can-i"]
                .iter()
                .copied()
                .chain(verb_resource.iter().copied())
                .chain(["-n", ns, "--as", sa]),
        )
        .output()
        .expect("kubectl auth can-i");
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_lints_renders_and_rejects_bad_values() {
    let cp = ControlPlane::shared();
    let c = chart();
    let c = c.to_str().unwrap();
    let (ok, out) = helm(cp, &["lint", c, "--strict"]);
    assert!(ok, "{out}");
    let (ok, out) = helm(cp, &["template", "x", c]);
    assert!(
        ok && out.contains("kind: ClusterRole") && out.contains("kind: Deployment"),
        "{out}"
    );
    assert!(
        out.contains("readOnlyRootFilesystem: true")
            && out.contains("runAsNonRoot: true")
            && out.contains("RuntimeDefault"),
        "{out}"
    );
    let (ok, out) = helm(
        cp,
        &[
            "template",
            "x",
            c,
            "--set",
            "watchNamespaces={a,b}",
            "--set",
            "tenancy=open",
        ],
    );
    assert!(
        ok && !out.contains("kind: ClusterRole") && out.matches("\nkind: Role\n").count() == 2,
        "{out}"
    );
    // Strict tenancy (the default) reads cluster-scoped CodeArtifactDomains and Namespace labels.
    let (ok, out) = helm(cp, &["template", "x", c, "--set", "watchNamespaces={a,b}"]);
    assert!(
        ok && out.contains("name: x-codeartifact-operator-tenancy")
            && out.contains("codeartifactdomains")
            && out.contains("value: \"strict\""),
        "{out}"
    );
    let (ok, out) = helm(
        cp,
        &[
            "template",
            "x",
            c,
            "--set",
            "leaderElection.enabled=true",
            "--set",
            "replicaCount=2",
        ],
    );
    assert!(
        ok && out.contains("leases") && out.contains("LEADER_ELECT"),
        "{out}"
    );
    assert!(
        !out.contains("hostNetwork"),
        "Pod networking by default: {out}"
    );
    let (ok, out) = helm(cp, &["template", "x", c, "--set", "hostNetwork=true"]);
    assert!(
        ok && out.contains("hostNetwork: true")
            && out.contains("dnsPolicy: ClusterFirstWithHostNet"),
        "{out}"
    );
    let (ok, out) = helm(cp, &["template", "x", c, "--set", "hostNetwork=yes"]);
    assert!(
        !ok && out.contains("hostNetwork"),
        "a string must fail: {out}"
    );
    let (ok, out) = helm(cp, &["template", "x", c, "--set", "replicaCount=2"]);
    assert!(
        !ok && out.contains("leaderElection"),
        "two replicas without election must fail: {out}"
    );
    let (ok, out) = helm(
        cp,
        &["template", "x", c, "--set", "serviceAcount.create=false"],
    );
    assert!(
        !ok && out.contains("serviceAcount"),
        "a typo must fail: {out}"
    );
    let (ok, out) = helm(
        cp,
        &[
            "template",
            "x",
            c,
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ],
    );
    assert!(ok && out.contains("kind: ServiceMonitor"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_install_is_accepted_and_its_rbac_suffices_for_the_operator() {
    let env = setup("chart-cluster", Options::default()).await;
    let release_ns = env.ns.name().to_string();
    let c = chart();
    let (ok, out) = helm(
        env.cp,
        &[
            "install",
            "cao",
            c.to_str().unwrap(),
            "-n",
            &release_ns,
            "--set",
            "leaderElection.enabled=true",
            "--wait=false",
        ],
    );
    assert!(ok, "helm install: {out}");
    let objects = run(&mut env.cp.kubectl([
        "get",
        "deploy,sa,svc,role,rolebinding",
        "-n",
        &release_ns,
        "-o",
        "name",
    ]));
    for want in [
        "deployment.apps/cao-codeartifact-operator",
        "serviceaccount/cao-codeartifact-operator",
        "service/cao-codeartifact-operator-metrics",
    ] {
        assert!(objects.contains(want), "{want} missing: {objects}");
    }
    run(&mut env.cp.kubectl([
        "get",
        "clusterrole/cao-codeartifact-operator",
        "clusterrolebinding/cao-codeartifact-operator",
    ]));

    // The admin-run operator from setup() stops; a chart-identity one takes over.
    let mut env = env;
    let sa = format!("system:serviceaccount:{release_ns}:cao-codeartifact-operator");
    let kubeconfig = service_account_kubeconfig(
        env.cp,
        &release_ns,
        "cao-codeartifact-operator",
        env.tmp.path(),
    );
    let args = [
        "--resync-interval=5s".to_string(),
        "--leader-elect".into(),
        "--lease-name=cao".into(),
        format!("--lease-namespace={release_ns}"),
    ];
    env.operator = env.operator_with_kubeconfig(&kubeconfig, &release_ns, &args);
    env.create(&repo("with-chart-rbac")).await;
    env.wait_ready("with-chart-rbac").await;

    // What the rules do not grant is refused.
    assert!(can_i(&env, &sa, &["patch", "secrets"], &release_ns).await);
    assert!(
        !can_i(&env, &sa, &["delete", "secrets"], &release_ns).await,
        "Secrets go by garbage collection, never by the operator"
    );
    assert!(!can_i(&env, &sa, &["list", "configmaps"], &release_ns).await);
    assert!(
        !can_i(
            &env,
            &sa,
            &["delete", "pypirepositories.codeartifact-operator.dev"],
            &release_ns
        )
        .await
    );
    let denied = std::process::Command::new(env.cp.bin_dir().join("kubectl"))
        .args(["get", "configmaps", "-n", &release_ns])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("kubectl as the ServiceAccount");
    assert!(
        !denied.status.success() && String::from_utf8_lossy(&denied.stderr).contains("forbidden")
    );

    // The metrics series exist after a reconcile.
    let metrics = env.operator.metrics().await;
    for series in [
        "codeartifact_operator_reconciles_total",
        "codeartifact_operator_reconcile_duration_seconds_bucket",
        "codeartifact_operator_aws_calls_total{operation=\"CreateRepository\",outcome=\"success\"}",
        "codeartifact_operator_token_refreshes_total{outcome=\"success\"}",
        "codeartifact_operator_token_expires_in_seconds{namespace=",
    ] {
        assert!(
            metrics.contains(series),
            "{series} missing from /metrics:\n{metrics}"
        );
    }
    let readyz = format!("http://127.0.0.1:{}/readyz", env.operator.port);
    let ready = testenv::wait_for(std::time::Duration::from_secs(10), || async {
        reqwest::get(&readyz)
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert!(ready.is_ok(), "/readyz never reported ready");
    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_scoped_install_works_with_roles_only() {
    let mut env = setup("chart-ns", Options::default()).await;
    let cp = env.cp;
    let watched = env.ns.name().to_string();
    let release = testenv::TempNamespace::create(cp, "chart-release")
        .await
        .expect("release namespace");
    let c = chart();
    let (ok, out) = helm(
        cp,
        &[
            "install",
            "scoped",
            c.to_str().unwrap(),
            "-n",
            release.name(),
            "--set",
            &format!("watchNamespaces={{{watched}}}"),
            "--set",
            "tenancy=open",
            "--wait=false",
        ],
    );
    assert!(ok, "helm install: {out}");
    let cluster_roles = run(&mut cp.kubectl(["get", "clusterrole", "-o", "name"]));
    assert!(
        !cluster_roles.contains("scoped-codeartifact-operator"),
        "namespace mode must not create ClusterRoles"
    );
    run(&mut cp.kubectl([
        "get",
        "role/scoped-codeartifact-operator",
        "rolebinding/scoped-codeartifact-operator",
        "-n",
        &watched,
    ]));

    let kubeconfig = service_account_kubeconfig(
        cp,
        release.name(),
        "scoped-codeartifact-operator",
        env.tmp.path(),
    );
    env.operator =
        env.operator_with_kubeconfig(&kubeconfig, &watched, &["--resync-interval=5s".to_string()]);
    env.create(&repo("scoped")).await;
    env.wait_ready("scoped").await;
    let sa = format!(
        "system:serviceaccount:{}:scoped-codeartifact-operator",
        release.name()
    );
    assert!(
        !can_i(&env, &sa, &["list", "secrets"], release.name()).await,
        "no rights outside the watched namespaces"
    );
    env.assert_no_token_leaks().await;
}
