//! IAM isolation (issue 13) on the real control plane, with the emulator's
//! STS and IAM evaluator and the real operator binary in `--tenancy=strict`:
//! two namespaces under two rules with two roles on one domain, each Secret
//! reading only its own repository (real pip), a read-only Secret that real
//! twine cannot publish with, role sessions renewed on a fast clock with no
//! failed call, a cross-account domain reached through a role, and a role
//! whose trust refuses the operator.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use codeartifact_operator::crd::CodeArtifactDomain;
use common::iam::{
    assert_nothing_leaked, assert_refused, endpoint_of, failed_calls, index_status, name,
    project_for, role, role_arn, scope_annotation, secret_data, team_role,
};
use common::python::{assert_ok, make_dist, pip_install, project_secret, twine_upload};
use common::reliability::{OTHER_ACCESS_KEY, OTHER_ACCOUNT, sdk};
use common::tenancy::{Strict, setup_strict, tail};
use common::{ACCOUNT, condition};
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{Patch, PatchParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_roles_on_one_domain_keep_two_teams_apart() {
    let s = setup_strict("iam-teams", 1, "5s").await;
    // 60×: a one-hour role session lasts a minute, so the run below spans renewals.
    s.env.emulator.set_clock_speed(60.0);
    let domain = name("iam", &s);
    let (role_a, role_b) = (role_arn(ACCOUNT, "team-a"), role_arn(ACCOUNT, "team-b"));
    s.env
        .emulator
        .add_role(team_role(&role_a, &domain, "a-"))
        .unwrap();
    s.env
        .emulator
        .add_role(team_role(&role_b, &domain, "b-"))
        .unwrap();

    a_scoped_rule_without_a_role_is_refused_by_the_schema(&s, &domain).await;
    let rules = serde_json::json!([
        {"namespaces": [s.ns(0)], "repositories": ["a-*"], "create": true,
         "tokenScope": "RepositoryPublish", "role": {"arn": role_a}},
        {"namespaces": [s.ns(1)], "repositories": ["b-*"], "create": true,
         "tokenScope": "RepositoryRead", "role": {"arn": role_b}},
    ]);
    s.apply_domain(
        &domain,
        serde_json::json!({"domainName": domain, "access": rules}),
    )
    .await;
    s.wait_domain_ready(&domain).await;
    s.create(0, "a-lib", serde_json::json!({"domain": {"name": domain}}))
        .await;
    s.create(1, "b-lib", serde_json::json!({"domain": {"name": domain}}))
        .await;
    s.wait_ready_is(0, "a-lib", "True", None).await;
    s.wait_ready_is(1, "b-lib", "True", None).await;

    let a = secret_data(&s, 0, "a-lib-pypi").await;
    let b = secret_data(&s, 1, "b-lib-pypi").await;
    assert_ne!(a["token"], b["token"], "each repository has its own token");
    assert!(
        scope_annotation(&s, 0, "a-lib-pypi")
            .await
            .ends_with("/repository/a-lib:RepositoryPublish")
    );
    let b_scope = scope_annotation(&s, 1, "b-lib-pypi").await;
    assert!(
        b_scope.starts_with(&role_b) && b_scope.ends_with("/repository/b-lib:RepositoryRead"),
        "{b_scope}"
    );

    each_secret_reads_only_its_own_repository(&s, &a, &b);
    let (a_url, b_url) = (
        endpoint_of(&s, 0, "a-lib").await,
        endpoint_of(&s, 1, "b-lib").await,
    );
    assert_eq!(index_status(&a_url, &a["token"]).await, 200);
    assert_eq!(index_status(&b_url, &b["token"]).await, 200);
    assert_eq!(
        index_status(&a_url, &b["token"]).await,
        403,
        "b's token on a's repository"
    );
    assert_eq!(
        index_status(&b_url, &a["token"]).await,
        403,
        "a's token on b's repository"
    );
    let assumed = s.env.emulator.call_count("AssumeRole");

    // A long run on the fast clock: sessions expire every emulated hour.
    tokio::time::sleep(Duration::from_secs(100)).await;
    let renewed = s.env.emulator.call_count("AssumeRole");
    assert!(
        renewed > assumed,
        "role sessions were renewed ({assumed} → {renewed} AssumeRole calls)"
    );
    let failed = failed_calls(&s).await;
    assert!(
        failed.is_empty(),
        "failed AWS calls: {failed:?}\n{}",
        tail(&s.env.operator.logs())
    );
    s.wait_ready_is(0, "a-lib", "True", None).await;
    let later = secret_data(&s, 1, "b-lib-pypi").await;
    let dir = s.env.tmp.path().join("b-later");
    project_secret(&later, &dir);
    assert_ok(
        "pip with b's Secret after renewals",
        &pip_install(&dir, "requests-lite"),
    );

    let tokens = assert_nothing_leaked(&s, &[&s.ns(0), &s.ns(1)]).await;
    s.delete_domain(&domain).await;
    println!(
        "SUMMARY iam teams: 2 roles, 2 repository-scoped Secrets; each refused on the other's repository; read-only twine refused; {assumed} → {renewed} AssumeRole calls over 100 s at 60× with 0 failed calls; 0 of {tokens} tokens leaked"
    );
}

/// The schema refuses a repository-scoped rule when neither it nor the domain names a role.
async fn a_scoped_rule_without_a_role_is_refused_by_the_schema(s: &Strict, domain: &str) {
    let api: Api<CodeArtifactDomain> = Api::all(s.env.client.clone());
    let obj = serde_json::json!({
        "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "CodeArtifactDomain",
        "metadata": {"name": format!("{domain}-bad")},
        "spec": {"access": [{"namespaces": ["x"], "repositories": ["*"], "tokenScope": "RepositoryRead"}]},
    });
    let err = api
        .patch(
            &format!("{domain}-bad"),
            &PatchParams::apply("e2e-iam"),
            &Patch::Apply(&obj),
        )
        .await
        .expect_err("a scoped rule without a role is refused");
    let text = err.to_string();
    assert!(
        text.contains("spec.access") && text.contains("needs a role"),
        "{text}"
    );
}

/// Team a publishes to and installs from its repository; team b installs
/// from its own but cannot publish; neither reads the other's repository.
fn each_secret_reads_only_its_own_repository(
    s: &Strict,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) {
    let tmp = s.env.tmp.path();
    let dist = make_dist("alpha-lib", "1.0.0", &tmp.join("dist-a"), false);
    let a_dir = tmp.join("secret-a");
    project_secret(a, &a_dir);
    assert_ok(
        "twine upload with a's publish Secret",
        &twine_upload(&a_dir, &dist),
    );
    assert_ok(
        "pip with a's Secret",
        &pip_install(&a_dir, "alpha-lib==1.0.0"),
    );

    let b_dir = tmp.join("secret-b");
    project_secret(b, &b_dir);
    assert_ok(
        "pip with b's read-only Secret",
        &pip_install(&b_dir, "requests-lite"),
    );
    let b_dist = make_dist("beta-lib", "1.0.0", &tmp.join("dist-b"), false);
    assert_refused(
        "twine upload with b's read-only Secret",
        &twine_upload(&b_dir, &b_dist),
        Some("403"),
    );

    let b_on_a = tmp.join("b-on-a");
    project_for(b, "b-lib", "a-lib", &b_on_a);
    assert_refused(
        "pip with b's Secret on a's repository",
        &pip_install(&b_on_a, "alpha-lib"),
        None,
    );
    let a_on_b = tmp.join("a-on-b");
    project_for(a, "a-lib", "b-lib", &a_on_b);
    assert_refused(
        "pip with a's Secret on b's repository",
        &pip_install(&a_on_b, "requests-lite"),
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_account_domain_through_a_role_and_a_role_that_refuses() {
    let s = setup_strict("iam-cross", 1, "5s").await;
    let (central, locked) = (name("central", &s), name("locked", &s));
    let other = sdk(&s.env.emulator, OTHER_ACCESS_KEY);
    for d in [&central, &locked] {
        other
            .create_domain()
            .domain(d)
            .send()
            .await
            .expect("domain in the other account");
    }
    let reader = role_arn(OTHER_ACCOUNT, "central-operator");
    let untrusting = role_arn(OTHER_ACCOUNT, "untrusting");
    s.env
        .emulator
        .add_role(role(&reader, Some("cluster-e2e"), serde_json::json!("*")))
        .unwrap();
    let mut refusing = role(&untrusting, None, serde_json::json!("*"));
    refusing.trusted = vec!["999988887777".into()];
    s.env.emulator.add_role(refusing).unwrap();

    let spec = |d: &str, arn: &str, ns: String| {
        serde_json::json!({"domainName": d, "owner": OTHER_ACCOUNT, "mode": "Use",
            "role": {"arn": arn, "externalId": "cluster-e2e"},
            "access": [{"namespaces": [ns], "repositories": ["*"], "create": true}]})
    };
    s.apply_domain(&central, spec(&central, &reader, s.ns(0)))
        .await;
    let ready = s.wait_domain_ready(&central).await;
    assert_eq!(ready.status.unwrap().owner.as_deref(), Some(OTHER_ACCOUNT));
    s.create(0, "lib", serde_json::json!({"domain": {"name": central}}))
        .await;
    let (lib, _) = s.wait_ready_is(0, "lib", "True", None).await;
    let arn = lib.status.unwrap().repository_arn.unwrap();
    assert!(
        arn.contains(&format!(":{OTHER_ACCOUNT}:repository/{central}/lib")),
        "{arn}"
    );
    let dir = s.env.tmp.path().join("central");
    project_secret(&secret_data(&s, 0, "lib-pypi").await, &dir);
    assert_ok(
        "pip through the cross-account domain",
        &pip_install(&dir, "requests-lite"),
    );

    a_role_that_refuses_the_operator(
        &s,
        &locked,
        &untrusting,
        spec(&locked, &untrusting, s.ns(1)),
    )
    .await;
    let tokens = assert_nothing_leaked(&s, &[&s.ns(0), &s.ns(1)]).await;
    s.delete_domain(&central).await;
    s.delete_domain(&locked).await;
    println!(
        "SUMMARY iam cross-account: Ready and pip through a role into account {OTHER_ACCOUNT}; an untrusting role gives Ready=False AccessDenied naming it, no token; 0 of {tokens} tokens leaked"
    );
}

/// Ready=False with a reason naming the role on the domain and on a
/// repository in it, an Event, no token, and bounded retries.
async fn a_role_that_refuses_the_operator(
    s: &Strict,
    domain: &str,
    role: &str,
    spec: serde_json::Value,
) {
    s.apply_domain(domain, spec).await;
    s.create(
        1,
        "locked-lib",
        serde_json::json!({"domain": {"name": domain}}),
    )
    .await;
    let (obj, _) = s
        .wait_ready_is(1, "locked-lib", "False", Some("AccessDenied"))
        .await;
    let (_, _, message) = condition(&obj, "Ready").unwrap();
    assert!(
        message.contains(role) && message.contains("trust policy"),
        "the reason names the role and what to fix: {message}"
    );
    assert!(
        s.secret_token(1, "locked-lib-pypi").await.is_none(),
        "no token"
    );
    let api: Api<CodeArtifactDomain> = Api::all(s.env.client.clone());
    let domain_refused = || async {
        let cad = api.get(domain).await.ok()?;
        let ready = cad
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")?;
        (ready.status == "False" && ready.reason == "AccessDenied").then_some(ready.message)
    };
    testenv::wait_for(Duration::from_secs(30), || async {
        domain_refused().await.is_some()
    })
    .await
    .expect("the CodeArtifactDomain is Ready=False AccessDenied");
    let domain_message = domain_refused().await.unwrap();
    assert!(domain_message.contains(role), "{domain_message}");
    let events: Api<Event> = Api::namespaced(s.env.client.clone(), &s.ns(1));
    let named = || async {
        events.list(&Default::default()).await.is_ok_and(|l| {
            l.items.iter().any(|e| {
                e.reason.as_deref() == Some("AccessDenied")
                    && e.note.as_deref().is_some_and(|n| n.contains(role))
            })
        })
    };
    testenv::wait_for(Duration::from_secs(30), named)
        .await
        .expect("an AccessDenied Event names the role");
    // Bounded: a few AssumeRole attempts over several seconds, not a hot loop.
    let before = s.env.emulator.call_count("AssumeRole");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let attempts = s.env.emulator.call_count("AssumeRole") - before;
    assert!(attempts <= 30, "{attempts} AssumeRole attempts in 10 s");
}

/// Objects per namespace in the cost measurement.
const COST_OBJECTS: usize = 10;
/// Refresh cycles measured per scope.
const COST_CYCLES: u32 = 3;

/// Calls per token refresh cycle (issue 13 point 5), on the 60× clock with
/// 900 s tokens (a cycle is 675 emulated s, 11.25 real s): domain-scoped tokens
/// cost one GetAuthorizationToken per cycle for all objects, repository-scoped
/// ones one per object. Prints the figures and the operator's peak RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_calls_per_refresh_cycle_domain_and_repository_scoped() {
    // A long resync: only token refreshes make calls during the windows.
    let s = setup_strict("iam-cost", 1, "10m").await;
    s.env.emulator.set_clock_speed(60.0);
    let domain = name("cost", &s);
    let arn = role_arn(ACCOUNT, "cost");
    s.env
        .emulator
        .add_role(role(&arn, None, serde_json::json!("*")))
        .unwrap();
    let rules = serde_json::json!([
        {"namespaces": [s.ns(0)], "repositories": ["d-*"], "create": true, "maxTokenSeconds": 900},
        {"namespaces": [s.ns(1)], "repositories": ["r-*"], "create": true, "maxTokenSeconds": 900,
         "tokenScope": "RepositoryRead"},
    ]);
    s.apply_domain(
        &domain,
        serde_json::json!({"domainName": domain, "role": {"arn": arn}, "access": rules}),
    )
    .await;
    s.wait_domain_ready(&domain).await;
    let domain_scoped = measure(&s, 0, "d", &domain).await;
    let repository_scoped = measure(&s, 1, "r", &domain).await;
    let pid = s.env.operator.pid().expect("operator runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    println!(
        "SUMMARY iam cost ({COST_OBJECTS} objects, 1 domain, 1 role, over {COST_CYCLES} cycles): per cycle, domain-scoped {:.2} GetAuthorizationToken + {:.2} AssumeRole; repository-scoped {:.2} GetAuthorizationToken + {:.2} AssumeRole; operator peak RSS {}",
        domain_scoped.0,
        domain_scoped.1,
        repository_scoped.0,
        repository_scoped.1,
        peak.trim_start_matches("VmHWM:").trim()
    );
    assert!(
        domain_scoped.0 <= 1.5,
        "domain-scoped tokens: one mint per cycle for all objects, not {:.2}",
        domain_scoped.0
    );
    let objects = COST_OBJECTS as f64;
    assert!(
        repository_scoped.0 >= objects * 0.6 && repository_scoped.0 <= objects * 1.5,
        "repository-scoped tokens: one mint per object per cycle, not {:.2}",
        repository_scoped.0
    );
    s.delete_domain(&domain).await;
}

/// Creates the objects of namespace `i` (900 s tokens), waits Ready, counts
/// GetAuthorizationToken and AssumeRole over [`COST_CYCLES`] cycles, deletes
/// them; returns the calls per cycle.
async fn measure(s: &Strict, i: usize, prefix: &str, domain: &str) -> (f64, f64) {
    let names: Vec<String> = (0..COST_OBJECTS).map(|n| format!("{prefix}-{n}")).collect();
    for n in &names {
        s.create(
            i,
            n,
            serde_json::json!({"domain": {"name": domain}, "token": {"durationSeconds": 900}}),
        )
        .await;
    }
    for n in &names {
        s.wait_ready_is(i, n, "True", None).await;
    }
    let cycle = Duration::from_secs_f64(900.0 * 0.75 / 60.0);
    s.env.emulator.reset_calls();
    tokio::time::sleep(cycle * COST_CYCLES).await;
    let per_cycle = |op: &str| s.env.emulator.call_count(op) as f64 / f64::from(COST_CYCLES);
    let figures = (per_cycle("GetAuthorizationToken"), per_cycle("AssumeRole"));
    for n in &names {
        s.repos(i)
            .delete(n, &Default::default())
            .await
            .expect("delete");
    }
    for n in &names {
        testenv::wait_gone(&s.repos(i), n, Duration::from_secs(60))
            .await
            .expect("deleted");
    }
    figures
}
