//! End to end (issue 15 points 3 and 4), real control plane, emulator and
//! operator binary in `--tenancy=strict`: a domain policy and a repository
//! policy applied, hand edits put back, removal from the spec deletes them,
//! a repository policy refused where the access rule does not allow it; a
//! dual-stack endpoint and a VPC endpoint override in every rendering of the
//! Secret, and real twine and pip through the dual-stack one.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_codeartifact as ca;
use common::iam::secret_data;
use common::python::{assert_ok, make_dist, pip_install, project_secret, twine_upload};
use common::tenancy::{Strict, setup_strict, tail};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

fn policy(account: &str, action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "CrossAccount", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": [action], "Resource": "*"}]})
}

fn short(s: &Strict) -> String {
    let id: String = s.id.chars().filter(char::is_ascii_alphanumeric).collect();
    id.chars().rev().take(12).collect::<String>().to_lowercase()
}

/// The policy document held on the domain (`repo` None) or a repository, parsed.
async fn held(aws: &ca::Client, domain: &str, repo: Option<&str>) -> Option<Value> {
    let doc = match repo {
        None => aws
            .get_domain_permissions_policy()
            .domain(domain)
            .send()
            .await
            .ok()?
            .policy()?
            .document()?
            .to_string(),
        Some(r) => aws
            .get_repository_permissions_policy()
            .domain(domain)
            .repository(r)
            .send()
            .await
            .ok()?
            .policy()?
            .document()?
            .to_string(),
    };
    serde_json::from_str(&doc).ok()
}

async fn wait_held(
    s: &Strict,
    aws: &ca::Client,
    domain: &str,
    repo: Option<&str>,
    want: Option<&Value>,
) {
    let ok = testenv::wait_for(Duration::from_secs(30), || async {
        held(aws, domain, repo).await.as_ref() == want
    })
    .await;
    assert!(
        ok.is_ok(),
        "policy on {domain}/{repo:?} never became {want:?}: {:?}\n{}",
        held(aws, domain, repo).await,
        tail(&s.env.operator.logs())
    );
}

