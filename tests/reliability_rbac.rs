//! Reliability: least privilege. The operator runs as the chart's
//! ServiceAccount with only the chart's RBAC (a token from the TokenRequest
//! API, no admin rights), reconciles and deletes a PypiRepository, and what
//! that ServiceAccount may do is exactly the committed allow-list
//! (tests/fixtures/reliability/rbac-allow-list.txt).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::reliability::{assert_no_leaks, setup_without_operator};
use common::{Env, Options, run};

const RELEASE: &str = "rbac-test";
const SERVICE_ACCOUNT: &str = "rbac-test-codeartifact-operator";
const ALLOW_LIST: &str = "tests/fixtures/reliability/rbac-allow-list.txt";

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/codeartifact-operator")
}

/// Renders the chart's ServiceAccount and RBAC (defaults: cluster-wide, plus
/// leader election) for a release in `ns` and applies them.
fn install_rbac(env: &Env, ns: &str) {
    let chart = chart();
    let mut template = env.cp.helm(["template", RELEASE]);
    template
        .arg(&chart)
        .args(["--namespace", ns, "--set", "leaderElection.enabled=true"]);
    template.args([
        "--show-only",
        "templates/serviceaccount.yaml",
        "--show-only",
        "templates/rbac.yaml",
    ]);
    let manifests = run(&mut template);
    let mut apply = env
        .cp
        .kubectl(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl apply");
    apply
        .stdin
        .take()
        .expect("stdin")
        .write_all(manifests.as_bytes())
        .expect("write manifests");
    let out = apply.wait_with_output().expect("kubectl apply");
    assert!(
        out.status.success(),
        "apply the chart's RBAC: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A kubeconfig that authenticates as the ServiceAccount with a TokenRequest
/// token (no client certificate, no impersonation).
fn service_account_kubeconfig(env: &Env, ns: &str) -> PathBuf {
    let token = run(&mut env.cp.kubectl([
        "create",
        "token",
        SERVICE_ACCOUNT,
        "-n",
        ns,
        "--duration=1h",
    ]));
    let path = env.tmp.path().join("service-account.kubeconfig");
    std::fs::copy(env.cp.kubeconfig_path(), &path).expect("copy kubeconfig");
    let kubectl = env.cp.bin_dir().join("kubectl");
    let config = |args: &[&str]| {
        run(Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&path)
            .args(args));
    };
    config(&[
        "config",
        "set-credentials",
        "operator-sa",
        &format!("--token={}", token.trim()),
    ]);
    config(&["config", "set-context", "--current", "--user=operator-sa"]);
    path
}

/// `kubectl auth can-i --list` for the ServiceAccount in `ns`, one rule per
/// line with single spaces, header first, rules sorted (kubectl's order is
/// not guaranteed).
fn can_i_list(env: &Env, ns: &str) -> Vec<String> {
    let user = format!(
        "--as=system:serviceaccount:{}:{SERVICE_ACCOUNT}",
        env.ns.name()
    );
    let out = run(&mut env.cp.kubectl(["auth", "can-i", "--list", &user, "-n", ns]));
    let mut lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    lines[1..].sort();
    lines
}

fn can_i(env: &Env, verb: &str, resource: &str, ns: &str) -> bool {
    let user = format!(
        "--as=system:serviceaccount:{}:{SERVICE_ACCOUNT}",
        env.ns.name()
    );
    let out = env
        .cp
        .kubectl(["auth", "can-i", verb, resource, &user, "-n", ns])
        .output()
        .expect("kubectl auth can-i");
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

/// The listing as the allow-list file writes it: a section per namespace kind.
fn listing(env: &Env) -> String {
    let mut text = String::from(
        "# What the operator's ServiceAccount may do with the chart's RBAC (default values plus\n# leaderElection.enabled=true): `kubectl auth can-i --list`, whitespace collapsed.\n# Regenerate with UPDATE_RBAC_ALLOW_LIST=1 cargo test --test reliability_rbac, and review the diff.\n",
    );
    text.push_str("[release namespace]\n");
    text.extend(can_i_list(env, env.ns.name()).into_iter().map(|l| l + "\n"));
    text.push_str("[any other namespace]\n");
    text.extend(can_i_list(env, "default").into_iter().map(|l| l + "\n"));
    text
}

/// It reconciles to Ready, writes the Secret, publishes Events and deletes
/// through the finalizer, without any permission error.
async fn works_end_to_end(env: &Env) {
    let manifest = "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: least\nspec:\n  domain:\n    name: rbac\n  deletionPolicy: Delete\n";
    env.create(manifest).await;
    env.wait_ready("least").await;
    assert!(
        env.secrets()
            .get_opt("least-pypi")
            .await
            .expect("get Secret")
            .is_some()
    );
    env.delete("least").await;
    env.wait_gone("least", Duration::from_secs(60)).await;
    // The operator may publish Events with its least-privilege role.
    let events = env.events().await;
    assert!(
        events
            .iter()
            .any(|(_, reason, _)| reason == "RepositoryDeleted"),
        "{events:?}"
    );
    assert!(
        env.emulator.repositories().is_empty(),
        "the repository was deleted"
    );
    let logs = env.operator.logs();
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the operator hit a permission error:\n{logs}"
    );
}

/// What the ServiceAccount may do is exactly the allow-list; returns the
/// number of rows naming resources (the rest are discovery URLs every account may read).
fn matches_the_allow_list(env: &Env) -> usize {
    let actual = listing(env);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(ALLOW_LIST);
    if std::env::var_os("UPDATE_RBAC_ALLOW_LIST").is_some() {
        std::fs::write(&path, &actual).expect("write the allow-list");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, committed,
        "the ServiceAccount's permissions differ from {ALLOW_LIST}"
    );
    actual
        .lines()
        .filter(|l| !l.starts_with(['#', '[']) && !l.starts_with("Resources"))
        .count()
}

/// A few things an operator must not be able to do, asked with `can-i` and
/// two of them tried for real with the token; returns how many were asked.
fn refuses_the_rest(env: &Env, kubeconfig: &Path, ns: &str) -> usize {
    let refused = [
        ("delete", "secrets", ns),
        ("list", "configmaps", ns),
        ("get", "pods", ns),
        ("create", "leases", "default"),
        ("update", "pypirepositories", ns),
        ("delete", "pypirepositories", ns),
        ("create", "clusterrolebindings", ns),
    ];
    for (verb, resource, namespace) in refused {
        assert!(
            !can_i(env, verb, resource, namespace),
            "the ServiceAccount may {verb} {resource} in {namespace}"
        );
    }
    let kubectl = env.cp.bin_dir().join("kubectl");
    for attempt in [
        vec!["get", "configmaps", "-n", ns],
        vec!["delete", "secret", "anything", "-n", ns],
    ] {
        let out = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(&attempt)
            .output()
            .expect("kubectl");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("Forbidden"),
            "{attempt:?} was not refused: {err}"
        );
    }
    refused.len()
}

/// A CodeArtifactDomain for domain "rbac" that lets `ns` create and delete;
/// returns the label selector that picks it.
async fn declare_domain(env: &Env, ns: &str) -> String {
    let api: kube::Api<codeartifact_operator::crd::CodeArtifactDomain> =
        kube::Api::all(env.client.clone());
    let obj = serde_json::json!({
        "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "CodeArtifactDomain",
        "metadata": {"name": ns, "labels": {"e2e-rbac": ns}},
        "spec": {"domainName": "rbac", "access": [
            {"namespaces": [ns], "repositories": ["least"], "create": true, "delete": true}
        ]},
    });
    api.patch(
        ns,
        &kube::api::PatchParams::apply("e2e-rbac").force(),
        &kube::api::Patch::Apply(&obj),
    )
    .await
    .expect("apply CodeArtifactDomain");
    format!("e2e-rbac={ns}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_works_with_only_the_charts_rbac_and_nothing_more() {
    let mut env = setup_without_operator("rbac", Options::default()).await;
    let ns = env.ns.name().to_string();
    install_rbac(&env, &ns);
    let kubeconfig = service_account_kubeconfig(&env, &ns);
    // Strict tenancy (the chart's default), so its cluster-wide read rules are exercised too.
    let selector = declare_domain(&env, &ns).await;
    let mut args = Options::default().operator_args;
    args.extend([
        "--leader-elect".to_string(),
        format!("--lease-namespace={ns}"),
        "--tenancy=strict".to_string(),
        format!("--domain-selector={selector}"),
    ]);
    env.operator = env.operator_with_kubeconfig(&kubeconfig, &ns, &args);
    works_end_to_end(&env).await;
    let rules = matches_the_allow_list(&env);
    let refused = refuses_the_rest(&env, &kubeconfig, &ns);
    let tokens = assert_no_leaks(&env.client, &env.emulator, &[&ns], &[&env.operator]).await;
    println!(
        "SUMMARY rbac: the operator ran as {SERVICE_ACCOUNT} with only the chart's RBAC (TokenRequest token): Ready, Events, Secret and Delete cleanup all worked with no permission error; `kubectl auth can-i --list` matches the allow-list ({rules} resource rules over the release namespace and any other, plus discovery URLs); {refused} actions outside it refused (2 tried for real: Forbidden); 0 of {tokens} tokens leaked"
    );
}
