//! Leader election on a real node: the chart with two replicas and
//! `leaderElection.enabled`, on the Pod network (each replica has its own
//! network namespace, so both serve the metrics port; with hostNetwork the
//! scheduler would not place the second). Both replicas are Ready, one holds
//! the Lease and reconciles; `kubectl delete pod` of the leader hands the
//! Lease on within the lease duration (to the standby, or to the Pod the
//! Deployment starts at once in the deleted one's place: whichever asks
//! first), the new leader reconciles a new PypiRepository, and the
//! Deployment is back to two Ready replicas, one leading and one waiting.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::node::{
    Network, apply, assert_on_pod_network, domain, install_operator, kubectl, repository,
    start_emulator, step, wait,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use testenv::{Node, TempNamespace};

const TEST: &str = "node_e2e leader election";
/// Short, to keep the test quick; the chart's default is 15 s.
const LEASE_SECONDS: u64 = 10;
/// The Helm release; the Lease is named after its full name.
const RELEASE: &str = "cao-ha";
const LEASE: &str = "cao-ha-codeartifact-operator";
const DOMAIN: &str = "hadom";

/// The operator's Pods that are Ready and not being deleted, by name.
async fn ready_pods(pods: &Api<Pod>) -> Vec<String> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={RELEASE}")))
        .await
        .expect("list the operator's Pods");
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases.get(LEASE).await.ok()?.spec?.holder_identity
}

/// Calls `check` every 200 ms until it returns a value, for at most `timeout`.
async fn poll<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn logs(node: &Node, ns: &str, pod: &str) -> String {
    kubectl(node, &["logs", "-n", ns, pod, "--tail=-1"])
}

/// One replica leads (its Pod name holds the Lease), the other waits.
async fn leader_and_standby(
    node: &Node,
    ns: &str,
    leases: &Api<Lease>,
    replicas: &[String],
) -> (String, String) {
    let leader = poll(Duration::from_secs(LEASE_SECONDS * 3), || async {
        holder(leases).await.filter(|h| replicas.contains(h))
    })
    .await
    .unwrap_or_else(|| panic!("no replica of {replicas:?} holds the Lease"));
    let standby = replicas
        .iter()
        .find(|p| **p != leader)
        .expect("standby")
        .clone();
    let log = logs(node, ns, &standby);
    assert!(
        log.contains("waiting to become leader") && !log.contains("became leader"),
        "{standby} waits for the Lease:\n{log}"
    );
    (leader, standby)
}