async fn put_by_hand(aws: &ca::Client, domain: &str, repo: Option<&str>, doc: &Value) {
    let text = doc.to_string();
    match repo {
        None => {
            aws.put_domain_permissions_policy()
                .domain(domain)
                .policy_document(text)
                .send()
                .await
                .expect("hand edit of the domain policy");
        }
        Some(r) => {
            aws.put_repository_permissions_policy()
                .domain(domain)
                .repository(r)
                .policy_document(text)
                .send()
                .await
                .expect("hand edit of the repository policy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_applied_put_back_removed_and_refused_without_the_rule() {
    // Namespaces: 0 may set repository policies, 1 may not.
    let s = setup_strict("policies", 1, "2s").await;
    let domain = format!("pol-{}", short(&s));
    let cad = domain.clone();
    let domain_policy = policy("444455556666", "codeartifact:GetAuthorizationToken");
    let rules = json!([
        {"namespaces": [s.ns(0)], "repositories": ["team-*"], "create": true, "permissionsPolicy": true},
        {"namespaces": [s.ns(1)], "repositories": ["other-*"], "create": true},
    ]);
    s.apply_domain(
        &cad,
        json!({"domainName": domain, "access": rules, "permissionsPolicy": domain_policy}),
    )
    .await;
    let ready = s.wait_domain_ready(&cad).await;
    assert!(ready.status.unwrap().policy_revision.is_some());
    let aws = testenv::OPERATOR_KEY.sdk(&s.env.emulator);
    wait_held(&s, &aws, &domain, None, Some(&domain_policy)).await;

    let repo_policy = policy("444455556666", "codeartifact:ReadFromRepository");
    schema_refuses_bad_policies_and_endpoints(&s, &domain).await;
    s.create(
        0,
        "team-a",
        json!({"domain": {"name": domain}, "permissionsPolicy": repo_policy}),
    )
    .await;
    let (obj, _) = s.wait_ready_is(0, "team-a", "True", None).await;
    assert!(obj.status.unwrap().policy_revision.is_some());
    wait_held(&s, &aws, &domain, Some("team-a"), Some(&repo_policy)).await;

    // Hand edits on both are put back at the next resync.
    let edit = policy("999999999999", "codeartifact:*");
    put_by_hand(&aws, &domain, Some("team-a"), &edit).await;
    put_by_hand(&aws, &domain, None, &edit).await;
    wait_held(&s, &aws, &domain, Some("team-a"), Some(&repo_policy)).await;
    wait_held(&s, &aws, &domain, None, Some(&domain_policy)).await;

    // Removed from the specs: deleted.
    s.repos(0)
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"permissionsPolicy": null}})),
        )
        .await
        .expect("remove the repository policy");
    wait_held(&s, &aws, &domain, Some("team-a"), None).await;
    s.apply_domain(&cad, json!({"domainName": domain, "access": rules}))
        .await;
    wait_held(&s, &aws, &domain, None, None).await;
    assert_eq!(
        s.env
            .emulator
            .call_count("DeleteRepositoryPermissionsPolicy"),
        1
    );
    assert_eq!(
        s.env.emulator.call_count("DeleteDomainPermissionsPolicy"),
        1
    );

    // A policy set by someone else on a repository whose spec states none stays.
    put_by_hand(&aws, &domain, Some("team-a"), &edit).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        held(&aws, &domain, Some("team-a")).await,
        Some(edit.clone())
    );

    // Namespace 1's rule does not allow repository policies.
    let puts = s.env.emulator.call_count("PutRepositoryPermissionsPolicy");
    s.create(
        1,
        "other-a",
        json!({"domain": {"name": domain}, "permissionsPolicy": repo_policy}),
    )
    .await;
    let (refused, _) = s
        .wait_ready_is(1, "other-a", "False", Some("NotPermitted"))
        .await;
    let message = common::condition(&refused, "Ready").expect("Ready").2;
    assert!(message.contains("permissionsPolicy"), "{message}");
    assert_eq!(
        s.env.emulator.call_count("PutRepositoryPermissionsPolicy"),
        puts
    );
    assert!(
        !s.env
            .emulator
            .repositories()
            .iter()
            .any(|r| r.name == "other-a")
    );

    common::iam::assert_nothing_leaked(&s, &[&s.ns(0), &s.ns(1)]).await;
    s.delete_domain(&cad).await;
}

