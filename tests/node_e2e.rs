//! The product's three steps on a real node (kubelet + containerd + runc):
//! `helm install` of the chart with the operator's image, a `PypiRepository`,
//! and Pods that use its Secret: a twine upload Job, a Pod installing what it
//! published, a Deployment pip-installing through the mounted Secret across
//! token rotations, and the `subPath` / env-variable Pods the README warns about.
//! The README's CI runner pod: `ci_pod.rs`. Token rotations reaching the
//! Pods: `rotations.rs`. Leader election with two replicas: `leader_election.rs`.
//!
//! The operator runs on the Pod network, as the chart installs it by default,
//! and reaches kube-apiserver through the `kubernetes` Service with its
//! projected ServiceAccount token (tests/control-plane/README.md says how
//! Pods reach the loopback-only apiserver and emulator). The workload Pods
//! use `hostNetwork`: the Secret's endpoint is the emulator's 127.0.0.1.

#[path = "node_e2e/ci_pod.rs"]
mod ci_pod;
mod common;
#[path = "node_e2e/leader_election.rs"]
mod leader_election;
#[path = "node_e2e/rotations.rs"]
mod rotations;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::node::{
    Network, apply, assert_on_pod_network, domain, install_operator, kubectl, repository,
    start_emulator, step, wait,
};
use common::python::make_dist;
use common::run;
use testenv::{Image, Node, TempNamespace};

/// The emulator's clock runs this much faster: a 900 s token lives 40 s, and
/// the operator replaces it a quarter of its life (10 s) before it expires.
const CLOCK_SPEED: f64 = 22.5;
const TOKEN_LIFE: Duration = Duration::from_secs(40);
const PRIVATE: &str = "node-private";
const TEST: &str = "node_e2e";

/// The tests share one node and take turns: each measures times that a
/// parallel test on two cores would distort.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Seconds since the epoch, the clock the Pods print (same machine).
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// The runtime spec containerd gave the operator's container: runc enforces
/// what it says (read-only root, user 65532), and the process runs as that user.
fn assert_locked_down(node: &Node, ns: &str, pod: &str) {
    let id = kubectl(
        node,
        &[
            "get",
            "pod",
            pod,
            "-n",
            ns,
            "-o",
            "jsonpath={.status.containerStatuses[0].containerID}",
        ],
    );
    let id = id.trim().trim_start_matches("containerd://");
    let info: serde_json::Value =
        serde_json::from_str(&run(&mut node.ctr(["containers", "info", id]))).expect("ctr json");
    let spec = &info["Spec"];
    assert_eq!(
        spec["root"]["readonly"], true,
        "readOnlyRootFilesystem: {spec}"
    );
    assert_eq!(spec["process"]["user"]["uid"], 65532, "user: {spec}");
    let task = run(&mut node.ctr(["tasks", "ls"]));
    let pid = task
        .lines()
        .find(|l| l.starts_with(id))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("operator task");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    assert!(
        uid.split_whitespace().skip(1).all(|u| u == "65532"),
        "the operator runs as 65532: {uid}"
    );
}

/// A hostNetwork Pod (or Job/Deployment template body) running `script` in the workload image.
fn pod_spec(
    image: &str,
    script: &str,
    extra_container: &str,
    volumes: &str,
    restart: &str,
) -> String {
    let script = serde_json::to_string(script).expect("json string");
    format!(
        r#"    hostNetwork: true
    restartPolicy: {restart}
    terminationGracePeriodSeconds: 1
    containers:
      - name: main
        image: {image}
        imagePullPolicy: Never
        command: ["python3", "-u", "-c", {script}]
        env:
          - {{name: PIP_DISABLE_PIP_VERSION_CHECK, value: "1"}}
          - {{name: PIP_NO_CACHE_DIR, value: "1"}}
          - {{name: HOME, value: /tmp}}
{extra_container}    volumes:
{volumes}"#
    )
}

const SECRET_VOLUME: &str = "      - name: creds\n        secret: {secretName: repo-pypi}\n";

/// A workload's whole log.
fn logs(node: &Node, ns: &str, what: &str) -> String {
    kubectl(node, &["logs", "-n", ns, what, "--tail=-1"])
}

/// The operator Pod authenticates with a projected ServiceAccount token.
fn assert_projected_token(node: &Node, ns: &str, pod: &str) {
    let pod_json: serde_json::Value =
        serde_json::from_str(&kubectl(node, &["get", "pod", pod, "-n", ns, "-o", "json"]))
            .expect("pod json");
    let projected = pod_json["spec"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .any(|v| {
            v["projected"]["sources"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s.get("serviceAccountToken").is_some()))
        });
    assert!(
        projected,
        "the operator Pod mounts a projected ServiceAccount token: {pod_json}"
    );
}

