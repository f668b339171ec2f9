//! The product's three steps on a real node (kubelet + containerd + runc):
//! `helm install` of the chart with the operator's image, a `PypiRepository`,
//! and Pods that use its Secret: a twine upload Job, a Pod installing what it
//! published, a Deployment pip-installing through the mounted Secret across
//! token rotations, and the `subPath` / env-variable Pods the README warns about.
//! The README's CI runner pod: `ci_pod.rs`. Leader election with two
//! replicas: `leader_election.rs`.
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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::node::{
    Network, apply, assert_on_pod_network, domain, install_operator, kubectl, repository,
    start_emulator, step, wait,
};
use common::python::make_dist;
use common::run;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::runtime::watcher;
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

/// Loops pip install of the private and the public package every 3 s with
/// PIP_CONFIG_FILE in the mounted Secret, and reports each change of pip.conf
/// from a thread polling it every 100 ms, with the time and the Secret's
/// `expiresAt` (the kubelet swaps all keys at once; the token is never printed).
const PIP_LOOP: &str = r#"
import hashlib, subprocess, threading, time
CONF = "/creds/pip.conf"
def watch():
    last = None
    while True:
        try:
            h = hashlib.sha256(open(CONF, "rb").read()).hexdigest()
            expires = open("/creds/expiresAt").read().strip()
        except OSError:
            h = expires = None
        if h != last:
            print("CHANGE %.3f %s" % (time.time(), expires), flush=True)
            last = h
        time.sleep(0.1)