/// Deletes the leader Pod (following its log to its end) and waits until
/// another replica holds the Lease; returns it and the seconds that took.
/// Whichever replica asks first takes over: the standby, or the Pod the
/// Deployment starts at once in place of the deleted one.
async fn delete_the_leader(
    node: &Node,
    sys: &str,
    leases: &Api<Lease>,
    leader: &str,
    dir: &Path,
) -> (String, f64) {
    let leader_log = dir.join("leader.log");
    let mut follow = node
        .kubectl(["logs", "-f", "-n", sys, leader])
        .stdout(std::fs::File::create(&leader_log).expect("log file"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubectl logs -f");
    kubectl(node, &["delete", "pod", leader, "-n", sys, "--wait=false"]);
    let deleted = Instant::now();
    let new_leader = poll(Duration::from_secs(LEASE_SECONDS * 4), || async {
        holder(leases).await.filter(|h| h != leader)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "nobody took the Lease from {leader}:\n{}\nThe deleted leader's log:\n{}",
            kubectl(node, &["get", "pods,lease", "-n", sys, "-o", "wide"]),
            std::fs::read_to_string(&leader_log).unwrap_or_default(),
        )
    });
    let handover = deleted.elapsed().as_secs_f64();
    let _ = follow.kill();
    let _ = follow.wait();
    let log = std::fs::read_to_string(&leader_log).unwrap_or_default();
    assert!(
        log.contains("graceful shutdown requested"),
        "the deleted leader got SIGTERM and shut down:\n{log}"
    );
    (new_leader, handover)
}

/// Waits until the Deployment has replaced the deleted `leader` (two Ready
/// replicas, `new_leader` still leading); returns the replacement and the
/// replica that waits for the Lease.
async fn back_to_two(
    node: &Node,
    sys: &str,
    pods: &Api<Pod>,
    leases: &Api<Lease>,
    [leader, standby, new_leader]: [&String; 3],
) -> (String, String) {
    let now_ready = poll(Duration::from_secs(120), || async {
        let ready = ready_pods(pods).await;
        (ready.len() == 2 && !ready.contains(leader)).then_some(ready)
    })
    .await
    .unwrap_or_else(|| panic!("the Deployment did not replace {leader}"));
    let (still, waiting) = leader_and_standby(node, sys, leases, &now_ready).await;
    assert_eq!(&still, new_leader, "the Lease stays with the new leader");
    let replacement = if new_leader == standby {
        waiting.clone()
    } else {
        still
    };
    assert!(
        replacement != *standby && replacement != *leader,
        "a new Pod: {now_ready:?}"
    );
    (replacement, waiting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_leader_hands_over_within_the_lease_and_is_replaced_as_root() {
    let _serial = super::SERIAL.lock().await;
    let t0 = Instant::now();
    let node = Node::shared();
    step(TEST, t0, "node ready");
    crate::common::reliability::install_crd_on(node.control_plane());
    let tmp = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(tmp.path(), 1.0).await;
    let system = TempNamespace::create(node.control_plane(), "cao-ha")
        .await
        .expect("ns");
    let team = TempNamespace::create(node.control_plane(), "team-ha")
        .await
        .expect("ns");
    let (sys, ns) = (system.name(), team.name());

    // 1. Two replicas, both Ready (the standby too), each on the Pod network.
    let lease_flag = format!("leaderElection.leaseDurationSeconds={LEASE_SECONDS}");
    let helm = [
        "--set",
        "replicaCount=2",
        "--set",
        "leaderElection.enabled=true",
        "--set",
        &lease_flag,
    ];
    install_operator(node, RELEASE, sys, ns, &emulator, Network::Pod, &helm);
    step(TEST, t0, "Deployment of two replicas available");
    let client = node.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), sys);
    let leases: Api<Lease> = Api::namespaced(client, sys);
    let replicas = ready_pods(&pods).await;
    assert_eq!(replicas.len(), 2, "two Ready replicas: {replicas:?}");
    for pod in &replicas {
        assert_on_pod_network(node, sys, pod);
    }
    let (leader, standby) = leader_and_standby(node, sys, &leases, &replicas).await;

    // 2. The leader reconciles.
    apply(
        node,
        ns,
        tmp.path(),
        "domain",
        &domain(DOMAIN, ns, &["before", "after"]),
    );
    apply(
        node,
        ns,
        tmp.path(),
        "before",
        &repository("before", DOMAIN),
    );
    wait(
        node,
        ns,
        &["--for=condition=Ready", "pypirepository/before"],
        "120s",
    );
    step(
        TEST,
        t0,
        &format!("{leader} leads and reconciled; {standby} waits"),
    );

    // 3. Delete the leader Pod the ordinary way (SIGTERM, grace period).
    let deleted = Instant::now();
    let (new_leader, handover) = delete_the_leader(node, sys, &leases, &leader, tmp.path()).await;
    step(
        TEST,
        t0,
        &format!("{new_leader} holds the Lease {handover:.1} s after the delete"),
    );
    assert!(
        handover <= (LEASE_SECONDS + 3) as f64,
        "handover took {handover:.1} s for a {LEASE_SECONDS} s lease"
    );

    // 4. The new leader reconciles a new object.
    apply(node, ns, tmp.path(), "after", &repository("after", DOMAIN));
    wait(
        node,
        ns,
        &["--for=condition=Ready", "pypirepository/after"],
        "120s",
    );
    let first_change = deleted.elapsed().as_secs_f64();
    step(TEST, t0, "the new leader reconciled a new PypiRepository");

    // 5. The Deployment replaced the deleted Pod: two Ready replicas again,
    //    the new leader and one waiting for the Lease.
    let (replacement, waiting) =
        back_to_two(node, sys, &pods, &leases, [&leader, &standby, &new_leader]).await;
    let replaced = deleted.elapsed().as_secs_f64();
    step(
        TEST,
        t0,
        &format!("{replacement} replaced {leader}; {new_leader} leads, {waiting} waits"),
    );
    eprintln!(
        "SUMMARY leader election on the node: 2 Ready replicas on the Pod network; after `kubectl delete pod` of the leader, {} held the Lease {handover:.1} s later (lease {LEASE_SECONDS} s) and reconciled a new object {first_change:.1} s after the delete; two Ready replicas again (the replacement included) {replaced:.1} s after it",
        if new_leader == standby {
            "the standby"
        } else {
            "the replacement Pod"
        }
    );
    drop(system);
}
