//! Reliability: a settings mistake on a working repository (a missing
//! upstream, a tag CodeArtifact refuses) leaves it Ready=False, but its
//! Secret keeps a valid token: workloads are not cut off by an unrelated error.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::reliability::{assert_no_leaks, manifest_yaml as yaml, not_ready, secret_expiries};
use common::{Env, Options, condition, setup};
use serde_json::json;

/// Polls the Secrets of `ns` for `period`, failing on any expired token;
/// returns the tokens seen per Secret and the least time left before expiry.
async fn watch_secrets(
    env: &Env,
    ns: &[&str],
    period: Duration,
) -> (BTreeMap<String, BTreeSet<String>>, f64) {
    let started = Instant::now();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut min_left = f64::MAX;
    while started.elapsed() < period {
        let asked_at = chrono::Utc::now();
        for (name, (token, expires)) in secret_expiries(&env.client, ns).await {
            let left = (expires - asked_at).as_seconds_f64();
            min_left = min_left.min(left);
            assert!(
                left > 0.0,
                "{name} holds a token that expired {:.1} s ago\n{}",
                -left,
                env.operator.logs()
            );
            seen.entry(name).or_default().insert(token);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    (seen, min_left)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_error_on_a_working_repository_never_lets_its_token_expire() {
    // 60x clock: a 900 s token lives 15 s and is due 7 s (refreshBefore 7m) before expiry.
    let env = setup(
        "keep-fresh",
        Options {
            clock_speed: 60.0,
            ..Options::default()
        },
    )
    .await;
    let token = "  token:\n    durationSeconds: 900\n    refreshBefore: 7m\n";
    for name in ["needs-fix", "permanent"] {
        env.create(&yaml(name, &format!("  domain:\n    name: fresh\n{token}")))
            .await;
        env.wait_ready(name).await;
    }
    // A missing upstream (retried until fixed) and a tag key CodeArtifact refuses (waits for a spec change).
    env.patch_spec("needs-fix", json!({"upstreams": ["missing"]}))
        .await;
    env.patch_spec("permanent", json!({"tags": {"cost\tcenter": "x"}}))
        .await;
    not_ready(&env, "needs-fix", "UpstreamNotFound").await;
    not_ready(&env, "permanent", "InvalidSpec").await;

    // Three token lifetimes: every Secret must keep a valid token throughout.
    let ns = [env.ns.name()];
    let (seen, min_left) = watch_secrets(&env, &ns, Duration::from_secs(45)).await;
    for (name, tokens) in &seen {
        assert!(
            tokens.len() >= 3,
            "{name} was refreshed only {} times",
            tokens.len() - 1
        );
    }
    for (name, reason) in [
        ("needs-fix", "UpstreamNotFound"),
        ("permanent", "InvalidSpec"),
    ] {
        let obj = env.repos().get(name).await.expect("object");
        assert_eq!(
            condition(&obj, "Ready").map(|c| c.1),
            Some(reason.to_string()),
            "still reported"
        );
    }
    let tokens = assert_no_leaks(&env.client, &env.emulator, &ns, &[&env.operator]).await;
    println!(
        "SUMMARY settings errors: 2 failing PypiRepositories (missing upstream, refused tag key) kept fresh tokens for 45 s (3 lifetimes), {} refreshes each at least, least time left {min_left:.1} s of a 7 s margin; 0 of {tokens} tokens leaked",
        seen.values().map(|t| t.len() - 1).min().unwrap_or(0)
    );
}
