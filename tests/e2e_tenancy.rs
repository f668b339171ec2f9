//! Multi-tenant clusters (issue 11) on the real control plane, with the
//! emulator and the real operator binary in `--tenancy=strict`: the attack of
//! the issue refused at no AWS cost, two teams kept apart on one domain, a
//! repository owned by another object left alone, and access changes (rules,
//! namespace labels) acting within seconds.

mod common;

use std::time::Duration;

use common::reliability::assert_no_leaks;
use common::tenancy::{Strict, setup_strict, writes};

fn domain(id: &str, access: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"domainName": format!("acme-{}", short(id)), "access": access})
}

/// A domain name (2..50 lower-case) derived from the test id.
fn short(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect::<String>()
        .to_lowercase()
}

fn acme(s: &Strict) -> String {
    format!("acme-{}", short(&s.id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attack_is_refused_and_two_teams_stay_apart() {
    // Namespaces: 0 = demo (team a), 1 = evil, 2 = team b.
    // A long resync: any AWS call while the attack is refused would be the attack's.
    let s = setup_strict("tenancy-attack", 2, "10m").await;
    let cad = format!("attack-{}", short(&s.id));
    let rules = serde_json::json!([
        {"namespaces": [s.ns(0)], "repositories": ["python-packages", "a-*"], "create": true, "delete": true, "externalConnection": true},
        {"namespaces": [s.ns(2)], "repositories": ["b-*"], "create": true},
    ]);
    s.apply_domain(&cad, domain(&s.id, rules)).await;
    let ready = s.wait_domain_ready(&cad).await;
    assert_eq!(
        ready.status.as_ref().unwrap().created_by_operator,
        Some(true)
    );
    let acme = acme(&s);

    let demo_token = demo_gets_python_packages(&s, &acme).await;
    let refused_cost = the_attack_is_refused_at_no_cost(&s, &acme, &demo_token).await;
    each_team_gets_only_its_own_names(&s, &acme).await;
    an_adopt_rule_does_not_beat_demos_marker(&s, &cad, &acme).await;

    let tokens = assert_no_leaks(
        &s.env.client,
        &s.env.emulator,
        &[&s.ns(0), &s.ns(1), &s.ns(2)],
        &[&s.env.operator],
    )
    .await;
    s.delete_domain(&cad).await;
    println!(
        "SUMMARY tenancy attack: refused object cost {refused_cost} AWS calls (6 s after refusal); no Secret, CodeArtifact unchanged; two teams each refused the other's names; OwnedElsewhere with 0 writes; 0 of {tokens} tokens leaked"
    );
    assert_eq!(refused_cost, 0, "a refused object costs no AWS call");
}

/// Demo's `python-packages`, Ready; returns the token in its Secret.
async fn demo_gets_python_packages(s: &Strict, acme: &str) -> String {
    s.create(
        0,
        "python-packages",
        serde_json::json!({"domain": {"name": acme}}),
    )
    .await;
    s.wait_ready_is(0, "python-packages", "True", None).await;
    s.secret_token(0, "python-packages-pypi")
        .await
        .expect("demo's token")
}

/// The attack: another namespace names demo's repository, with Delete and
/// no connection. Refused, with no Secret and demo's repository and token
/// unchanged; returns the AWS calls made in the 6 s after the refusal.
async fn the_attack_is_refused_at_no_cost(s: &Strict, acme: &str, demo_token: &str) -> u64 {
    let before_repo = s.env.emulator.repositories();
    let before_calls = s.env.emulator.calls();

    s.create(
        1,
        "grab",
        serde_json::json!({"domain": {"name": acme}, "repositoryName": "python-packages", "externalConnection": false, "deletionPolicy": "Delete"}),
    )
    .await;
    let (grab, _) = s
        .wait_ready_is(1, "grab", "False", Some("NotPermitted"))
        .await;
    let message = common::condition(&grab, "Ready").unwrap().2;
    assert!(message.contains(&s.ns(1)), "{message}");
    assert!(message.contains("platform team"), "{message}");
    assert!(
        !message.contains(&s.ns(0)),
        "another team's rule leaked: {message}"
    );
    assert!(
        s.secrets(1).get_opt("grab-pypi").await.unwrap().is_none(),
        "a refused object gets no Secret"
    );
    // Seconds later (and after the operator's retries): still nothing asked of CodeArtifact.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after_calls = s.env.emulator.calls();
    let refused_cost: u64 = after_calls.values().sum::<u64>() - before_calls.values().sum::<u64>();
    assert_eq!(
        s.env.emulator.repositories(),
        before_repo,
        "CodeArtifact unchanged by the attack"
    );
    assert_eq!(
        s.secret_token(0, "python-packages-pypi").await.as_deref(),
        Some(demo_token)
    );
    refused_cost
}

/// Team b gets b-*, not a-*; team a gets a-*.
async fn each_team_gets_only_its_own_names(s: &Strict, acme: &str) {
    s.create(2, "b-web", serde_json::json!({"domain": {"name": acme}}))
        .await;
    s.create(2, "a-stolen", serde_json::json!({"domain": {"name": acme}}))
        .await;
    s.create(0, "a-web", serde_json::json!({"domain": {"name": acme}}))
        .await;
    s.wait_ready_is(2, "b-web", "True", None).await;
    s.wait_ready_is(0, "a-web", "True", None).await;
    let (stolen, _) = s
        .wait_ready_is(2, "a-stolen", "False", Some("NotPermitted"))
        .await;
    assert!(
        common::condition(&stolen, "Ready")
            .unwrap()
            .2
            .contains("repository name \"a-stolen\""),
        "{stolen:?}"
    );
    let names: Vec<String> = s
        .env
        .emulator
        .repositories()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(!names.contains(&"a-stolen".to_string()), "{names:?}");
}

/// Even with a rule that lets evil adopt python-packages, demo's marker protects it.
async fn an_adopt_rule_does_not_beat_demos_marker(s: &Strict, cad: &str, acme: &str) {
    let rules = serde_json::json!([
        {"namespaces": [s.ns(0)], "repositories": ["python-packages", "a-*"], "create": true, "delete": true, "externalConnection": true},
        {"namespaces": [s.ns(2)], "repositories": ["b-*"], "create": true},
        {"namespaces": [s.ns(1)], "repositories": ["python-packages"], "create": true, "adopt": true, "delete": true, "externalConnection": true},
    ]);
    let writes_before = writes(&s.env.emulator.calls());
    s.create(
        1,
        "grab-again",
        serde_json::json!({"domain": {"name": acme}, "repositoryName": "python-packages", "adopt": true, "externalConnection": false}),
    )
    .await;
    s.apply_domain(cad, domain(&s.id, rules)).await;
    let (again, _) = s
        .wait_ready_is(1, "grab-again", "False", Some("OwnedElsewhere"))
        .await;
    let message = common::condition(&again, "Ready").unwrap().2;
    assert!(
        message.contains(&format!("{}/python-packages", s.ns(0))),
        "{message}"
    );
    assert_eq!(
        writes(&s.env.emulator.calls()),
        writes_before,
        "no AWS write for it"
    );
    let demo_repo = s
        .env
        .emulator
        .repositories()
        .into_iter()
        .find(|r| r.name == "python-packages")
        .unwrap();
    assert_eq!(demo_repo.external_connections, ["public:pypi"]);
    assert!(
        s.secrets(1)
            .get_opt("grab-again-pypi")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_changes_act_within_seconds_and_revocation_removes_credentials() {
    let s = setup_strict("tenancy-revoke", 0, "2s").await;
    let cad = format!("revoke-{}", short(&s.id));
    let label = format!("pypi-{}", short(&s.id));
    let by_label = serde_json::json!([
        {"namespaceSelector": {"matchLabels": {label.clone(): "on"}}, "repositories": ["*"], "create": true},
    ]);
    s.apply_domain(&cad, domain(&s.id, by_label.clone())).await;
    s.wait_domain_ready(&cad).await;
    let acme = acme(&s);

    s.create(0, "web", serde_json::json!({"domain": {"name": acme}}))
        .await;
    s.wait_ready_is(0, "web", "False", Some("NotPermitted"))
        .await;
    // Relabelled into the rule: served.
    s.label_namespace(0, &label, Some("on")).await;
    let (_, t_in) = s.wait_ready_is(0, "web", "True", None).await;
    assert!(s.secret_token(0, "web-pypi").await.is_some());
    // Relabelled out of it: refused, and the credentials leave the Secret.
    s.label_namespace(0, &label, None).await;
    let (_, t_out) = s
        .wait_ready_is(0, "web", "False", Some("NotPermitted"))
        .await;
    the_token_leaves_web_pypi(&s, "the token is still in the Secret").await;
    // Back in, then the rule itself is revoked.
    s.label_namespace(0, &label, Some("on")).await;
    s.wait_ready_is(0, "web", "True", None).await;
    s.apply_domain(&cad, domain(&s.id, serde_json::json!([])))
        .await;
    let (_, t_rule) = s
        .wait_ready_is(0, "web", "False", Some("NotPermitted"))
        .await;
    the_token_leaves_web_pypi(&s, "the token is still in the Secret after the rule went").await;
    a_revoked_object_is_neither_refreshed_nor_deleted(&s).await;
    // Deleting the object (Retain): no finalizer, gone at once.
    s.env.delete("web").await;
    s.env.wait_gone("web", Duration::from_secs(10)).await;
    s.env.assert_no_token_leaks().await;
    s.delete_domain(&cad).await;
    println!(
        "SUMMARY tenancy revoke: access change to condition change: label in {:.1} s, label out {:.1} s, rule removed {:.1} s; credentials removed, no refresh, nothing deleted in AWS",
        t_in.as_secs_f64(),
        t_out.as_secs_f64(),
        t_rule.as_secs_f64()
    );
    for t in [t_in, t_out, t_rule] {
        assert!(
            t < Duration::from_secs(10),
            "access changes must act within seconds: {t:?}"
        );
    }
}

/// Within 10 s the credentials leave `web`'s Secret; `failure` says when they did not.
async fn the_token_leaves_web_pypi(s: &Strict, failure: &str) {
    let gone = testenv::wait_for(Duration::from_secs(10), || async {
        s.secret_token(0, "web-pypi").await.is_none()
    })
    .await;
    assert!(gone.is_ok(), "{failure}");
}

/// Revoked `web`: no token minted for 5 s, and its repository still in AWS.
async fn a_revoked_object_is_neither_refreshed_nor_deleted(s: &Strict) {
    let minted = s.env.emulator.call_count("GetAuthorizationToken");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        s.env.emulator.call_count("GetAuthorizationToken"),
        minted,
        "no token refresh for a revoked object"
    );
    assert!(
        s.env
            .emulator
            .repositories()
            .iter()
            .any(|r| r.name == "web"),
        "revoking deletes nothing in AWS"
    );
}
