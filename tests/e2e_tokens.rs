//! End to end: tokens are shared per domain, refreshed before they expire
//! (on the emulator's fast test clock), and reused after a restart.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::python::{assert_ok, make_dist, pip_install, project_secret, twine_upload};
use common::{Env, Options, setup};

fn repo(name: &str, domain: &str, duration: u32) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: {domain}\n  token:\n    durationSeconds: {duration}\n"
    )
}

async fn token_of(env: &Env, secret: &str) -> (String, DateTime<Utc>) {
    let data = env.secret_data(secret).await;
    let expires = DateTime::parse_from_rfc3339(&data["expiresAt"])
        .expect("expiresAt")
        .with_timezone(&Utc);
    (data["token"].clone(), expires)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_repositories_share_one_token_which_is_refreshed_before_expiry() {
    // 60x clock: a 900 s token lives 15 s, and is replaced a quarter of its life (3.75 s) before expiry.
    let env = setup(
        "tokens",
        Options {
            clock_speed: 60.0,
            ..Options::default()
        },
    )
    .await;
    let names: Vec<String> = (0..5).map(|i| format!("repo-{i}")).collect();
    for n in &names {
        env.create(&repo(n, "shared-dom", 900)).await;
    }
    for n in &names {
        env.wait_ready(n).await;
    }
    assert_eq!(
        env.emulator.call_count("GetAuthorizationToken"),
        1,
        "five PypiRepositories on one domain cost one token call"
    );
    let (first, first_expiry) = token_of(&env, "repo-0-pypi").await;
    for n in &names {
        assert_eq!(
            token_of(&env, &format!("{n}-pypi")).await.0,
            first,
            "{n} shares the domain token"
        );
    }

    // Upload and install with the first token.
    let old_dir = env.tmp.path().join("old-secret");
    project_secret(&env.secret_data("repo-0-pypi").await, &old_dir);
    let dists = make_dist("tokened-lib", "0.1.0", &env.tmp.path().join("dist"), false);
    assert_ok("twine upload", &twine_upload(&old_dir, &dists));
    assert_ok(
        "pip install with the first token",
        &pip_install(&old_dir, "tokened-lib"),
    );

    // Every Secret gets a new token before the first one expires.
    let started = Instant::now();
    let mut refreshed_at = Vec::new();
    for n in &names {
        loop {
            let (t, _) = token_of(&env, &format!("{n}-pypi")).await;
            if t != first {
                refreshed_at.push(Utc::now());
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{n} was not refreshed\n{}",
                env.operator.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for at in &refreshed_at {
        assert!(
            *at < first_expiry,
            "refreshed at {at}, after the first token expired at {first_expiry}"
        );
    }
    assert_eq!(
        env.emulator.call_count("GetAuthorizationToken"),
        2,
        "one call per domain per refresh"
    );
    let (second, _) = token_of(&env, "repo-0-pypi").await;

    // Once the first token has expired, the old pip.conf is refused and the refreshed one works.
    while Utc::now() < first_expiry + chrono::TimeDelta::seconds(1) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refused = pip_install(&old_dir, "tokened-lib");
    assert!(
        !refused.status.success(),
        "an expired token must be refused"
    );
    let new_dir = env.tmp.path().join("new-secret");
    let data = env.secret_data("repo-0-pypi").await;
    assert_ne!(data["token"], first);
    project_secret(&data, &new_dir);
    let out = pip_install(&new_dir, "tokened-lib");
    // The token may have been replaced again while pip ran; one more read settles it.
    if !out.status.success() {
        project_secret(&env.secret_data("repo-0-pypi").await, &new_dir);
        assert_ok(
            "pip install after the first token expired",
            &pip_install(&new_dir, "tokened-lib"),
        );
    }
    assert_ne!(second, first);

    let metrics = env.operator.metrics().await;
    assert!(
        metrics.contains("codeartifact_operator_token_refreshes_total{outcome=\"success\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("codeartifact_operator_token_expires_in_seconds{namespace="),
        "{metrics}"
    );
    env.assert_no_token_leaks().await;
}

/// The Secret's resourceVersion: it changes with every write.
async fn resource_version(env: &Env, secret: &str) -> Option<String> {
    env.secrets()
        .get(secret)
        .await
        .unwrap()
        .metadata
        .resource_version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reuses_the_fresh_token_in_the_secrets() {
    let env = setup("restart", Options::default()).await;
    let mut env = env;
    for n in ["one", "two"] {
        env.create(&repo(n, "restart-dom", 43_200)).await;
        env.wait_ready(n).await;
    }
    assert_eq!(env.emulator.call_count("GetAuthorizationToken"), 1);
    let before = resource_version(&env, "one-pypi").await;

    env.operator.restart();
    // Wait until the restarted operator has looked at both Secrets.
    let op = &env.operator;
    testenv::wait_for(Duration::from_secs(60), || async {
        let m = op.metrics().await;
        ["one", "two"]
            .iter()
            .all(|n| m.contains(&format!("name=\"{n}\"")))
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "restarted operator did not reconcile\n{}",
            env.operator.logs()
        )
    });

    assert_eq!(
        env.emulator.call_count("GetAuthorizationToken"),
        1,
        "no token is minted for objects whose own Secret holds a fresh one"
    );
    let after = resource_version(&env, "one-pypi").await;
    assert_eq!(before, after, "a restart does not rewrite a fresh Secret");

    // A token read back from a Secret serves only its own object (a tenant
    // can write its Secret): a new object gets a token the operator mints,
    // and the next one shares that minted token.
    for n in ["three", "four"] {
        env.create(&repo(n, "restart-dom", 43_200)).await;
        env.wait_ready(n).await;
    }
    assert_eq!(env.emulator.call_count("GetAuthorizationToken"), 2);
    assert_ne!(
        token_of(&env, "three-pypi").await.0,
        token_of(&env, "one-pypi").await.0
    );
    assert_eq!(
        token_of(&env, "four-pypi").await.0,
        token_of(&env, "three-pypi").await.0
    );
    env.assert_no_token_leaks().await;
}
