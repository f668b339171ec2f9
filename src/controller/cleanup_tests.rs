//! The delete side against the CodeArtifact emulator in process: what goes,
//! what is kept, and how a refused delete is classified. No Kubernetes.

use serde_json::json;

use super::{delete, delete_remote};
use crate::access::Grant;
use crate::config::Tenancy;
use crate::controller::remote::Note;
use crate::controller::repository::sync;
use crate::controller::repository::testing::{FULL, World, admitted, object, world};
use crate::crd::{EventReason, PypiRepository, Reason};
use crate::error::RetryClass;

const DELETE: &str = "Delete";

fn reasons(notes: Vec<Note>) -> Vec<EventReason> {
    notes.into_iter().map(|n| n.reason).collect()
}

/// `web` with `policy`, synced into CodeArtifact by the operator (open tenancy).
async fn created(w: &World, policy: &str) -> PypiRepository {
    let obj = object(
        "web",
        1,
        json!({"domain": {"name": "acme"}, "deletionPolicy": policy}),
    );
    let d = w.desired(&obj, None);
    sync(&obj, &w.ctx, &d, &mut vec![]).await.expect("synced");
    obj
}

#[tokio::test]
async fn delete_removes_the_repository_then_the_empty_domain_it_created_and_is_idempotent() {
    let w = world(Tenancy::Open).await;
    let obj = created(&w, DELETE).await;
    let mut notes = vec![];
    delete(&obj, &w.ctx, &mut notes).await.expect("deleted");
    assert_eq!(
        reasons(notes),
        [EventReason::RepositoryDeleted, EventReason::DomainDeleted]
    );
    assert!(w.emu.repositories().is_empty());
    assert!(w.emu.domains().is_empty());

    let mut notes = vec![];
    delete(&obj, &w.ctx, &mut notes)
        .await
        .expect("gone counts as deleted");
    assert!(notes.is_empty(), "{notes:?}");
}

#[tokio::test]
async fn what_this_object_did_not_create_is_kept() {
    let w = world(Tenancy::Open).await;
    w.create_domain("acme").await;
    w.create_repository("acme", "web", "made by hand").await;
    let obj = object(
        "web",
        1,
        json!({"domain": {"name": "acme"}, "deletionPolicy": DELETE}),
    );
    let mut notes = vec![];
    delete(&obj, &w.ctx, &mut notes).await.expect("kept");
    assert_eq!(
        reasons(notes),
        [EventReason::RepositoryKept, EventReason::DomainKept]
    );
    assert!(w.repository("web").is_some());
    assert_eq!(w.emu.call_count("DeleteRepository"), 0);
}

#[tokio::test]
async fn retain_and_consumers_touch_nothing_in_codeartifact() {
    let w = world(Tenancy::Open).await;
    let obj = created(&w, "Retain").await;
    // The schema refuses Delete on a consumer; the code never deletes for one all the same.
    let reader = object(
        "reader",
        1,
        json!({"domain": {"name": "acme"}, "repositoryName": "web", "mode": "Consume", "deletionPolicy": DELETE}),
    );
    w.emu.reset_calls();
    for o in [&obj, &reader] {
        let mut notes = vec![];
        delete(o, &w.ctx, &mut notes).await.expect("retained");
        assert_eq!(reasons(notes), [EventReason::Retained]);
    }
    assert!(w.emu.calls().is_empty(), "{:?}", w.emu.calls());
    assert!(w.repository("web").is_some());
}

#[tokio::test]
async fn a_refused_delete_keeps_the_repository_and_needs_a_fix() {
    let w = world(Tenancy::Open).await;
    let obj = created(&w, DELETE).await;
    w.emu.deny("AKIDEMULATOR", "DeleteRepository");
    let mut notes = vec![];
    let e = delete(&obj, &w.ctx, &mut notes).await.expect_err("refused");
    assert_eq!(e.reason(), Reason::AccessDenied);
    assert_eq!(e.retry_class(), RetryClass::NeedsFix);
    assert!(e.report().contains("DeleteRepository"), "{}", e.report());
    assert!(notes.is_empty());
    assert!(w.repository("web").is_some());

    w.emu.clear_denies();
    delete(&obj, &w.ctx, &mut vec![])
        .await
        .expect("the retry deletes");
    assert!(w.repository("web").is_none());
}

#[tokio::test]
async fn strict_tenancy_deletes_only_with_the_grant_and_never_the_domain() {
    let w = world(Tenancy::Strict).await;
    w.create_domain("acme").await;
    let obj = object(
        "web",
        1,
        json!({"domain": {"name": "acme"}, "deletionPolicy": DELETE}),
    );
    let d = w.desired(&obj, Some(&admitted(FULL)));
    sync(&obj, &w.ctx, &d, &mut vec![]).await.expect("created");

    let no_delete = admitted(Grant {
        delete: false,
        ..FULL
    });
    let mut notes = vec![];
    delete_remote(&obj, &w.ctx, Some(&no_delete), &mut notes)
        .await
        .expect("kept");
    assert_eq!(reasons(notes), [EventReason::RepositoryKept]);
    assert!(w.repository("web").is_some());

    // Before the watches have loaded the CodeArtifactDomains nothing is decided.
    let mut notes = vec![];
    delete(&obj, &w.ctx, &mut notes).await.expect("kept");
    assert!(notes[0].message.contains("not loaded"), "{notes:?}");
    assert!(w.repository("web").is_some());

    let mut notes = vec![];
    delete_remote(&obj, &w.ctx, Some(&admitted(FULL)), &mut notes)
        .await
        .expect("deleted");
    assert_eq!(reasons(notes), [EventReason::RepositoryDeleted]);
    assert!(w.repository("web").is_none());
    assert_eq!(
        w.emu.domains().len(),
        1,
        "the domain is its CodeArtifactDomain's"
    );
}
