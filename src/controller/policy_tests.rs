//! Repository permissions policies and endpoints through `sync`, against
//! the emulator in process: put, kept without a write, a hand edit put
//! back, deleted only when the operator set it; endpointType and the VPC
//! endpoint override.

use serde_json::{Value, json};

use crate::config::Tenancy;
use crate::controller::remote::{Note, Remote};
use crate::controller::repository::sync;
use crate::controller::repository::testing::{World, object, world};
use crate::crd::{EventReason, PypiRepository, PypiRepositoryStatus};

fn policy(account: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "codeartifact:ReadFromRepository", "Resource": "*"}]})
}

fn with_policy(generation: i64, p: Option<Value>, revision: Option<&str>) -> PypiRepository {
    let mut spec = json!({"domain": {"name": "acme"}});
    if let Some(p) = p {
        spec["permissionsPolicy"] = p;
    }
    let mut obj = object("web", generation, spec);
    obj.status = Some(PypiRepositoryStatus {
        policy_revision: revision.map(str::to_string),
        ..Default::default()
    });
    obj
}

async fn run(w: &World, obj: &PypiRepository) -> (Remote, Vec<EventReason>) {
    let d = w.desired(obj, None);
    let mut notes: Vec<Note> = vec![];
    let remote = sync(obj, &w.ctx, &d, &mut notes).await.expect("sync");
    (remote, notes.into_iter().map(|n| n.reason).collect())
}

async fn held(w: &World) -> Option<(String, Value)> {
    let out = w
        .sdk
        .get_repository_permissions_policy()
        .domain("acme")
        .repository("web")
        .send()
        .await
        .ok()?;
    let p = out.policy()?;
    let doc = serde_json::from_str(p.document()?).ok()?;
    Some((p.revision()?.to_string(), doc))
}

#[tokio::test]
async fn a_repository_policy_is_put_kept_restored_and_removed() {
    let w = world(Tenancy::Open).await;
    let (remote, notes) = run(&w, &with_policy(1, Some(policy("444455556666")), None)).await;
    let (rev, doc) = held(&w).await.expect("the policy is there");
    assert_eq!(doc, policy("444455556666"));
    assert_eq!(remote.policy_revision.as_deref(), Some(rev.as_str()));
    assert!(notes.contains(&EventReason::PermissionsPolicyApplied));

    // Unchanged: read, not written.
    let (remote, notes) = run(
        &w,
        &with_policy(2, Some(policy("444455556666")), Some(&rev)),
    )
    .await;
    assert_eq!(w.emu.call_count("PutRepositoryPermissionsPolicy"), 1);
    assert_eq!(remote.policy_revision.as_deref(), Some(rev.as_str()));
    assert!(notes.is_empty(), "{notes:?}");

    // A hand edit is put back, over the edited revision.
    w.sdk
        .put_repository_permissions_policy()
        .domain("acme")
        .repository("web")
        .policy_revision(&rev)
        .policy_document(policy("999999999999").to_string())
        .send()
        .await
        .expect("hand edit");
    let (remote, _) = run(
        &w,
        &with_policy(3, Some(policy("444455556666")), Some(&rev)),
    )
    .await;
    let (rev2, doc) = held(&w).await.expect("restored");
    assert_eq!(doc, policy("444455556666"));
    assert_eq!(remote.policy_revision, Some(rev2.clone()));

    // Removed from the spec: deleted, as the operator set it.
    let (remote, notes) = run(&w, &with_policy(4, None, Some(&rev2))).await;
    assert!(held(&w).await.is_none());
    assert_eq!(remote.policy_revision, None);
    assert!(notes.contains(&EventReason::PermissionsPolicyDeleted));
}

#[tokio::test]
async fn a_policy_the_operator_did_not_set_is_left_alone() {
    let w = world(Tenancy::Open).await;
    run(&w, &with_policy(1, None, None)).await;
    w.sdk
        .put_repository_permissions_policy()
        .domain("acme")
        .repository("web")
        .policy_document(policy("999999999999").to_string())
        .send()
        .await
        .expect("someone else's policy");
    let calls = w.emu.call_count("GetRepositoryPermissionsPolicy");
    run(&w, &with_policy(2, None, None)).await;
    assert_eq!(
        w.emu.call_count("GetRepositoryPermissionsPolicy"),
        calls,
        "no policy in the spec and none of ours: no call at all"
    );
    assert_eq!(held(&w).await.map(|h| h.1), Some(policy("999999999999")));
}

#[tokio::test]
async fn the_endpoint_follows_endpoint_type_and_the_vpc_override() {
    let w = world(Tenancy::Open).await;
    let (ipv4, _) = run(&w, &object("web", 1, json!({"domain": {"name": "acme"}}))).await;
    let dual = object(
        "web",
        2,
        json!({"domain": {"name": "acme"}, "endpoint": {"type": "dualstack"}}),
    );
    let (dual, _) = run(&w, &dual).await;
    assert_ne!(ipv4.endpoint, dual.endpoint);
    assert!(
        dual.endpoint.starts_with("http://localhost:"),
        "{}",
        dual.endpoint
    );
    let vpce = "vpce-0743fe535b883ffff-76ddffff.d.codeartifact.us-west-2.vpce.amazonaws.com";
    let calls = w.emu.call_count("GetRepositoryEndpoint");
    let vpc = object(
        "web",
        3,
        json!({"domain": {"name": "acme"}, "endpoint": {"vpcEndpointDnsName": vpce}}),
    );
    let (vpc, _) = run(&w, &vpc).await;
    assert_eq!(
        vpc.endpoint,
        format!("https://{vpce}/pypi/d/acme-{}/web/", vpc.domain_owner)
    );
    assert_eq!(
        w.emu.call_count("GetRepositoryEndpoint"),
        calls,
        "computed, not asked"
    );
}

#[tokio::test]
async fn a_stale_revision_is_a_conflict_and_a_retried_put_wins() {
    let w = world(Tenancy::Open).await;
    let obj = with_policy(1, Some(policy("444455556666")), None);
    run(&w, &obj).await;
    let aws = w.ctx.aws_for(&w.desired(&obj, None)).await;
    let on = crate::aws::PolicyOn::Repository("acme", None, "web");
    let doc = policy("999999999999").to_string();
    let stale = aws.put_policy(on, Some("stale"), &doc).await;
    assert_eq!(
        stale.expect_err("a stale revision is refused").kind,
        crate::aws::AwsErrorKind::Conflict
    );
    let applied = super::sync_policy(&aws, on, Some(&policy("1")), true, "spec.permissionsPolicy")
        .await
        .expect("read, then put at the held revision");
    assert_eq!(applied.change, Some(super::Change::Put));
    assert_eq!(held(&w).await.map(|h| h.1), Some(policy("1")));
}