/// A Job uploads with twine through the Secret's `.pypirc`; another Pod
/// pip-installs it through `pip.conf`.
fn upload_then_install(node: &Node, ns: &str, dir: &Path, workload: &str, t0: Instant) {
    let dist = dir.join("dist");
    make_dist(PRIVATE, "1.0.0", &dist, true);
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: upload\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n{}",
        pod_spec(
            workload,
            "import glob, subprocess, sys; sys.exit(subprocess.run(['twine', 'upload', '--config-file', '/creds/.pypirc', '--repository', 'codeartifact', '--non-interactive', '--disable-progress-bar'] + sorted(glob.glob('/dist/*'))).returncode)",
            "        volumeMounts:\n          - {name: creds, mountPath: /creds, readOnly: true}\n          - {name: dist, mountPath: /dist, readOnly: true}\n",
            &format!("{SECRET_VOLUME}      - name: dist\n        hostPath: {{path: {}, type: Directory}}\n", dist.display()),
            "Never",
        )
        .replace("\n    ", "\n        ")
        .replacen("    hostNetwork", "        hostNetwork", 1)
    );
    apply(node, ns, dir, "job", &job);
    wait(
        node,
        ns,
        &["--for=condition=Complete", "job/upload"],
        "180s",
    );
    step(TEST, t0, "twine upload Job complete");
    let installer = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: installer\nspec:\n{}",
        pod_spec(
            workload,
            &format!(
                "import subprocess, sys; r = subprocess.run(['pip', 'install', '--no-input', '--target', '/tmp/site', '{PRIVATE}==1.0.0'], env={{'PIP_CONFIG_FILE': '/creds/pip.conf', 'PATH': '/usr/bin:/bin', 'HOME': '/tmp'}}); sys.path.insert(0, '/tmp/site'); import node_private; print('INSTALLED', node_private.VERSION); sys.exit(r.returncode)"
            ),
            "        volumeMounts:\n          - {name: creds, mountPath: /creds, readOnly: true}\n",
            SECRET_VOLUME,
            "Never",
        )
    );
    apply(node, ns, dir, "installer", &installer);
    wait(
        node,
        ns,
        &["--for=jsonpath={.status.phase}=Succeeded", "pod/installer"],
        "120s",
    );
    let out = logs(node, ns, "pod/installer");
    assert!(out.contains("INSTALLED 1.0.0"), "installer output:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_workloads_on_a_real_node_as_root() {
    let _serial = SERIAL.lock().await;
    let t0 = Instant::now();
    let node = Node::shared();
    step(TEST, t0, "node ready");
    common::reliability::install_crd_on(node.control_plane());
    let tmp = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(tmp.path(), CLOCK_SPEED).await;
    let system = TempNamespace::create(node.control_plane(), "cao-system")
        .await
        .expect("ns");
    let ns = TempNamespace::create(node.control_plane(), "team")
        .await
        .expect("ns");
    let ns = ns.name();
    let workload = node.image(Image::Workload).expect("workload image");
    step(TEST, t0, "images imported");

    // 1. helm install: Ready through the kubelet probing /readyz, locked down by the runtime.
    let pod = install_operator(node, "cao", system.name(), ns, &emulator, Network::Pod, &[]);
    step(TEST, t0, &format!("operator Pod {pod} Ready"));
    assert_locked_down(node, system.name(), &pod);
    assert_on_pod_network(node, system.name(), &pod);
    assert_projected_token(node, system.name(), &pod);

    // 2. A PypiRepository becomes Ready, reconciled by the operator in the Pod,
    //    in the chart's default strict tenancy: the platform declares the domain first.
    apply(
        node,
        ns,
        tmp.path(),
        "domain",
        &domain("nodedom", ns, &["repo"]),
    );
    apply(node, ns, tmp.path(), "repo", &repository("repo", "nodedom"));
    wait(
        node,
        ns,
        &["--for=condition=Ready", "pypirepository/repo"],
        "120s",
    );
    step(TEST, t0, "PypiRepository Ready");

    // 3. A Job uploads with twine through the Secret's .pypirc; another Pod installs it.
    upload_then_install(node, ns, tmp.path(), &workload, t0);
    step(TEST, t0, "installer Pod installed the uploaded package");
    ci_pod::ci_runner_pod(node, ns, tmp.path(), &emulator).await;
    step(
        TEST,
        t0,
        "the README's CI runner pod installed and published",
    );

    // 4. A directory mount follows token rotations; subPath and env variables do not.
    rotations::mounted_secret_follows_rotations(node, ns, tmp.path(), &workload, t0).await;
    drop(system);
}
