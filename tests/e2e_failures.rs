//! End to end: denied permissions, throttling and runtime-invalid specs end
//! in Ready=False with a reason, one kind of Warning Event, bounded retries,
//! and recovery once the cause is gone.

mod common;

use std::time::Duration;

use codeartifact_emulator::Fault;
use common::{ACCESS_KEY, Env, Options, condition, setup};

fn repo(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: faults\n{extra}"
    )
}

async fn wait_reason(env: &Env, name: &str, reason: &str) -> String {
    let obj = env
        .wait_until(name, Duration::from_secs(60), |o| {
            condition(o, "Ready").is_some_and(|(s, r, _)| s == "False" && r == reason)
        })
        .await;
    condition(&obj, "Ready").expect("Ready").2
}

/// Read once, without waiting: the operator publishes the Event before the
/// status that reflects it, so whoever saw the condition finds the Event.
async fn has_warning(env: &Env, reason: &str) -> bool {
    env.events()
        .await
        .iter()
        .any(|(t, r, _)| t == "Warning" && r == reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_permission_is_reported_retried_slowly_and_recovers() {
    let env = setup("denied", Options::default()).await;
    env.emulator.deny(ACCESS_KEY, "CreateRepository");
    env.create(&repo("denied", "")).await;
    let message = wait_reason(&env, "denied", "AccessDenied").await;
    assert!(
        message.contains("CreateRepository"),
        "the message names the failing call: {message}"
    );
    assert!(
        has_warning(&env, "AccessDenied").await,
        "{:?}",
        env.events().await
    );

    // Missing permissions back off from 3 s (base 200 ms x 15), capped at 3 s here.
    let before = env.emulator.call_count("CreateRepository");
    tokio::time::sleep(Duration::from_secs(7)).await;
    let retries = env.emulator.call_count("CreateRepository") - before;
    assert!(
        (1..=4).contains(&retries),
        "bounded retries: {retries} CreateRepository calls in 7 s"
    );

    env.emulator.clear_denies();
    env.wait_ready("denied").await;
    let metrics = env.operator.metrics().await;
    assert!(
        metrics
            .contains("codeartifact_operator_reconcile_failures_total{category=\"access_denied\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("operation=\"CreateRepository\",outcome=\"access_denied\""),
        "{metrics}"
    );
    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_backs_off_and_recovers_when_it_stops() {
    let env = setup("throttled", Options::default()).await;
    env.emulator.set_fault(
        "*",
        Fault {
            throttle: 1.0,
            ..Fault::default()
        },
    );
    env.create(&repo("throttled", "")).await;
    wait_reason(&env, "throttled", "Throttled").await;
    assert!(has_warning(&env, "Throttled").await);

    // Transient errors back off 200 ms, 400 ms, ... capped at 3 s; each attempt is
    // one SDK call of 3 requests. Without backoff this would be hundreds.
    let before: u64 = env.emulator.calls().values().sum();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let requests = env.emulator.calls().values().sum::<u64>() - before;
    assert!(
        (3..=30).contains(&requests),
        "{requests} requests in 8 s of throttling"
    );

    env.emulator.clear_faults();
    env.wait_ready("throttled").await;
    let metrics = env.operator.metrics().await;
    assert!(
        metrics.contains("codeartifact_operator_reconcile_failures_total{category=\"throttled\"}"),
        "{metrics}"
    );
    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_refusal_is_a_token_refresh_failure_and_leaves_synced_true() {
    let env = setup("tokdenied", Options::default()).await;
    env.emulator.deny(ACCESS_KEY, "GetAuthorizationToken");
    env.create(&repo("tok", "")).await;
    wait_reason(&env, "tok", "AccessDenied").await;
    let obj = env.repos().get("tok").await.unwrap();
    assert_eq!(
        condition(&obj, "Synced").map(|c| c.0),
        Some("True".into()),
        "the repository itself is fine"
    );
    assert!(
        has_warning(&env, "TokenRefreshFailed").await,
        "{:?}",
        env.events().await
    );
    assert!(
        matches!(env.secrets().get_opt("tok-pypi").await, Ok(None)),
        "no Secret without a token"
    );
    env.emulator.clear_denies();
    env.wait_ready("tok").await;
    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_invalid_specs_explain_what_to_fix() {
    let env = setup("invalid", Options::default()).await;
    // An upstream that does not exist: fixed by creating it.
    env.create(&repo("downstream", "  upstreams: [later]\n"))
        .await;
    let message = wait_reason(&env, "downstream", "UpstreamNotFound").await;
    assert!(message.contains("upstream"), "{message}");
    env.create(&repo("later", "")).await;
    env.wait_ready("later").await;
    env.wait_ready("downstream").await;

    // A domain in another account that does not exist: the operator cannot create it there.
    env.create("apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: elsewhere\nspec:\n  domain:\n    name: theirs\n    owner: \"444455556666\"\n").await;
    let message = wait_reason(&env, "elsewhere", "DomainNotFound").await;
    assert!(
        message.contains("444455556666") && message.contains("spec.domain.owner"),
        "{message}"
    );

    // A Secret name taken by someone else's Secret is never overwritten.
    let foreign: k8s_openapi::api::core::v1::Secret = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "taken"}, "stringData": {"keep": "me"}}),
    )
    .unwrap();
    env.secrets()
        .create(&Default::default(), &foreign)
        .await
        .unwrap();
    env.create(&repo("clash", "  secret:\n    name: taken\n"))
        .await;
    let message = wait_reason(&env, "clash", "InvalidSpec").await;
    assert!(message.contains("taken"), "{message}");
    assert_eq!(
        env.secret_data("taken")
            .await
            .get("keep")
            .map(String::as_str),
        Some("me")
    );
    env.assert_no_token_leaks().await;
}

/// Issue 11, point 6: a `Delete` that AWS refuses keeps the object (and its
/// finalizer) with `Ready=False` and the reason, retries with backoff, and
/// switching the policy to `Retain` releases it without deleting anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delete_is_retried_and_retain_releases_the_object() {
    let env = setup("refused-delete", Options::default()).await;
    env.create(&repo("kept", "  deletionPolicy: Delete\n"))
        .await;
    env.wait_ready("kept").await;
    env.emulator.deny(ACCESS_KEY, "DeleteRepository");
    env.delete("kept").await;
    let message = wait_reason(&env, "kept", "AccessDenied").await;
    assert!(
        message.contains("DeleteRepository"),
        "the message names the refused call: {message}"
    );

    let before = env.emulator.call_count("DeleteRepository");
    tokio::time::sleep(Duration::from_secs(7)).await;
    let retries = env.emulator.call_count("DeleteRepository") - before;
    assert!(
        (1..=4).contains(&retries),
        "bounded retries: {retries} DeleteRepository calls in 7 s"
    );
    let wanted = ("faults".to_string(), "kept".to_string());
    assert!(env.emulator_repositories().contains(&wanted));

    env.patch_spec("kept", serde_json::json!({"deletionPolicy": "Retain"}))
        .await;
    env.wait_gone("kept", Duration::from_secs(30)).await;
    assert!(
        env.emulator_repositories().contains(&wanted),
        "Retain keeps the repository"
    );
    let after = env.emulator.call_count("DeleteRepository");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.emulator.call_count("DeleteRepository"),
        after,
        "no more delete attempts once released"
    );
    env.assert_no_token_leaks().await;
}
