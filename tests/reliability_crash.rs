//! Reliability: the operator is killed with SIGKILL 20 times at random
//! moments during a storm of creates, spec changes and deletes with mixed
//! deletion policies. After the last restart everything converges: no
//! finalizer is stuck, and Kubernetes and CodeArtifact hold exactly what the
//! sequence of operations implies.

mod common;

const KILLS: usize = 20;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[path = "reliability_crash/plan.rs"]
mod plan;

use codeartifact_operator::crd::PypiRepository;
use common::reliability::is_ready;
use common::{Env, Options, setup};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use plan::{Expected, Op, TAIL, count_ops, plan};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn manifest(name: &str, domain: &str, policy: &str) -> PypiRepository {
    serde_json::from_value(json!({
        "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
        "metadata": {"name": name}, "spec": {"domain": {"name": domain}, "deletionPolicy": policy},
    }))
    .expect("manifest")
}

/// Runs the storm's operations one after another with short random pauses.
async fn storm(api: Api<PypiRepository>, ops: Vec<Op>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5707);
    for op in ops {
        run_op(&api, op, true).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
    }
}

/// One operation; a `when_ready` delete first waits for Ready if `wait`.
async fn run_op(api: &Api<PypiRepository>, op: Op, wait: bool) {
    match op {
        Op::Create {
            name,
            domain,
            policy,
        } => {
            api.create(&PostParams::default(), &manifest(&name, domain, policy))
                .await
                .expect("create");
        }
        Op::Patch { name, spec } => {
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await
            .expect("patch");
        }
        Op::Delete { name, when_ready } => {
            if when_ready && wait {
                wait_ready(api, &name).await;
            }
            api.delete(&name, &DeleteParams::default())
                .await
                .expect("delete");
        }
    }
}

async fn wait_ready(api: &Api<PypiRepository>, name: &str) {
    let ready = testenv::wait_for(Duration::from_secs(120), || async {
        api.get(name).await.is_ok_and(|o| is_ready(&o))
    })
    .await;
    ready.unwrap_or_else(|_| panic!("{name} never became Ready during the storm"));
}

/// SIGKILLs the operator and starts it again after a random pause.
async fn kill_and_restart(op: &mut common::Operator, rng: &mut StdRng) {
    op.kill();
    tokio::time::sleep(Duration::from_millis(rng.random_range(0..500))).await;
    op.start_again();
}

