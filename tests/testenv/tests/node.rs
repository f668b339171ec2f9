//! Life cycle of a node: it becomes Ready and runs a Pod (sandbox from the
//! locally built pause image, a Secret mounted as a volume), a second node on
//! the same machine is refused with the reason, and dropping it leaves no
//! process, mount, cgroup, bridge, nat rule or lock behind.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use testenv::Node;

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
fn node_runs_a_pod_is_exclusive_and_leaves_nothing_behind() -> Result<()> {
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
    let nat = Command::new("iptables")
        .args(["-t", "nat", "-S"])
        .output()?;
    ensure!(
        !String::from_utf8_lossy(&nat.stdout).contains("CAO-TESTENV-NODE"),
        "the Pod network's nat rules left behind"
    );
    let lock = Command::new("flock")
        .args(["-n", "/run/lock/codeartifact-operator-node.lock", "true"])
        .status()?;
    ensure!(lock.success(), "the node lock is still held");
    Ok(())
}
