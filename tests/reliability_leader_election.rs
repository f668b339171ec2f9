//! Reliability: two replicas with --leader-elect. Exactly one reconciles;
//! when the leader is SIGKILLed (so it cannot release the Lease), the other
//! takes over within the lease duration and reuses the tokens already in the
//! Secrets instead of minting new ones.

mod common;

use std::time::{Duration, Instant};

use common::reliability::{assert_no_leaks, is_ready};
use common::{Env, Operator, Options, setup};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;

/// Short, to keep the test quick; the chart's default is 15 s.
const LEASE_SECONDS: u64 = 10;
const RECONCILES: &str = "codeartifact_operator_reconciles_total";

fn repo(name: &str, domain: &str) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: {domain}\n"
    )
}

/// The flags of one replica.
fn replica_args(lease: &str, instance: &str) -> Vec<String> {
    let mut args = Options::default().operator_args;
    args.extend([
        "--leader-elect".to_string(),
        format!("--lease-name={lease}"),
        "--lease-namespace=default".to_string(),
        format!("--lease-duration-seconds={LEASE_SECONDS}"),
        format!("--instance={instance}"),
    ]);
    args
}

/// Waits until `op` has logged `line`; returns the seconds that took.
async fn logged(op: &Operator, line: &str, timeout: Duration) -> f64 {
    let started = Instant::now();
    let found = testenv::wait_for(timeout, || async { op.logs().contains(line) }).await;
    found.unwrap_or_else(|_| panic!("no {line:?} in {timeout:?}:\n{}", op.logs()));
    started.elapsed().as_secs_f64()
}

async fn holder(env: &Env, lease: &str) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(env.client.clone(), "default");
    api.get(lease).await.ok()?.spec?.holder_identity
}

const NAMES: [&str; 6] = ["a1", "a2", "a3", "b1", "b2", "b3"];

/// Six objects on two domains, reconciled by the leader only; returns the
/// leader's reconcile count.
async fn only_the_leader_reconciles(env: &Env, follower: &Operator, lease: &str) -> f64 {
    for n in NAMES {
        let domain = if n.starts_with('a') {
            "leader-a"
        } else {
            "leader-b"
        };
        env.create(&repo(n, domain)).await;
    }
    for n in NAMES {
        env.wait_ready(n).await;
    }
    let leader_reconciles = env.operator.metric(RECONCILES).await;
    assert!(leader_reconciles > 0.0, "the leader reconciles");
    let follower_reconciles = follower.metric(RECONCILES).await;
    assert_eq!(
        follower_reconciles,
        0.0,
        "the follower does not reconcile:\n{}",
        follower.logs()
    );
    assert_eq!(holder(env, lease).await.as_deref(), Some("replica-a"));
    assert_eq!(
        env.emulator.call_count("GetAuthorizationToken"),
        2,
        "one token per domain"
    );
    leader_reconciles
}

/// SIGKILLs the leader (so the Lease is not released and must expire) and
/// returns how long until the follower led, and until it reconciled a new object.
async fn kill_the_leader(env: &mut Env, follower: &Operator, lease: &str) -> (f64, f64) {
    env.operator.kill();
    let killed = Instant::now();
    let handover = logged(
        follower,
        "became leader",
        Duration::from_secs(LEASE_SECONDS * 4),
    )
    .await;
    assert_eq!(holder(env, lease).await.as_deref(), Some("replica-b"));
    env.create(&repo("a4", "leader-a")).await;
    env.wait_ready("a4").await;
    let first_change = killed.elapsed().as_secs_f64();
    for n in NAMES {
        assert!(
            is_ready(&env.repos().get(n).await.expect("object")),
            "{n} stays Ready"
        );
    }
    assert!(
        follower.metric(RECONCILES).await > 0.0,
        "the new leader reconciles"
    );
    (handover, first_change)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_replicas_reconciles_and_the_other_takes_over_within_the_lease() {
    let lease = format!("reliability-{:08x}", rand::random::<u32>());
    let opts = Options {
        operator_args: replica_args(&lease, "replica-a"),
        ..Options::default()
    };
    let mut env = setup("leader", opts).await;
    logged(&env.operator, "became leader", Duration::from_secs(60)).await;
    let follower = env.another_operator(env.ns.name(), &replica_args(&lease, "replica-b"));
    logged(
        &follower,
        "waiting to become leader",
        Duration::from_secs(60),
    )
    .await;
    let leader_reconciles = only_the_leader_reconciles(&env, &follower, &lease).await;

    let (handover, first_change) = kill_the_leader(&mut env, &follower, &lease).await;
    let minted = env.emulator.call_count("GetAuthorizationToken");
    // Two domains before the kill; after it, each object reuses its own
    // Secret's token, and only the new object a4 gets a minted one (a token
    // read back from a Secret never serves another object).
    assert_eq!(
        minted, 3,
        "the new leader reuses each Secret's own token and mints only for a4"
    );
    assert!(
        handover <= (LEASE_SECONDS + 3) as f64,
        "handover took {handover:.1} s for a {LEASE_SECONDS} s lease"
    );

    // The old leader comes back as a follower.
    env.operator.start_again();
    logged(
        &env.operator,
        "waiting to become leader",
        Duration::from_secs(60),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.operator.metric(RECONCILES).await,
        0.0,
        "the restarted replica follows"
    );

    let tokens = assert_no_leaks(
        &env.client,
        &env.emulator,
        &[env.ns.name()],
        &[&env.operator, &follower],
    )
    .await;
    println!(
        "SUMMARY leader election: 2 replicas, leader reconciled {leader_reconciles} times and the follower 0; after SIGKILL of the leader the other led {handover:.1} s later (lease {LEASE_SECONDS} s) and reconciled a new object {first_change:.1} s after the kill; GetAuthorizationToken calls: {minted} (one per domain, plus one for the object created after the handover); the restarted replica follows (0 reconciles); 0 of {tokens} tokens leaked"
    );
}
