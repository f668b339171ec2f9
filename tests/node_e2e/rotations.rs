//! Token rotations reach a Pod that mounts the Secret as a directory, while
//! pip keeps installing through it; a `subPath` mount and an env variable
//! keep the first token and fail once it expires, as the README warns.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::runtime::watcher;
use testenv::Node;

use crate::common::node::{apply, step, wait};
use crate::{SECRET_VOLUME, TEST, TOKEN_LIFE, logs, now, pod_spec};

/// Rotations the Pod must see after its first read.
const ROTATIONS_WANTED: usize = 5;

/// The three Pods, then five rotations at one every ~30 s, plus one token
/// life for the stale Pods to fail.
pub async fn mounted_secret_follows_rotations(
    node: &Node,
    ns: &str,
    dir: &Path,
    workload: &str,
    t0: Instant,
) {
    let secrets: Api<Secret> = Api::namespaced(node.client().await, ns);
    let (versions, watch) = record_secret_changes(secrets);
    start_pods(node, ns, dir, workload);
    let loop_started = Instant::now();
    step(TEST, t0, "pip-loop, subpath and env Pods running");
    let log = wait_for_rotations(node, ns, &versions, loop_started).await;
    step(TEST, t0, "five rotations seen in the Pod");
    watch.abort();
    assert_pip_ran_through_every_rotation(&log);
    assert_rotations_reached_the_pod(&versions, &log);
    assert_stale_pods_failed(node, ns);
    step(
        TEST,
        t0,
        "subPath and env Pods fail after expiry, as the README warns",
    );
}

/// The pip-loop Deployment (directory mount), the subPath Pod and the env Pod, running.
fn start_pods(node: &Node, ns: &str, dir: &Path, workload: &str) {
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: pip-loop\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: pip-loop}}}}\n  template:\n    metadata: {{labels: {{app: pip-loop}}}}\n    spec:\n{}",
        pod_spec(
            workload,
            PIP_LOOP,
            "        volumeMounts:\n          - {name: creds, mountPath: /creds, readOnly: true}\n",
            SECRET_VOLUME,
            "Always",
        )
        .replace("\n    ", "\n        ")
        .replacen("    hostNetwork", "        hostNetwork", 1)
    );
    apply(node, ns, dir, "pip-loop", &deployment);
    let subpath = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: subpath\nspec:\n{}",
        pod_spec(
            workload,
            &pip_probe("/etc/pip.conf"),
            "        volumeMounts:\n          - {name: creds, mountPath: /etc/pip.conf, subPath: pip.conf, readOnly: true}\n",
            SECRET_VOLUME,
            "Never",
        )
    );
    apply(node, ns, dir, "subpath", &subpath);
    let env_pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: env\nspec:\n{}",
        pod_spec(
            workload,
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
    apply(node, ns, dir, "env", &env_pod);
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
}

/// Waits until the Pod has seen five rotations and a pip run has ended
/// after the last one; returns the pip-loop's log.
async fn wait_for_rotations(
    node: &Node,
    ns: &str,
    versions: &Versions,
    loop_started: Instant,
) -> String {
    let budget = TOKEN_LIFE * 9;
    // Counted as rotations the Pod saw after it started watching: a refresh
    // landing just before the Pod's first read is not one.
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let log = logs(node, ns, "deployment/pip-loop");
        let seen = rotation_delays(versions, &log).len();
        if seen >= ROTATIONS_WANTED {
            break;
        }
        assert!(
            loop_started.elapsed() < budget,
            "only {seen} rotations seen in the Pod after {budget:?}:\n{log}"
        );
    }
    // A pip run (about 10 s each on two busy cores) that ends after the last change.
    loop {
        let log = logs(node, ns, "deployment/pip-loop");
        let last_change = lines_with(&log, "CHANGE ")
            .last()
            .map(|c| c[1].parse::<f64>().expect("time"));
        let last_run = lines_with(&log, "RUN ")
            .last()
            .map(|r| r[2].parse::<f64>().expect("time"));
        if last_run > last_change {
            return log;
        }
        assert!(
            loop_started.elapsed() < budget + Duration::from_secs(60),
            "no pip run after the last rotation:\n{log}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Every pip run succeeded, at least one per rotation on average (they
/// take ~10 s, every 3 s).
fn assert_pip_ran_through_every_rotation(log: &str) {
    let runs = lines_with(log, "RUN ");
    let failed: Vec<_> = runs.iter().filter(|r| r[3] != "0").collect();
    assert!(runs.len() > ROTATIONS_WANTED, "too few pip runs:\n{log}");
    assert!(
        failed.is_empty(),
        "pip runs failed across rotations: {failed:?}\n{log}"
    );
}

/// Propagation: the Secret's update (seen by a watch) to the file's change
/// in the Pod, within the quarter of the token's life (10 s) the operator
/// refreshes ahead, plus 5 s.
fn assert_rotations_reached_the_pod(versions: &Versions, log: &str) {
    let mut delays = rotation_delays(versions, log);
    delays.sort_by(f64::total_cmp);
    assert!(
        delays.len() >= ROTATIONS_WANTED,
        "too few rotations matched between the Secret ({versions:?}) and the Pod:\n{log}"
    );
    eprintln!(
        "node_e2e: {} pip runs, all succeeded across {} rotations; Secret update to file change in the Pod: min {:.1}s, median {:.1}s, max {:.1}s",
        lines_with(log, "RUN ").len(),
        delays.len(),
        delays[0],
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
    assert!(
        delays[delays.len() - 1] < TOKEN_LIFE.as_secs_f64() / 4.0 + 5.0,
        "a rotation took too long to reach the Pod: {delays:?}"
    );
}

/// The stale Pods: their first token expired at least a token life ago.
fn assert_stale_pods_failed(node: &Node, ns: &str) {
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
}

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
