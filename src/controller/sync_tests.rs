//! `sync` and the error path against the CodeArtifact emulator in process:
//! what it creates, adopts and corrects, what it refuses, and how failures
//! are classified for status, Events and retries. No Kubernetes.

use chrono::Utc;
use codeartifact_emulator::Fault;
use serde_json::json;

use super::sync;
use super::testing::{FULL, World, admitted, object, world};
use crate::config::Tenancy;
use crate::controller::ownership::{TAG_ADOPTED, TAG_UID};
use crate::controller::remote::{Note, Remote};
use crate::controller::report::failure_reason;
use crate::controller::state::Uid;
use crate::controller::status;
use crate::controller::tenancy::Admission;
use crate::crd::{EventReason, PypiRepository, Reason};
use crate::error::{Error, RetryClass};

/// One `sync` of `obj`, with what it reported.
async fn run(
    w: &World,
    obj: &PypiRepository,
    admission: Option<&Admission>,
) -> (Result<Remote, Error>, Vec<EventReason>) {
    let d = w.desired(obj, admission);
    let mut notes: Vec<Note> = vec![];
    let result = sync(obj, &w.ctx, &d, &mut notes).await;
    (result, notes.into_iter().map(|n| n.reason).collect())
}

#[tokio::test]
async fn a_missing_domain_and_repository_are_created_marked_and_then_trusted() {
    let w = world(Tenancy::Open).await;
    let obj = object(
        "web",
        1,
        json!({"domain": {"name": "acme"}, "description": "team web", "tags": {"team": "web"}}),
    );
    let (remote, notes) = run(&w, &obj, None).await;
    let remote = remote.expect("sync succeeds");
    // A first creation is told by status (Ready), not by an Event: one write less per object.
    assert_eq!(notes, [EventReason::DomainCreated]);
    let repo = w.repository("web").expect("created");
    assert_eq!(remote.repository_arn, repo.arn);
    assert_eq!(repo.description.as_deref(), Some("team web"));
    assert_eq!(repo.external_connections, ["public:pypi"]);
    assert_eq!(repo.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(repo.tags.get(TAG_UID).map(String::as_str), Some("web-uid"));
    assert_eq!(remote.applied_tag_keys, ["team"]);
    assert!(
        remote.endpoint.starts_with("http://"),
        "{}",
        remote.endpoint
    );

    w.emu.reset_calls();
    let (again, notes) = run(&w, &obj, None).await;
    assert_eq!(again.expect("from memory"), remote);
    assert!(notes.is_empty());
    assert!(
        w.emu.calls().is_empty(),
        "no call between resyncs: {:?}",
        w.emu.calls()
    );
}

#[tokio::test]
async fn a_repository_deleted_behind_our_back_is_recreated_with_an_event() {
    let w = world(Tenancy::Open).await;
    let spec = json!({"domain": {"name": "acme"}});
    let (first, _) = run(&w, &object("web", 1, spec.clone()), None).await;
    first.expect("created");
    let delete = w.sdk.delete_repository().domain("acme").repository("web");
    delete.send().await.expect("deleted by hand");

    // A new generation makes the next sync look again.
    let (result, notes) = run(&w, &object("web", 2, spec), None).await;
    result.expect("recreated");
    assert_eq!(notes, [EventReason::RepositoryCreated]);
    assert!(w.repository("web").is_some());
}

#[tokio::test]
async fn drift_in_description_upstreams_tags_and_connection_is_corrected() {
    let w = world(Tenancy::Open).await;
    w.create_domain("acme").await;
    w.create_repository("acme", "base", "shared").await;
    let spec = json!({"domain": {"name": "acme"}, "description": "d", "upstreams": ["base"], "tags": {"team": "web"}});
    run(&w, &object("web", 1, spec.clone()), None)
        .await
        .0
        .expect("created");
    let arn = w.repository("web").expect("created").arn;
    // Someone edits the repository by hand.
    let sdk = &w.sdk;
    let edit = sdk.update_repository().domain("acme").repository("web");
    edit.description("by hand")
        .set_upstreams(Some(vec![]))
        .send()
        .await
        .expect("edit");
    let tag = aws_sdk_codeartifact::types::Tag::builder()
        .key("team")
        .value("ops")
        .build()
        .expect("tag");
    sdk.tag_resource()
        .resource_arn(&arn)
        .tags(tag)
        .send()
        .await
        .expect("tag");
    let disconnect = sdk
        .disassociate_external_connection()
        .domain("acme")
        .repository("web");
    disconnect
        .external_connection("public:pypi")
        .send()
        .await
        .expect("disconnect");

    // A new generation makes the next sync look again.
    let (result, notes) = run(&w, &object("web", 2, spec), None).await;
    result.expect("corrected");
    assert!(notes.is_empty(), "nothing created or adopted: {notes:?}");
    let repo = w.repository("web").expect("still there");
    assert_eq!(repo.description.as_deref(), Some("d"));
    assert_eq!(repo.upstreams, ["base"]);
    assert_eq!(repo.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(repo.external_connections, ["public:pypi"]);
    assert_eq!(repo.tags.get(TAG_UID).map(String::as_str), Some("web-uid"));
}

#[tokio::test]
async fn strict_adoption_marks_the_repository_and_keeps_what_the_spec_does_not_state() {
    let w = world(Tenancy::Strict).await;
    w.create_domain("acme").await;
    w.create_repository("acme", "legacy", "kept as it is").await;
    let obj = object(
        "legacy",
        1,
        json!({"domain": {"name": "acme"}, "adopt": true, "tags": {"team": "web"}}),
    );
    let (result, notes) = run(&w, &obj, Some(&admitted(FULL))).await;
    result.expect("adopted");
    assert_eq!(notes, [EventReason::RepositoryAdopted]);
    let repo = w.repository("legacy").expect("still there");
    assert_eq!(repo.description.as_deref(), Some("kept as it is"));
    assert!(repo.external_connections.is_empty(), "unstated: unchanged");
    assert_eq!(repo.tags.get(TAG_ADOPTED).map(String::as_str), Some("true"));
    assert_eq!(repo.tags.get("team").map(String::as_str), Some("web"));
}

#[tokio::test]
async fn another_objects_repository_is_refused_and_left_untouched() {
    let w = world(Tenancy::Strict).await;
    w.create_domain("acme").await;
    let spec =
        json!({"domain": {"name": "acme"}, "repositoryName": "shared", "description": "mine"});
    let first = object("first", 1, spec);
    run(&w, &first, Some(&admitted(FULL)))
        .await
        .0
        .expect("created");
    let before = w.repository("shared").expect("created");

    let spec = json!({"domain": {"name": "acme"}, "repositoryName": "shared", "description": "theirs", "adopt": true});
    let (result, notes) = run(&w, &object("second", 1, spec), Some(&admitted(FULL))).await;
    let e = result.expect_err("refused");
    assert!(matches!(e, Error::OwnedElsewhere { .. }), "{e:?}");
    assert!(e.revokes_access());
    assert!(e.to_string().contains("team/first"), "{e}");
    assert!(notes.is_empty());
    assert_eq!(w.repository("shared"), Some(before), "nothing changed");
}

#[tokio::test]
async fn strict_tenancy_never_creates_a_domain() {
    let w = world(Tenancy::Strict).await;
    let obj = object("web", 1, json!({"domain": {"name": "acme"}}));
    let (result, _) = run(&w, &obj, Some(&admitted(FULL))).await;
    let e = result.expect_err("no domain");
    assert_eq!(e.reason(), Reason::DomainNotFound);
    assert_eq!(e.retry_class(), RetryClass::NeedsFix);
    assert!(w.emu.domains().is_empty());
}

#[tokio::test]
async fn a_missing_upstream_or_consumed_repository_needs_a_fix() {
    let w = world(Tenancy::Open).await;
    let spec = json!({"domain": {"name": "acme"}, "upstreams": ["nowhere"]});
    let (result, _) = run(&w, &object("web", 1, spec), None).await;
    let e = result.expect_err("missing upstream");
    assert_eq!(e.reason(), Reason::UpstreamNotFound);
    assert_eq!(e.retry_class(), RetryClass::NeedsFix);
    assert!(w.repository("web").is_none());

    let spec = json!({"domain": {"name": "acme"}, "mode": "Consume"});
    let (result, _) = run(&w, &object("reader", 1, spec), None).await;
    let e = result.expect_err("nothing to consume");
    assert_eq!(e.reason(), Reason::RepositoryNotFound);
    assert_eq!(e.retry_class(), RetryClass::NeedsFix);
}

#[tokio::test]
async fn denied_and_throttled_calls_are_classified_reported_and_recovered_from() {
    let w = world(Tenancy::Open).await;
    let obj = object("web", 1, json!({"domain": {"name": "acme"}}));
    w.emu.deny("AKIDEMULATOR", "CreateRepository");
    let e = run(&w, &obj, None).await.0.expect_err("denied");
    assert_eq!(e.reason(), Reason::AccessDenied);
    assert_eq!(e.retry_class(), RetryClass::NeedsFix);
    assert_eq!(e.category(), "access_denied");
    assert_eq!(failure_reason(&e).as_str(), "AccessDenied");
    let st = status::failed(&obj, &e, None, Utc::now());
    let ready = st
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "AccessDenied")
    );
    assert!(
        ready.message.contains("CreateRepository"),
        "{}",
        ready.message
    );
    let metrics = w.ctx.metrics.encode();
    assert!(
        metrics.contains("operation=\"CreateRepository\",outcome=\"access_denied\""),
        "{metrics}"
    );

    w.emu.clear_denies();
    let throttle = Fault {
        throttle: 1.0,
        ..Fault::default()
    };
    w.emu.set_fault("*", throttle);
    let e = run(&w, &obj, None).await.0.expect_err("throttled");
    assert_eq!(e.reason(), Reason::Throttled);
    assert_eq!(e.retry_class(), RetryClass::Transient);
    assert_eq!(failure_reason(&e), EventReason::Failed(Reason::Throttled));

    w.emu.clear_faults();
    let (result, notes) = run(&w, &obj, None).await;
    result.expect("recovers once CodeArtifact answers");
    assert!(
        notes.is_empty(),
        "the domain was remembered and a first creation has no Event: {notes:?}"
    );
    assert!(w.ctx.states.read(&Uid::of(&obj), |s| s.synced.is_some()));
}

#[test]
fn a_failed_token_mint_is_reported_as_such() {
    let e = Error::Aws(crate::aws::AwsError {
        operation: "GetAuthorizationToken",
        kind: crate::aws::AwsErrorKind::AccessDenied,
        message: "no".into(),
    });
    assert_eq!(failure_reason(&e), EventReason::TokenRefreshFailed);
    assert_eq!(
        e.reason(),
        Reason::AccessDenied,
        "the condition keeps the cause"
    );
}
