//! What the tests on a real node share: kubectl with diagnostics, the
//! emulator with a public package, `helm install` of the chart through
//! `tests/control-plane/install-operator.sh`, and the platform's and the
//! team's manifests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use codeartifact_emulator::{Config as EmulatorConfig, Emulator};
use testenv::Node;

use super::python::make_dist;
use super::run;

/// The operator Pod's network (`OPERATOR_NETWORK` of install-operator.sh).
#[derive(Clone, Copy, Debug)]
pub enum Network {
    /// Its own network namespace on the node's bridge (the chart's default).
    Pod,
    /// The host's (`hostNetwork: true`).
    Host,
}

/// Prints a step with the seconds since `t0`, prefixed by the test's name.
pub fn step(test: &str, t0: Instant, what: &str) {
    eprintln!("{test}: [{:6.1}s] {what}", t0.elapsed().as_secs_f64());
}

/// `kubectl apply -n NS -f -` of YAML, through a file.
pub fn apply(node: &Node, ns: &str, dir: &Path, name: &str, yaml: &str) {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).expect("write manifest");
    run(node.kubectl(["apply", "-n", ns, "-f"]).arg(&file));
}

pub fn kubectl(node: &Node, args: &[&str]) -> String {
    run(&mut node.kubectl(args))
}

/// `kubectl wait` that shows the object and the node's view when it fails.
pub fn wait(node: &Node, ns: &str, what: &[&str], timeout: &str) {
    let out = node
        .kubectl(["wait", "-n", ns, &format!("--timeout={timeout}")])
        .args(what)
        .output()
        .expect("kubectl wait");
    if !out.status.success() {
        let pods = node
            .kubectl(["get", "pods,events", "-n", ns, "-o", "wide"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let kubelet = std::fs::read_to_string(node.dir().join("kubelet.log")).unwrap_or_default();
        let tail: Vec<_> = kubelet.lines().rev().take(30).collect();
        panic!(
            "kubectl wait {what:?} failed: {}\n{pods}\nkubelet log tail:\n{}",
            String::from_utf8_lossy(&out.stderr),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

/// The binary inside the operator's image: `$NODE_OPERATOR_BIN` (say, the
/// release build the Dockerfile ships), else this build's (what `make test` uses).
pub fn operator_binary() -> PathBuf {
    std::env::var_os("NODE_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_codeartifact-operator")))
}

/// The emulator, with `requests-lite` behind `public:pypi`, its clock `clock_speed` times faster.
pub async fn start_emulator(dir: &Path, clock_speed: f64) -> Emulator {
    let public = dir.join("public-pypi");
    make_dist("requests-lite", "2.0.0", &public, true);
    let mut config = EmulatorConfig::for_tests();
    config.public_pypi_dir = Some(public);
    config.clock_speed = clock_speed;
    Emulator::start(config).await.expect("start the emulator")
}

/// `helm install` of the chart as `release` in `ns` with the operator's
/// image, watching `watch`, plus `helm_args`; returns a Ready Pod.
pub fn install_operator(
    node: &Node,
    release: &str,
    ns: &str,
    watch: &str,
    emulator: &Emulator,
    network: Network,
    helm_args: &[&str],
) -> String {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/control-plane/install-operator.sh");
    let network = match network {
        Network::Pod => "pod",
        Network::Host => "host",
    };
    let out = std::process::Command::new(&script)
        .arg(node.dir())
        .args([ns, release])
        .arg(operator_binary())
        .arg(emulator.base_url())
        .args([
            "--set",
            "clusterName=node-e2e",
            "--set",
            &format!("aws.region={}", emulator.region()),
            "--set-json",
            &format!("watchNamespaces=[\"{watch}\"]"),
            "--set",
            "logging.format=text",
        ])
        .args(helm_args)
        .env("OPERATOR_NETWORK", network)
        .env("AWS_ACCESS_KEY_ID", "AKIDEMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run install-operator.sh");
    assert!(
        out.status.success(),
        "install-operator.sh failed (its log is above)"
    );
    let pod = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!pod.is_empty(), "install-operator.sh named no Ready Pod");
    pod
}

/// The platform's declaration of domain `name`, granting namespace `ns` `repositories`.
pub fn domain(name: &str, ns: &str, repositories: &[&str]) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: CodeArtifactDomain\nmetadata:\n  name: {name}\nspec:\n  access:\n    - namespaces: [{ns}]\n      repositories: [{}]\n      create: true\n      externalConnection: true\n",
        repositories.join(", ")
    )
}

/// A PypiRepository in domain `domain` with 900 s tokens.
pub fn repository(name: &str, domain: &str) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: {domain}\n  token:\n    durationSeconds: 900\n"
    )
}

/// The Pod has its own address on the node's bridge (10.88.0.0/16, node.sh)
/// and no override of the `kubernetes` Service the kubelet announces, so
/// whatever it does with kube-apiserver went through that Service.
pub fn assert_on_pod_network(node: &Node, ns: &str, pod: &str) {
    let json: serde_json::Value =
        serde_json::from_str(&kubectl(node, &["get", "pod", pod, "-n", ns, "-o", "json"]))
            .expect("pod json");
    let ip = json["status"]["podIP"].as_str().unwrap_or_default();
    assert!(
        ip.starts_with("10.88.") && json["spec"]["hostNetwork"].is_null(),
        "{pod} is on the Pod network: podIP {ip:?}, hostNetwork {}",
        json["spec"]["hostNetwork"]
    );
    let env = json["spec"]["containers"][0]["env"].to_string();
    assert!(
        !env.contains("KUBERNETES_SERVICE_HOST"),
        "{pod} uses the kubernetes Service, no override: {env}"
    );
}
