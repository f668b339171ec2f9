//! The crash test's plan: a seeded storm of creates, spec changes and
//! deletes, and the state in Kubernetes and CodeArtifact it must lead to.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

/// Objects in the domain that stays (mixed policies; half are deleted).
const KEEP: usize = 16;
/// Objects in the domain that goes (all Delete; all are deleted).
const GONE: usize = 8;
pub const SPEC_CHANGES: usize = 30;
/// Operations made while the operator is down after the last kill.
pub const TAIL: usize = 6;

/// One step of the storm.
#[derive(Clone, Debug)]
pub enum Op {
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
pub struct Expected {
    /// Live objects and their final spec changes (description, tags).
    pub live: BTreeMap<String, (String, String)>,
    /// Deleted objects.
    pub deleted: BTreeSet<String>,
    /// Repositories left in CodeArtifact (domain, name).
    pub repositories: BTreeSet<(String, String)>,
}

/// The storm and what it must lead to, from `rng`.
pub fn plan(rng: &mut StdRng) -> (Vec<Op>, Expected) {
    let mut policy = BTreeMap::new();
    let mut ops = creates(rng, &mut policy);
    // About half of the first domain's objects, and the rest of the second's, go once Ready.
    let keep_doomed = (1..KEEP).filter(|_| rng.random_bool(0.5));
    let mut doomed: Vec<String> = keep_doomed.chain(KEEP + 3..KEEP + GONE).map(name).collect();
    doomed.shuffle(rng);
    let alive: Vec<String> = (0..KEEP)
        .map(name)
        .filter(|n| !doomed.contains(n))
        .collect();
    let (tail, changes) = changes_and_deletes(rng, &alive, &doomed, &mut policy);
    ops.extend(tail);
    let unguarded = deleted_without_finalizer(&ops, &doomed);
    (ops, expectations(&policy, &alive, &changes, &unguarded))
}

/// Doomed objects deleted while the operator is down whose policy, as the
/// operator last saw it, was Retain: they carry no finalizer, so Kubernetes
/// deletes them at once and their repository stays, even if the tail also
/// flipped them to Delete (a flip the operator never saw). Before the tail
/// the storm waits for each such object to be Ready at its current
/// generation, so everything up to the tail was seen.
fn deleted_without_finalizer(ops: &[Op], doomed: &[String]) -> BTreeSet<String> {
    let (seen, tail) = ops.split_at(ops.len() - TAIL);
    doomed
        .iter()
        .filter(|name| {
            tail.iter()
                .any(|o| matches!(o, Op::Delete { name: n, .. } if n == *name))
                && policy_in(seen, name) == Some("Retain")
        })
        .cloned()
        .collect()
}

/// `name`'s deletion policy after `ops`, if `ops` create it.
fn policy_in(ops: &[Op], name: &str) -> Option<&'static str> {
    let mut policy = None;
    for op in ops {
        match op {
            Op::Create {
                name: n, policy: p, ..
            } if n == name => policy = Some(*p),
            Op::Patch { name: n, spec } if n == name => match spec["deletionPolicy"].as_str() {
                Some("Delete") => policy = Some("Delete"),
                Some("Retain") => policy = Some("Retain"),
                _ => {}
            },
            _ => {}
        }
    }
    policy
}

fn name(i: usize) -> String {
    format!("k{i}")
}

/// The object's domain, from its index.
fn domain_of(name: &str) -> &'static str {
    if name[1..].parse::<usize>().expect("index") < KEEP {
        "crash-keep"
    } else {
        "crash-gone"
    }
}

/// Every create in random order, random policies in the first domain; three
/// objects of the second domain are deleted right after they are created.
fn creates(rng: &mut StdRng, policy: &mut BTreeMap<String, &'static str>) -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..KEEP + GONE {
        let p = if i >= KEEP || rng.random_bool(0.5) {
            "Delete"
        } else {
            "Retain"
        };
        policy.insert(name(i), p);
        ops.push(Op::Create {
            name: name(i),
            domain: domain_of(&name(i)),
            policy: p,
        });
    }
    ops.shuffle(rng);
    for i in KEEP..KEEP + 3 {
        let at = ops
            .iter()
            .position(|o| matches!(o, Op::Create { name: n, .. } if *n == name(i)))
            .expect("created");
        ops.insert(
            at + 1,
            Op::Delete {
                name: name(i),
                when_ready: false,
            },
        );
    }
    ops
}

/// Spec changes (description, tags, sometimes a policy flip in the first
/// domain) on random objects, then each doomed object's delete at a random
/// place after its last change. Returns them and each object's last change.
fn changes_and_deletes(
    rng: &mut StdRng,
    alive: &[String],
    doomed: &[String],
    policy: &mut BTreeMap<String, &'static str>,
) -> (Vec<Op>, BTreeMap<String, (String, String)>) {
    let mut changes = BTreeMap::new();
    let mut ops = Vec::new();
    for round in 0..SPEC_CHANGES {
        let pool = if rng.random_bool(0.6) || doomed.is_empty() {
            alive
        } else {
            doomed
        };
        let name = pool[rng.random_range(0..pool.len())].clone();
        let mut spec =
            json!({"description": format!("round {round}"), "tags": {"round": round.to_string()}});
        if domain_of(&name) == "crash-keep" && rng.random_bool(0.3) {
            let flipped = if policy[&name] == "Delete" {
                "Retain"
            } else {
                "Delete"
            };
            policy.insert(name.clone(), flipped);
            spec["deletionPolicy"] = json!(flipped);
        }
        changes.insert(name.clone(), (format!("round {round}"), round.to_string()));
        ops.push(Op::Patch { name, spec });
    }
    for name in doomed {
        let last_patch = ops
            .iter()
            .rposition(|o| matches!(o, Op::Patch { name: n, .. } if n == name))
            .map_or(0, |p| p + 1);
        let at = rng.random_range(last_patch..=ops.len());
        ops.insert(
            at,
            Op::Delete {
                name: name.clone(),
                when_ready: true,
            },
        );
    }
    (ops, changes)
}

/// Live objects keep their repository; deleted ones keep it only with
/// Retain, or when they went without a finalizer (`unguarded`).
fn expectations(
    policy: &BTreeMap<String, &'static str>,
    alive: &[String],
    changes: &BTreeMap<String, (String, String)>,
    unguarded: &BTreeSet<String>,
) -> Expected {
    let mut expected = Expected::default();
    for (name, p) in policy {
        let repository = (domain_of(name).to_string(), name.clone());
        if alive.contains(name) {
            expected
                .live
                .insert(name.clone(), changes.get(name).cloned().unwrap_or_default());
            expected.repositories.insert(repository);
        } else {
            expected.deleted.insert(name.clone());
            if *p == "Retain" || unguarded.contains(name) {
                expected.repositories.insert(repository);
            }
        }
    }
    expected
}

/// How many creates, spec changes and deletes.
pub fn count_ops(ops: &[Op]) -> (usize, usize, usize) {
    let c = ops
        .iter()
        .filter(|o| matches!(o, Op::Create { .. }))
        .count();
    let p = ops.iter().filter(|o| matches!(o, Op::Patch { .. })).count();
    (c, p, ops.len() - c - p)
}