/// Every value of the Secret that names a URL names `host`, in the
/// renderings that matter here: pip.conf, .pypirc and the env keys.
fn assert_every_url_on(data: &BTreeMap<String, String>, host: &str) {
    for key in [
        "pip.conf",
        ".pypirc",
        "PIP_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "TWINE_REPOSITORY_URL",
    ] {
        let v = data.get(key).unwrap_or_else(|| panic!("no {key}"));
        // The values hold the token: the message names the key only.
        assert!(v.contains(host), "{key} does not name {host}");
    }
    for (k, v) in data {
        if v.contains("://") {
            assert!(v.contains(host), "{k} names another host");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dualstack_and_vpc_endpoints_reach_every_rendering() {
    let s = setup_strict("endpoints", 0, "30s").await;
    let domain = format!("ep-{}", short(&s));
    let rules = json!([{"namespaces": [s.ns(0)], "repositories": ["*"], "create": true}]);
    s.apply_domain(&domain, json!({"domainName": domain, "access": rules}))
        .await;
    s.wait_domain_ready(&domain).await;

    s.create(
        0,
        "dual",
        json!({"domain": {"name": domain}, "endpoint": {"type": "dualstack"}}),
    )
    .await;
    let (obj, _) = s.wait_ready_is(0, "dual", "True", None).await;
    let endpoint = obj.status.unwrap().repository_endpoint.unwrap();
    assert!(endpoint.starts_with("http://localhost:"), "{endpoint}");
    let data = secret_data(&s, 0, "dual-pypi").await;
    assert_every_url_on(&data, "localhost:");

    // Real twine and pip through the dual-stack endpoint.
    let dir = tempfile::tempdir().expect("tmp");
    project_secret(&data, &dir.path().join("secret"));
    let dist = make_dist("dual-only", "1.0", &dir.path().join("dist"), false);
    assert_ok(
        "twine upload",
        &twine_upload(&dir.path().join("secret"), &dist),
    );
    assert_ok(
        "pip install",
        &pip_install(&dir.path().join("secret"), "dual-only==1.0"),
    );

    let vpce = "vpce-0743fe535b883ffff-76ddffff.d.codeartifact.us-west-2.vpce.amazonaws.com";
    let calls = s.env.emulator.call_count("GetRepositoryEndpoint");
    s.create(
        0,
        "private",
        json!({"domain": {"name": domain}, "endpoint": {"vpcEndpointDnsName": vpce},
            "secret": {"renderings": ["pipConf", "pypirc", "env", "uv", "poetry", "netrc"]}}),
    )
    .await;
    let (obj, _) = s.wait_ready_is(0, "private", "True", None).await;
    let st = obj.status.unwrap();
    let owner = st.domain_owner.unwrap();
    let want = format!("https://{vpce}/pypi/d/{domain}-{owner}/private/");
    assert_eq!(st.repository_endpoint.as_deref(), Some(want.as_str()));
    assert_eq!(st.index_url, Some(format!("{want}simple/")));
    let data = secret_data(&s, 0, "private-pypi").await;
    assert_every_url_on(&data, &format!("{vpce}/pypi/d/{domain}-{owner}/private/"));
    assert!(data[".netrc"].contains(&format!("machine {vpce}")));
    assert_eq!(
        s.env.emulator.call_count("GetRepositoryEndpoint"),
        calls,
        "computed, not asked"
    );

    // Switching back to the public endpoint asks CodeArtifact again.
    s.repos(0)
        .patch(
            "private",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"endpoint": null}})),
        )
        .await
        .expect("drop the override");
    let ok = testenv::wait_for(Duration::from_secs(30), || async {
        s.repos(0)
            .get("private")
            .await
            .ok()
            .and_then(|o| o.status?.repository_endpoint)
            .is_some_and(|e| e.starts_with("http://127.0.0.1:"))
    })
    .await;
    assert!(ok.is_ok(), "{}", tail(&s.env.operator.logs()));

    common::iam::assert_nothing_leaked(&s, &[&s.ns(0)]).await;
    s.delete_domain(&domain).await;
}

/// The apiserver refuses malformed documents and foreign hosts, naming the field.
async fn schema_refuses_bad_policies_and_endpoints(s: &Strict, domain: &str) {
    let no_action = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Resource": "*"}]});
    let bad_version = json!({"Version": "2020-01-01", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "codeartifact:*", "Resource": "*"}]});
    for (spec, field) in [
        (
            json!({"permissionsPolicy": no_action}),
            "spec.permissionsPolicy.Statement[0]",
        ),
        (
            json!({"permissionsPolicy": bad_version}),
            "spec.permissionsPolicy.Version",
        ),
        (
            json!({"permissionsPolicy": {"Version": "2012-10-17", "Statement": []}}),
            "spec.permissionsPolicy.Statement",
        ),
        (
            json!({"endpoint": {"vpcEndpointDnsName": "evil.example.com"}}),
            "spec.endpoint.vpcEndpointDnsName",
        ),
        (json!({"endpoint": {"type": "ipv6"}}), "spec.endpoint.type"),
    ] {
        let mut full = json!({"domain": {"name": domain}});
        full.as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        let raw = json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
            "metadata": {"name": "team-bad", "namespace": s.ns(0)}, "spec": full,
        });
        let err = s
            .repos(0)
            .patch(
                "team-bad",
                &PatchParams::apply("e2e-policies"),
                &Patch::Apply(&raw),
            )
            .await
            .expect_err("refused by the schema");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}
