//! Life cycle of a node: it becomes Ready and runs a Pod (sandbox from the
//! locally built pause image, a Secret mounted as a volume), kube-proxy routes
//! Services (a ClusterIP Service to a Pod, and the `kubernetes` Service to
//! kube-apiserver), a second node on the same machine is refused with the
//! reason, and dropping it leaves no process, mount, cgroup, bridge, iptables
//! rule or lock behind.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use testenv::{Image, Node};

fn kubectl(node: &Node, args: &[&str]) -> Result<String> {
    let out = node.kubectl(args).output()?;
    ensure!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

const POD: &str = r#"{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "sleeper", "namespace": "default"},
 "spec": {"hostNetwork": true, "terminationGracePeriodSeconds": 0,
  "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10", "imagePullPolicy": "Never",
                  "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
  "volumes": [{"name": "s", "secret": {"secretName": "sleeper"}}]}}"#;

#[test]
fn node_runs_a_pod_is_exclusive_and_leaves_nothing_behind_as_root() -> Result<()> {
    let started = Instant::now();
    let node = Node::start()?;
    eprintln!(
        "node ready {:.1}s after start",
        started.elapsed().as_secs_f64()
    );
    let dir = node.dir().to_path_buf();

    let refused = Node::start().expect_err("a second node on this machine must be refused");
    let reason = format!("{refused:#}");
    ensure!(
        reason.contains("another test node runs on this machine"),
        "unexpected failure of the second node: {reason}"
    );

    kubectl(
        &node,
        &[
            "create",
            "secret",
            "generic",
            "sleeper",
            "--from-literal=k=v",
        ],
    )?;
    let file = dir.join("sleeper.json");
    std::fs::write(&file, POD)?;
    kubectl(&node, &["apply", "-f", file.to_str().context("path")?])?;
    let t0 = Instant::now();
    kubectl(
        &node,
        &[
            "wait",
            "--for=condition=Ready",
            "pod/sleeper",
            "--timeout=120s",
        ],
    )?;
    eprintln!("Pod Ready {:.1}s after apply", t0.elapsed().as_secs_f64());
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")?;
    ensure!(
        mounted.contains(&format!("{}/node/kubelet/pods/", dir.display())),
        "the Secret volume is mounted under the node's folder"
    );

    services_are_routed(&node)?;

    drop(node);
    ensure!(!dir.exists(), "{} was not removed", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    ensure!(
        !mounts.contains(&dir.display().to_string()),
        "mounts left under {}",
        dir.display()
    );
    for h in ["memory", "cpu", "pids"] {
        let cg = Path::new("/sys/fs/cgroup")
            .join(h)
            .join("codeartifact-node");
        ensure!(!cg.exists(), "cgroup {} left behind", cg.display());
    }
    ensure!(
        !Path::new("/sys/class/net/cao-cni0").exists(),
        "CNI bridge left behind"
    );
    for save in ["iptables-save", "ip6tables-save"] {
        let rules = Command::new(save).output()?;
        let rules = String::from_utf8_lossy(&rules.stdout);
        ensure!(
            !rules.contains("CAO-TESTENV-NODE"),
            "the Pod network's rules left behind ({save})"
        );
        ensure!(
            !rules.contains("KUBE-"),
            "the kubelet's or kube-proxy's rules left behind ({save}):\n{rules}"
        );
    }
    let lock = Command::new("flock")
        .args(["-n", "/run/lock/codeartifact-operator-node.lock", "true"])
        .status()?;
    ensure!(lock.success(), "the node lock is still held");
    Ok(())
}

/// A Pod on the Pod network serving HTTP behind a ClusterIP Service, reached
/// from the host through the Service's address; and kube-apiserver through the
/// `kubernetes` Service's 10.0.0.1:443. Both exist only as kube-proxy's rules.
fn services_are_routed(node: &Node) -> Result<()> {
    let image = node.image(Image::Workload)?;
    let web = serde_json::json!({
        "apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
         "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
             "name": "web", "image": image, "imagePullPolicy": "Never",
             "command": ["sh", "-c", "mkdir -p /srv && echo served-by-the-pod > /srv/hello && cd /srv && exec python3 -m http.server 8080"],
             "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "web", "namespace": "default"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}]});
    let file = node.dir().join("web.json");
    std::fs::write(&file, web.to_string())?;
    kubectl(node, &["apply", "-f", file.to_str().context("path")?])?;
    kubectl(
        node,
        &["wait", "--for=condition=Ready", "pod/web", "--timeout=120s"],
    )?;
    let ip = kubectl(
        node,
        &["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"],
    )?;
    let t0 = Instant::now();
    let body = loop {
        let out = Command::new("curl")
            .args(["-fsS", "--max-time", "2", &format!("http://{ip}/hello")])
            .output()?;
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        // kube-proxy syncs its rules shortly after the endpoints become ready.
        ensure!(
            t0.elapsed().as_secs() < 30,
            "Service {ip}:80 not routed to the Pod: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    ensure!(
        body.trim() == "served-by-the-pod",
        "unexpected answer: {body}"
    );
    eprintln!(
        "Service routed {:.1}s after the Pod was Ready",
        t0.elapsed().as_secs_f64()
    );

    let ca = node.dir().join("ca.crt");
    let out = Command::new("curl")
        .args([
            "-fsS",
            "--max-time",
            "5",
            "--cacert",
            ca.to_str().context("path")?,
        ])
        .arg("https://10.0.0.1/livez")
        .output()?;
    ensure!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "the `kubernetes` Service did not reach kube-apiserver: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
