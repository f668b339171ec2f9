//! Reliability: 50 PypiRepositories in 5 namespaces and 3 domains, reconciled
//! by one operator while CodeArtifact throttles 20% of requests, fails 10%
//! with a 500 and delays each by up to 2 s. Everything reaches Ready, AWS
//! ends up with exactly the expected resources, and no Secret ever holds an
//! expired token while tokens rotate quickly on the emulator's fast clock.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use codeartifact_emulator::Fault;
use common::reliability::{
    assert_no_leaks, is_ready, metric_value, secret_expiries, setup_on, wait_all,
};
use common::{Env, Options};
use kube::Client;
use testenv::ControlPlane;

const NAMESPACES: usize = 5;
const PER_NAMESPACE: usize = 10;
const DOMAINS: [&str; 3] = ["chaos-a", "chaos-b", "chaos-c"];
/// Emulated seconds per real second: a 900 s token lives 45 s.
const CLOCK_SPEED: f64 = 20.0;
/// spec.token.refreshBefore: 7 emulated minutes, 21 real seconds. A refresh
/// under these faults is up to ~11 s late (a due full resync of the
/// repository comes first, each request up to 2 s and retried), so the
/// default quarter (11.25 s here) would leave no room; real margins (225 s
/// for the shortest token, 3 h by default) are far longer than any of this.
const REFRESH_BEFORE_SECS: f64 = 420.0;
/// Every Secret must be seen with this many different tokens: two refreshes under faults.
const TOKENS_PER_SECRET: usize = 3;

/// The object `j` of namespace `i`: its name (unique across namespaces, as
/// repository names are per domain), domain and manifest. Every fifth one
/// has the object three before it (same domain) as upstream.
fn object(i: usize, j: usize) -> (String, &'static str, String) {
    let name = format!("c{i}-{j}");
    let domain = DOMAINS[(i * PER_NAMESPACE + j) % DOMAINS.len()];
    let policy = if j.is_multiple_of(2) {
        "Delete"
    } else {
        "Retain"
    };
    let upstreams = if j % 5 == 4 {
        format!("  upstreams: [c{i}-{}]\n", j - 3)
    } else {
        String::new()
    };
    let manifest = format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: {domain}\n  deletionPolicy: {policy}\n  token:\n    durationSeconds: 900\n    refreshBefore: 7m\n{upstreams}"
    );
    (name, domain, manifest)
}

/// What the Secret poller saw.
#[derive(Default, Debug)]
struct TokenWatch {
    /// Secret polls (each lists every namespace).
    polls: u64,
    /// Observations of a Secret whose token had already expired.
    expired: Vec<String>,
    /// The least time left before expiry seen in any Secret, in seconds.
    min_left: f64,
    /// Tokens seen per Secret.
    tokens: BTreeMap<String, BTreeSet<String>>,
    /// The token and its expiry last seen per Secret.
    current: BTreeMap<String, (String, chrono::DateTime<Utc>)>,
    /// The longest a Secret kept a token past its refresh moment, in seconds.
    max_late: f64,
}

