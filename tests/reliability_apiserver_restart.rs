//! Reliability: kube-apiserver is restarted under a running operator (etcd
//! keeps the data; every watch and connection drops). The same operator
//! process reconnects by itself and reconciles changes made afterwards
//! within seconds.

mod common;

use std::time::{Duration, Instant};

use common::reliability::{is_ready, setup_on};
use common::{Env, Options};
use serde_json::json;
use testenv::ControlPlane;

fn repo(name: &str, policy: &str) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: restart\n  deletionPolicy: {policy}\n"
    )
}

/// Seconds from `since` until, respectively, "changed" is Ready for its new
/// generation, "created" is Ready and "removed" is gone; polled together.
async fn recovery_times(env: &Env, since: Instant) -> [f64; 3] {
    let api = env.repos();
    let mut done: [Option<f64>; 3] = [None; 3];
    while done.iter().any(Option::is_none) {
        assert!(
            since.elapsed() < Duration::from_secs(120),
            "no recovery: {done:?}\n{}",
            env.operator.logs()
        );
        let checks = [
            api.get_opt("changed")
                .await
                .ok()
                .flatten()
                .is_some_and(|o| is_ready(&o)),
            api.get_opt("created")
                .await
                .ok()
                .flatten()
                .is_some_and(|o| is_ready(&o)),
            matches!(api.get_opt("removed").await, Ok(None)),
        ];
        for (slot, ok) in done.iter_mut().zip(checks) {
            if ok && slot.is_none() {
                *slot = Some(since.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done.map(Option::unwrap_or_default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_operator_process_recovers_from_a_kube_apiserver_restart() {
    // A private control plane, since this test takes its apiserver down. It is
    // leaked because Env holds a &'static; up.sh's watchdog stops it when the
    // test process exits.
    let cp: &'static ControlPlane = Box::leak(Box::new(
        ControlPlane::start().expect("a private control plane"),
    ));
    let (mut env, _) = setup_on(cp, "apiserver", Options::default(), 0).await;
    for (name, policy) in [
        ("steady", "Retain"),
        ("changed", "Retain"),
        ("removed", "Delete"),
    ] {
        env.create(&repo(name, policy)).await;
    }
    for name in ["steady", "changed", "removed"] {
        env.wait_ready(name).await;
    }
    let pid = env.operator.pid().expect("operator running");

    let down = Instant::now();
    cp.restart_apiserver()
        .await
        .expect("restart kube-apiserver");
    let outage = down.elapsed().as_secs_f64();

    // Changes made as soon as the apiserver answers again.
    let back = Instant::now();
    env.patch_spec("changed", json!({"description": "after the restart"}))
        .await;
    env.create(&repo("created", "Retain")).await;
    env.delete("removed").await;
    let [changed, created, removed] = recovery_times(&env, back).await;
    let recovery = changed.max(created).max(removed);

    assert!(
        env.operator.is_running(),
        "the operator process did not exit:\n{}",
        env.operator.logs()
    );
    assert_eq!(env.operator.pid(), Some(pid), "still the same process");
    let repos = env.emulator.repositories();
    let description = repos
        .iter()
        .find(|r| r.name == "changed")
        .and_then(|r| r.description.clone());
    assert_eq!(description.as_deref(), Some("after the restart"));
    assert!(
        repos.iter().any(|r| r.name == "created") && !repos.iter().any(|r| r.name == "removed"),
        "{repos:?}"
    );
    assert!(
        is_ready(&env.repos().get("steady").await.expect("steady")),
        "untouched objects stay Ready"
    );
    // NB: a generous bound for two busy cores; the figure itself is the point.
    assert!(recovery < 60.0, "recovered after {recovery:.1} s");
    let tokens = env.assert_no_token_leaks().await;
    println!(
        "SUMMARY apiserver restart: kube-apiserver restarted in {outage:.1} s; the same operator process (PID {pid}, never restarted) reconciled a spec change in {changed:.1} s, a new object in {created:.1} s and a deletion in {removed:.1} s after the apiserver was back; 0 of {tokens} tokens leaked"
    );
}