/// Runs the storm while SIGKILLing the operator `KILLS - 1` times; then kills
/// it once more, makes the last `TAIL` operations while it is down, and
/// starts it again. Returns the kill times and the storm's duration.
async fn storm_with_kills(env: &mut Env, mut ops: Vec<Op>, seed: u64) -> (Vec<f64>, f64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x4b11);
    let started = Instant::now();
    // The last TAIL operations happen while the operator is dead (after the
    // last kill), so the last restart has work left.
    let tail = ops.split_off(ops.len() - TAIL);
    let storm_task = tokio::spawn(storm(env.repos(), ops, seed));
    let mut kills = Vec::new();
    for _ in 1..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..2000))).await;
        kills.push(started.elapsed().as_secs_f64());
        kill_and_restart(&mut env.operator, &mut rng).await;
    }
    storm_task.await.expect("the storm ran to the end");
    let api = env.repos();
    for op in &tail {
        if let Op::Delete {
            name,
            when_ready: true,
        } = op
        {
            wait_ready(&api, name).await;
        }
    }
    kills.push(started.elapsed().as_secs_f64());
    env.operator.kill();
    for op in tail {
        run_op(&api, op, false).await;
    }
    let storm_secs = started.elapsed().as_secs_f64();
    env.operator.start_again();
    (kills, storm_secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_during_a_storm_leave_exactly_the_expected_state() {
    let mut env = setup("crash", Options::default()).await;
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let (ops, expected) = plan(&mut StdRng::seed_from_u64(seed));
    let counts = count_ops(&ops);
    eprintln!("crash seed {seed} (rerun with CRASH_SEED={seed}): {ops:?}");
    let (kills, storm_secs) = storm_with_kills(&mut env, ops, seed).await;
    let (converged, collected) = converge(&env, &expected).await;
    check_codeartifact(&env, &expected);
    let tokens = env.assert_no_token_leaks().await;
    println!(
        "SUMMARY crash: {} SIGKILLs (at {:.1}..{:.1} s) during {storm_secs:.0} s of {} creates, {} spec changes, {} deletes (the last {TAIL} while it was down; seed {seed}); converged {converged:.1} s after the last restart ({} objects Ready, {} gone, 0 finalizers stuck), deleted objects' Secrets garbage-collected after {collected:.1} s; CodeArtifact: {} repositories ({} retained after delete), domain crash-gone removed; 0 of {tokens} tokens leaked",
        kills.len(),
        kills.first().copied().unwrap_or_default(),
        kills.last().copied().unwrap_or_default(),
        counts.0,
        counts.1,
        counts.2,
        expected.live.len(),
        expected.deleted.len(),
        expected.repositories.len(),
        expected.repositories.len() - expected.live.len(),
    );
}

/// Every object's finalizers, deletion and readiness, and the operator's log tail.
async fn state(env: &Env) -> String {
    let objects = env
        .repos()
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut out: Vec<String> = objects
        .iter()
        .map(|o| {
            let name = o.metadata.name.as_deref().unwrap_or("");
            let deleting = o.metadata.deletion_timestamp.is_some();
            format!(
                "{name} finalizers={:?} deleting={deleting} ready={}",
                o.metadata.finalizers,
                is_ready(o)
            )
        })
        .collect();
    let logs = env.operator.logs();
    out.push("operator log tail:".into());
    out.extend(
        logs.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(String::from),
    );
    out.join("\n")
}

/// Waits until Kubernetes holds exactly the live objects, all Ready for
/// their latest generation, and then until the Secrets are exactly theirs
/// (the deleted objects' Secrets go by garbage collection, which is
/// kube-controller-manager's work, not the operator's). Returns the seconds
/// each took.
async fn converge(env: &Env, expected: &Expected) -> (f64, f64) {
    let started = Instant::now();
    let api = env.repos();
    let live: BTreeSet<String> = expected.live.keys().cloned().collect();
    let ok = testenv::wait_for(Duration::from_secs(180), || async {
        let Ok(objects) = api.list(&Default::default()).await else {
            return false;
        };
        let names: BTreeSet<String> = objects
            .items
            .iter()
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        names == live && objects.items.iter().all(is_ready)
    })
    .await;
    assert!(
        ok.is_ok(),
        "no convergence: want live {live:?}\n{}",
        state(env).await
    );
    let objects_done = started.elapsed().as_secs_f64();
    let secrets = env.secrets();
    let want: BTreeSet<String> = live.iter().map(|n| format!("{n}-pypi")).collect();
    let names = || async {
        let list = secrets
            .list(&Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        list.into_iter()
            .filter_map(|s| s.metadata.name)
            .filter(|n| n.ends_with("-pypi"))
            .collect::<BTreeSet<String>>()
    };
    let gc = testenv::wait_for(Duration::from_secs(120), || async { names().await == want }).await;
    assert!(
        gc.is_ok(),
        "Secrets: want {want:?}, have {:?}",
        names().await
    );
    (objects_done, started.elapsed().as_secs_f64())
}

/// CodeArtifact holds the live and retained repositories and nothing else;
/// the domain whose objects were all deleted with Delete is gone.
fn check_codeartifact(env: &Env, expected: &Expected) {
    // The last spec change of each live object made it to CodeArtifact.
    for (name, (description, round)) in &expected.live {
        if description.is_empty() {
            continue;
        }
        let repo = env
            .emulator
            .repositories()
            .into_iter()
            .find(|r| &r.name == name)
            .expect("repository");
        assert_eq!(
            repo.description.as_deref(),
            Some(description.as_str()),
            "{name}"
        );
        assert_eq!(repo.tags.get("round"), Some(round), "{name}");
    }

    let found = env.emulator_repositories();
    assert_eq!(found, expected.repositories, "CodeArtifact repositories");
    let domains: Vec<String> = env.emulator.domains().into_iter().map(|d| d.name).collect();
    assert_eq!(
        domains,
        ["crash-keep"],
        "the emptied domain the operator created is deleted, the other stays"
    );
}