/// Polls every Secret until `stop`, comparing its expiresAt with the time
/// the list was sent (so a slow answer never counts against the operator).
async fn watch_tokens(
    client: Client,
    namespaces: Vec<String>,
    w: Arc<Mutex<TokenWatch>>,
    stop: Arc<AtomicBool>,
) {
    let ns: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    while !stop.load(Ordering::Relaxed) {
        let asked_at = Utc::now();
        let seen = secret_expiries(&client, &ns).await;
        {
            let mut w = w.lock().expect("watch lock");
            for (name, (token, expires)) in seen {
                let left = (expires - asked_at).as_seconds_f64();
                w.min_left = w.min_left.min(left);
                if left < 0.0 {
                    w.expired
                        .push(format!("{name} expired {:.1} s before {asked_at}", -left));
                }
                let margin = chrono::TimeDelta::seconds((REFRESH_BEFORE_SECS / CLOCK_SPEED) as i64);
                if let Some((old, old_expiry)) = w.current.get(&name).cloned()
                    && old != token
                {
                    let late = (asked_at - (old_expiry - margin)).as_seconds_f64();
                    w.max_late = w.max_late.max(late);
                }
                w.current.insert(name.clone(), (token.clone(), expires));
                w.tokens.entry(name).or_default().insert(token);
            }
            w.polls += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl TokenWatch {
    /// The fewest different tokens any of `total` Secrets was seen with.
    fn fewest_tokens(&self, total: usize) -> usize {
        if self.tokens.len() < total {
            0
        } else {
            self.tokens.values().map(BTreeSet::len).min().unwrap_or(0)
        }
    }
}

/// Creates every object, in each namespace in turn; returns the expected
/// `(domain, repository)` pairs.
async fn create_all(env: &Env, ns: &[&str]) -> BTreeSet<(String, String)> {
    let mut expected = BTreeSet::new();
    for (i, namespace) in ns.iter().enumerate() {
        for j in 0..PER_NAMESPACE {
            let (name, domain, manifest) = object(i, j);
            create_in(env, namespace, &manifest).await;
            expected.insert((domain.to_string(), name));
        }
    }
    expected
}

/// Watches every Secret until each has been seen with `TOKENS_PER_SECRET`
/// tokens (two refreshes), then stops the watcher and returns what it saw.
async fn until_rotated(client: Client, namespaces: Vec<String>, total: usize) -> TokenWatch {
    let stop = Arc::new(AtomicBool::new(false));
    let watch = Arc::new(Mutex::new(TokenWatch {
        min_left: f64::MAX,
        ..TokenWatch::default()
    }));
    let watcher = tokio::spawn(watch_tokens(
        client,
        namespaces,
        watch.clone(),
        stop.clone(),
    ));
    let rotated = testenv::wait_for(Duration::from_secs(300), || async {
        watch.lock().expect("watch lock").fewest_tokens(total) >= TOKENS_PER_SECRET
            || watcher.is_finished()
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    watcher.await.expect("the token watcher does not panic");
    let watch = std::mem::take(&mut *watch.lock().expect("watch lock"));
    let rotations = watch.fewest_tokens(total);
    assert!(
        rotated.is_ok() && rotations >= TOKENS_PER_SECRET,
        "tokens did not rotate {TOKENS_PER_SECRET} times: {:?}",
        watch.tokens
    );
    watch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_repositories_converge_under_throttling_errors_and_latency() {
    let args = [
        "--resync-interval=30s",
        "--backoff-base=200ms",
        "--backoff-max=3s",
    ];
    let opts = Options {
        operator_args: args.map(String::from).to_vec(),
        clock_speed: CLOCK_SPEED,
    };
    let (env, extra) = setup_on(ControlPlane::shared(), "chaos", opts, NAMESPACES - 1).await;
    let namespaces: Vec<String> = std::iter::once(env.ns.name())
        .chain(extra.iter().map(|n| n.name()))
        .map(String::from)
        .collect();
    let ns: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    let fault = Fault {
        throttle: 0.2,
        internal_error: 0.1,
        max_latency: Duration::from_secs(2),
    };
    env.emulator.set_fault("*", fault);

    // The Secrets are watched from the start, while the objects are created.
    let started = Instant::now();
    let total = NAMESPACES * PER_NAMESPACE;
    let watching = tokio::spawn(until_rotated(env.client.clone(), namespaces.clone(), total));
    let expected = create_all(&env, &ns).await;
    wait_all(&env.client, &ns, total, Duration::from_secs(300), is_ready).await;
    let ready_after = started.elapsed().as_secs_f64();
    // The faults stay on until every Secret has had its token replaced twice.
    let watch = watching.await.expect("the token watch ran to the end");
    let elapsed = started.elapsed().as_secs_f64();
    let requests: u64 = env.emulator.calls().values().sum();
    env.emulator.clear_faults();

    assert!(
        watch.expired.is_empty(),
        "Secrets held expired tokens:\n{}",
        watch.expired.join("\n")
    );
    wait_all(&env.client, &ns, total, Duration::from_secs(60), is_ready).await;
    let duplicates = check_codeartifact(&env, &expected).await;
    let tokens = assert_no_leaks(&env.client, &env.emulator, &ns, &[&env.operator]).await;
    let minted = env.emulator.issued_tokens().len();
    println!(
        "SUMMARY chaos: {total} ready in {ready_after:.1} s under 20% throttling, 10% 500s and up to 2 s latency; {requests} AWS requests; {duplicates} duplicated and 0 orphaned resources ({} repositories, {} domains); {minted} tokens minted for {} domains over {elapsed:.0} s, every Secret refreshed at least {} times, at most {:.1} s after its refresh moment, least time left before expiry {:.1} s (margin {:.0} s), 0 expired in {} polls; 0 of {tokens} tokens leaked",
        expected.len(),
        DOMAINS.len(),
        DOMAINS.len(),
        watch.fewest_tokens(total) - 1,
        watch.max_late,
        watch.min_left,
        REFRESH_BEFORE_SECS / CLOCK_SPEED,
        watch.polls,
    );
}

async fn create_in(env: &Env, namespace: &str, manifest: &str) {
    let mut obj: codeartifact_operator::crd::PypiRepository =
        serde_saphyr::from_str(manifest).expect("manifest parses");
    obj.metadata.namespace = Some(namespace.to_string());
    let api: kube::Api<codeartifact_operator::crd::PypiRepository> =
        kube::Api::namespaced(env.client.clone(), namespace);
    api.create(&Default::default(), &obj)
        .await
        .expect("create PypiRepository");
}

/// Exactly the expected repositories and domains exist, each repository
/// carries its own object's ownership tags, and nothing was created twice.
/// Returns the number of duplicate creations (0).
async fn check_codeartifact(env: &Env, expected: &BTreeSet<(String, String)>) -> u64 {
    let repos = env.emulator.repositories();
    let found: BTreeSet<(String, String)> = repos
        .iter()
        .map(|r| (r.domain.clone(), r.name.clone()))
        .collect();
    assert_eq!(repos.len(), found.len(), "a repository appears twice");
    assert_eq!(
        &found, expected,
        "CodeArtifact holds exactly the 50 repositories"
    );
    let domains: BTreeSet<String> = env.emulator.domains().into_iter().map(|d| d.name).collect();
    assert_eq!(
        domains,
        DOMAINS.iter().map(|d| d.to_string()).collect(),
        "exactly the 3 domains"
    );
    for r in &repos {
        assert_eq!(
            r.tags
                .get("codeartifact-operator.dev/cluster")
                .map(String::as_str),
            Some("e2e"),
            "{r:?}"
        );
        let owner = r
            .tags
            .get("codeartifact-operator.dev/owner")
            .expect("owner tag");
        assert!(
            owner.ends_with(&format!("/{}", r.name)),
            "{r:?} is tagged for its own object"
        );
        let j: usize = r
            .name
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("index");
        let want: Vec<String> = if j % 5 == 4 {
            vec![format!(
                "{}-{}",
                r.name.rsplit_once('-').expect("-").0,
                j - 3
            )]
        } else {
            vec![]
        };
        assert_eq!(r.upstreams, want, "{r:?}");
    }
    created_once(&env.operator.metrics().await, expected.len())
}

/// The operator's own count of successful creations equals the resources:
/// nothing was created twice. Returns the surplus (0).
fn created_once(metrics: &str, repositories: usize) -> u64 {
    let count = |op: &str| {
        metric_value(
            metrics,
            &format!(
                "codeartifact_operator_aws_calls_total{{operation=\"{op}\",outcome=\"success\"}}"
            ),
        ) as usize
    };
    let (created, domains_created) = (count("CreateRepository"), count("CreateDomain"));
    assert_eq!(
        created, repositories,
        "one successful CreateRepository per object"
    );
    assert_eq!(
        domains_created,
        DOMAINS.len(),
        "one successful CreateDomain per domain"
    );
    (created - repositories + domains_created - DOMAINS.len()) as u64
}
