//! Reliability: the operator is killed with SIGKILL 20 times at random
//! moments during a storm of creates, spec changes and deletes with mixed
//! deletion policies. After the last restart everything converges: no
//! finalizer is stuck, and Kubernetes and CodeArtifact hold exactly what the
//! sequence of operations implies.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use codeartifact_operator::crd::PypiRepository;
use common::reliability::{assert_no_leaks, is_ready};
use common::{Env, Options, setup};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

const KILLS: usize = 20;
/// Objects in the domain that stays (mixed policies; half are deleted).
const KEEP: usize = 16;
/// Objects in the domain that goes (all Delete; all are deleted).
const GONE: usize = 8;
const SPEC_CHANGES: usize = 30;
/// Operations made while the operator is down after the last kill.
const TAIL: usize = 6;

/// One step of the storm.
#[derive(Clone, Debug)]
enum Op {
    Create {
        name: String,
        domain: &'static str,
        policy: &'static str,
    },
    Patch {
        name: String,
        spec: serde_json::Value,
    },
    /// Delete once the object has been Ready (so its repository exists), or at once.
    Delete { name: String, when_ready: bool },
}

/// What must exist at the end.
#[derive(Default, Debug)]
struct Expected {
    /// Live objects and their final spec changes (description, tags).
    live: BTreeMap<String, (String, String)>,
    /// Deleted objects.
    deleted: BTreeSet<String>,
    /// Repositories left in CodeArtifact (domain, name).
    repositories: BTreeSet<(String, String)>,
}

/// The storm and what it must lead to, from `rng`.
fn plan(rng: &mut StdRng) -> (Vec<Op>, Expected) {
    let mut ops = Vec::new();
    let mut policy = BTreeMap::new();
    for i in 0..KEEP + GONE {
        let (domain, p) = if i < KEEP {
            (
                "crash-keep",
                if rng.random_bool(0.5) {
                    "Delete"
                } else {
                    "Retain"
                },
            )
        } else {
            ("crash-gone", "Delete")
        };
        policy.insert(format!("k{i}"), p);
        ops.push(Op::Create {
            name: format!("k{i}"),
            domain,
            policy: p,
        });
    }
    ops.shuffle(rng);
    // Three objects of the domain that goes are deleted right after they are created.
    for i in KEEP..KEEP + 3 {
        let at = ops
            .iter()
            .position(|o| matches!(o, Op::Create { name, .. } if *name == format!("k{i}")))
            .expect("created");
        ops.insert(
            at + 1,
            Op::Delete {
                name: format!("k{i}"),
                when_ready: false,
            },
        );
    }
    // About half of the other domain's objects and the rest of the doomed domain's go once Ready.
    let keep_doomed = (1..KEEP).filter(|_| rng.random_bool(0.5));
    let mut doomed: Vec<String> = keep_doomed
        .chain(KEEP + 3..KEEP + GONE)
        .map(|i| format!("k{i}"))
        .collect();
    doomed.shuffle(rng);
    let alive: Vec<String> = (0..KEEP)
        .map(|i| format!("k{i}"))
        .filter(|n| !doomed.contains(n))
        .collect();
    let mut changes = BTreeMap::new();
    let mut tail: Vec<Op> = Vec::new();
    for round in 0..SPEC_CHANGES {
        let name = if rng.random_bool(0.6) || doomed.is_empty() {
            alive[rng.random_range(0..alive.len())].clone()
        } else {
            doomed[rng.random_range(0..doomed.len())].clone()
        };
        let mut spec =
            json!({"description": format!("round {round}"), "tags": {"round": round.to_string()}});
        if name[1..].parse::<usize>().expect("index") < KEEP && rng.random_bool(0.3) {
            let flipped = if policy[&name] == "Delete" {
                "Retain"
            } else {
                "Delete"
            };
            policy.insert(name.clone(), flipped);
            spec["deletionPolicy"] = json!(flipped);
        }
        changes.insert(name.clone(), (format!("round {round}"), round.to_string()));
        tail.push(Op::Patch { name, spec });
    }
    // Deletes go to random places after every patch of their object.
    for name in &doomed {
        let last_patch = tail
            .iter()
            .rposition(|o| matches!(o, Op::Patch { name: n, .. } if n == name))
            .map_or(0, |p| p + 1);
        let at = rng.random_range(last_patch..=tail.len());
        tail.insert(
            at,
            Op::Delete {
                name: name.clone(),
                when_ready: true,
            },
        );
    }
    ops.extend(tail);
    let mut expected = Expected::default();
    for (name, p) in &policy {
        let domain = if name[1..].parse::<usize>().expect("index") < KEEP {
            "crash-keep"
        } else {
            "crash-gone"
        };
        if alive.contains(name) {
            let change = changes.get(name).cloned().unwrap_or_default();
            expected.live.insert(name.clone(), change);
            expected
                .repositories
                .insert((domain.to_string(), name.clone()));
        } else {
            expected.deleted.insert(name.clone());
            if *p == "Retain" {
                expected
                    .repositories
                    .insert((domain.to_string(), name.clone()));
            }
        }
    }
    (ops, expected)
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_during_a_storm_leave_exactly_the_expected_state() {
    let mut env = setup("crash", Options::default()).await;
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let (mut ops, expected) = plan(&mut StdRng::seed_from_u64(seed));
    let counts = count_ops(&ops);
    eprintln!("crash seed {seed} (rerun with CRASH_SEED={seed}): {ops:?}");
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
    let (converged, collected) = converge(&env, &expected).await;
    check_codeartifact(&env, &expected);
    let tokens = assert_no_leaks(
        &env.client,
        &env.emulator,
        &[env.ns.name()],
        &[&env.operator],
    )
    .await;
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

fn count_ops(ops: &[Op]) -> (usize, usize, usize) {
    let c = ops
        .iter()
        .filter(|o| matches!(o, Op::Create { .. }))
        .count();
    let p = ops.iter().filter(|o| matches!(o, Op::Patch { .. })).count();
    (c, p, ops.len() - c - p)
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
    if ok.is_err() {
        let objects = api
            .list(&Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let state: Vec<String> = objects
            .iter()
            .map(|o| {
                format!(
                    "{} finalizers={:?} deleting={} ready={}",
                    o.metadata.name.as_deref().unwrap_or(""),
                    o.metadata.finalizers,
                    o.metadata.deletion_timestamp.is_some(),
                    is_ready(o)
                )
            })
            .collect();
        let logs = env.operator.logs();
        let tail: Vec<&str> = logs.lines().rev().take(40).collect();
        panic!(
            "no convergence: want live {live:?}\nhave:\n{}\noperator log tail:\n{}",
            state.join("\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
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
    // Spec changes made it to CodeArtifact.
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
    (objects_done, started.elapsed().as_secs_f64())
}

/// CodeArtifact holds the live and retained repositories and nothing else;
/// the domain whose objects were all deleted with Delete is gone.
fn check_codeartifact(env: &Env, expected: &Expected) {
    let found: BTreeSet<(String, String)> = env
        .emulator
        .repositories()
        .into_iter()
        .map(|r| (r.domain, r.name))
        .collect();
    assert_eq!(found, expected.repositories, "CodeArtifact repositories");
    let domains: Vec<String> = env.emulator.domains().into_iter().map(|d| d.name).collect();
    assert_eq!(
        domains,
        ["crash-keep"],
        "the emptied domain the operator created is deleted, the other stays"
    );
}