threading.Thread(target=watch, daemon=True).start()
n = 0
while True:
    n += 1
    r = subprocess.run(["pip", "install", "--no-input", "--quiet", "--target", "/tmp/site-%d" % n,
                        "node-private", "requests-lite"], capture_output=True, text=True,
                       env={"PIP_CONFIG_FILE": CONF, "PATH": "/usr/bin:/bin", "HOME": "/tmp",
                            "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    print("RUN %d %.3f %d %s" % (n, time.time(), r.returncode, r.stderr.strip().replace("\n", " | ")[-300:]), flush=True)
    subprocess.run(["rm", "-rf", "/tmp/site-%d" % n])
    time.sleep(3)
"#;

/// pip install of the private package once a second with a given config, printing OK/FAIL.
fn pip_probe(conf: &str) -> String {
    format!(
        r#"
import subprocess, time
while True:
    r = subprocess.run(["pip", "install", "--no-input", "--quiet", "--target", "/tmp/t", "--upgrade",
                        "node-private"], capture_output=True, text=True, env={{"PIP_CONFIG_FILE": "{conf}",
                        "PATH": "/usr/bin:/bin", "HOME": "/tmp", "PIP_NO_CACHE_DIR": "1"}})
    print("%s %.3f" % ("OK" if r.returncode == 0 else "FAIL", time.time()), flush=True)
    time.sleep(2)
"#
    )
}

/// The env-variable Pod: the index URL with its token, read once at start, written to a file.
fn env_probe() -> String {
    pip_probe("/tmp/pip.conf").replace(
        "import subprocess, time",
        "import os, subprocess, time\nopen('/tmp/pip.conf', 'w').write('[global]\\nindex-url = ' + os.environ['INDEX'] + '\\n')",
    )
}

fn logs(node: &Node, ns: &str, what: &str) -> String {
    kubectl(node, &["logs", "-n", ns, what, "--tail=-1"])
}

/// The Secret's versions as (time seen by a watch, `expiresAt`), appended by a
/// background task until it is aborted.
type Versions = Arc<Mutex<Vec<(f64, String)>>>;

fn record_secret_changes(secrets: Api<Secret>) -> (Versions, tokio::task::JoinHandle<()>) {
    let seen: Versions = Arc::default();
    let out = seen.clone();
    let task = tokio::spawn(async move {
        let cfg = watcher::Config::default().fields("metadata.name=repo-pypi");
        let mut stream = watcher::watcher(secrets, cfg).boxed();
        while let Some(ev) = stream.next().await {
            let Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) = ev else {
                continue;
            };
            let Some(expires) = s.data.as_ref().and_then(|d| d.get("expiresAt")) else {
                continue;
            };
            let h = String::from_utf8_lossy(&expires.0).into_owned();
            let mut seen = seen.lock().expect("lock");
            if seen.last().map(|(_, l)| l) != Some(&h) {
                seen.push((now(), h));
            }
        }
    });
    (out, task)
}

/// Seconds from each Secret version's write (seen by the watch) to the Pod's
/// file showing it, for versions written after the Pod's first read.
fn rotation_delays(versions: &Versions, log: &str) -> Vec<f64> {
    let pod_changes: BTreeMap<String, f64> = lines_with(log, "CHANGE ")
        .iter()
        .map(|c| (c[2].to_string(), c[1].parse().expect("time")))
        .collect();
    let pod_start = pod_changes.values().copied().fold(f64::INFINITY, f64::min);
    let versions = versions.lock().expect("lock");
    versions
        .iter()
        .filter(|(at, _)| *at > pod_start)
        .filter_map(|(at, h)| pod_changes.get(h).map(|in_pod| in_pod - at))
        .collect()
}

/// Lines of a log starting with `prefix`, split into words.
fn lines_with<'a>(log: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    log.lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.split_whitespace().collect())
        .collect()
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
    let pod_json: serde_json::Value = serde_json::from_str(&kubectl(
        node,
        &["get", "pod", &pod, "-n", system.name(), "-o", "json"],
    ))
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
    let dist = tmp.path().join("dist");
    make_dist(PRIVATE, "1.0.0", &dist, true);
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: upload\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n{}",
        pod_spec(
            &workload,
            "import glob, subprocess, sys; sys.exit(subprocess.run(['twine', 'upload', '--config-file', '/creds/.pypirc', '--repository', 'codeartifact', '--non-interactive', '--disable-progress-bar'] + sorted(glob.glob('/dist/*'))).returncode)",
            "        volumeMounts:\n          - {name: creds, mountPath: /creds, readOnly: true}\n          - {name: dist, mountPath: /dist, readOnly: true}\n",
            &format!("{SECRET_VOLUME}      - name: dist\n        hostPath: {{path: {}, type: Directory}}\n", dist.display()),
            "Never",
        )
        .replace("\n    ", "\n        ")
        .replacen("    hostNetwork", "        hostNetwork", 1)
    );
    apply(node, ns, tmp.path(), "job", &job);
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
            &workload,
            &format!(
                "import subprocess, sys; r = subprocess.run(['pip', 'install', '--no-input', '--target', '/tmp/site', '{PRIVATE}==1.0.0'], env={{'PIP_CONFIG_FILE': '/creds/pip.conf', 'PATH': '/usr/bin:/bin', 'HOME': '/tmp'}}); sys.path.insert(0, '/tmp/site'); import node_private; print('INSTALLED', node_private.VERSION); sys.exit(r.returncode)"
            ),
            "        volumeMounts:\n          - {name: creds, mountPath: /creds, readOnly: true}\n",
            SECRET_VOLUME,
            "Never",
        )
    );
    apply(node, ns, tmp.path(), "installer", &installer);
    wait(
        node,
        ns,
        &["--for=jsonpath={.status.phase}=Succeeded", "pod/installer"],
        "120s",
    );
    let out = logs(node, ns, "pod/installer");
    assert!(out.contains("INSTALLED 1.0.0"), "installer output:\n{out}");
    step(TEST, t0, "installer Pod installed the uploaded package");
    ci_pod::ci_runner_pod(node, ns, tmp.path(), &emulator).await;
    step(
        TEST,
        t0,
        "the README's CI runner pod installed and published",
    );

    // 4. A directory mount follows token rotations; subPath and env variables do not.
    let secrets: Api<Secret> = Api::namespaced(node.client().await, ns);
    let (versions, watch) = record_secret_changes(secrets);
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: pip-loop\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: pip-loop}}}}\n  template:\n    metadata: {{labels: {{app: pip-loop}}}}\n    spec:\n{}",
        pod_spec(
            &workload,
            PIP_LOOP,
            "        volumeMounts:\n          - {name: creds, mountPath: /creds, readOnly: true}\n",
            SECRET_VOLUME,
            "Always",
        )
        .replace("\n    ", "\n        ")
        .replacen("    hostNetwork", "        hostNetwork", 1)
    );
    apply(node, ns, tmp.path(), "pip-loop", &deployment);
    let subpath = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: subpath\nspec:\n{}",
        pod_spec(
            &workload,
            &pip_probe("/etc/pip.conf"),
            "        volumeMounts:\n          - {name: creds, mountPath: /etc/pip.conf, subPath: pip.conf, readOnly: true}\n",
            SECRET_VOLUME,
            "Never",
        )
    );
    apply(node, ns, tmp.path(), "subpath", &subpath);
    let env_pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: env\nspec:\n{}",
        pod_spec(
            &workload,
            &env_probe(),
            "",
            "      []\n",
            "Never",
        )
        .replace(
            "          - {name: HOME, value: /tmp}\n",
            "          - {name: HOME, value: /tmp}\n          - name: INDEX\n            valueFrom: {secretKeyRef: {name: repo-pypi, key: PIP_INDEX_URL}}\n",
        )
        .replace("    volumes:\n      []\n", "")
    );
    apply(node, ns, tmp.path(), "env", &env_pod);
    wait(
        node,
        ns,
        &["--for=condition=Available", "deployment/pip-loop"],
        "120s",
    );
    wait(
        node,
        ns,
        &["--for=condition=Ready", "pod/subpath", "pod/env"],
        "120s",
    );
    let loop_started = Instant::now();
    step(TEST, t0, "pip-loop, subpath and env Pods running");

    // Five rotations at one every ~30 s, plus one token life for the stale Pods to fail.
    let rotations_wanted = 5;
    let budget = TOKEN_LIFE * 9;
    // Counted as rotations the Pod saw after it started watching: a refresh
    // landing just before the Pod's first read is not one.
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let log = logs(node, ns, "deployment/pip-loop");
        let seen = rotation_delays(&versions, &log).len();
        if seen >= rotations_wanted {
            break;
        }
        assert!(
            loop_started.elapsed() < budget,
            "only {seen} rotations seen in the Pod after {budget:?}:\n{log}"
        );
    }
    step(TEST, t0, "five rotations seen in the Pod");
    // A pip run (about 10 s each on two busy cores) that ends after the last change.
    let log = loop {
        let log = logs(node, ns, "deployment/pip-loop");
        let last_change = lines_with(&log, "CHANGE ")
            .last()
            .map(|c| c[1].parse::<f64>().expect("time"));
        let last_run = lines_with(&log, "RUN ")
            .last()
            .map(|r| r[2].parse::<f64>().expect("time"));
        if last_run > last_change {
            break log;
        }
        assert!(
            loop_started.elapsed() < budget + Duration::from_secs(60),
            "no pip run after the last rotation:\n{log}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };

    let runs = lines_with(&log, "RUN ");
    let failed: Vec<_> = runs.iter().filter(|r| r[3] != "0").collect();
    // At least one run per rotation on average (they take ~10 s, every 3 s).
    assert!(runs.len() > rotations_wanted, "too few pip runs:\n{log}");
    assert!(
        failed.is_empty(),
        "pip runs failed across rotations: {failed:?}\n{log}"
    );

    // Propagation: the Secret's update (seen by a watch) to the file's change in the Pod.
    watch.abort();
    let mut delays = rotation_delays(&versions, &log);
    delays.sort_by(f64::total_cmp);
    assert!(
        delays.len() >= rotations_wanted,
        "too few rotations matched between the Secret ({versions:?}) and the Pod:\n{log}"
    );
    eprintln!(
        "node_e2e: {} pip runs, all succeeded across {} rotations; Secret update to file change in the Pod: min {:.1}s, median {:.1}s, max {:.1}s",
        runs.len(),
        delays.len(),
        delays[0],
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
    // The operator refreshes a quarter of the token's life (10 s) before expiry.
    assert!(
        delays[delays.len() - 1] < TOKEN_LIFE.as_secs_f64() / 4.0 + 5.0,
        "a rotation took too long to reach the Pod: {delays:?}"
    );

    // The stale Pods: their first token expired at least a token life ago.
    let sub = logs(node, ns, "pod/subpath");
    let env = logs(node, ns, "pod/env");
    for (name, out) in [("subPath", &sub), ("env", &env)] {
        assert!(
            out.lines().next().is_some_and(|l| l.starts_with("OK")),
            "{name} Pod worked at first:\n{out}"
        );
        assert!(
            out.lines().last().is_some_and(|l| l.starts_with("FAIL")),
            "{name} Pod fails after expiry:\n{out}"
        );
    }
    step(
        TEST,
        t0,
        "subPath and env Pods fail after expiry, as the README warns",
    );
    drop(system);
}
