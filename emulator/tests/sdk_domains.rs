//! The official Rust SDK against the emulator: domains and repositories, with their conflicts,
//! validation errors, not-found errors, upstream rules and pagination.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_codeartifact as ca;
use ca::error::ProvideErrorMetadata;
use ca::types::{ResourceType, Tag, UpstreamRepository, ValidationExceptionReason};
use common::{ACCOUNT, client, other_client, start};

fn upstream(name: &str) -> UpstreamRepository {
    UpstreamRepository::builder()
        .repository_name(name)
        .build()
        .unwrap()
}

/// A client with domain "dom" and empty repositories `repos`.
async fn domain_with(repos: &[&str]) -> (codeartifact_emulator::Emulator, ca::Client) {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    for r in repos {
        c.create_repository()
            .domain("dom")
            .repository(*r)
            .send()
            .await
            .unwrap();
    }
    (emu, c)
}

#[tokio::test]
async fn create_domain_reports_arn_owner_key_and_epoch_timestamps() {
    let emu = start().await;
    let c = client(&emu);
    let tag = Tag::builder().key("team").value("x").build().unwrap();
    let created = c
        .create_domain()
        .domain("my-domain")
        .encryption_key("alias/k")
        .tags(tag)
        .send()
        .await
        .unwrap();
    let d = created.domain.unwrap();
    assert_eq!(d.name(), Some("my-domain"));
    assert_eq!(d.owner(), Some(ACCOUNT));
    assert_eq!(
        d.arn(),
        Some("arn:aws:codeartifact:us-west-2:111122223333:domain/my-domain")
    );
    assert_eq!(d.status(), Some(&ca::types::DomainStatus::Active));
    assert_eq!(d.repository_count(), 0);
    assert_eq!(
        d.encryption_key(),
        Some("arn:aws:kms:us-west-2:111122223333:alias/k")
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((d.created_time().unwrap().as_secs_f64() - now).abs() < 60.0);
    assert_eq!(emu.domains()[0].tags["team"], "x");
}

#[tokio::test]
async fn domain_errors_are_typed_conflict_validation_and_not_found() {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain().domain("my-domain").send().await.unwrap();
    let dup = c
        .create_domain()
        .domain("my-domain")
        .send()
        .await
        .unwrap_err();
    match ca::Error::from(dup) {
        ca::Error::ConflictException(e) => {
            assert_eq!(e.resource_type(), Some(&ResourceType::Domain));
            assert!(e.message().contains("my-domain"));
        }
        other => panic!("expected ConflictException, got {other:?}"),
    }
    let bad = c
        .create_domain()
        .domain("Bad_Name!")
        .send()
        .await
        .unwrap_err();
    match ca::Error::from(bad) {
        ca::Error::ValidationException(e) => {
            let reason = Some(&ValidationExceptionReason::FieldValidationFailed);
            assert_eq!(e.reason(), reason);
            assert!(e.message().contains("'domain'"), "{}", e.message());
        }
        other => panic!("expected ValidationException, got {other:?}"),
    }
    let missing = c.describe_domain().domain("nope").send().await.unwrap_err();
    match ca::Error::from(missing) {
        ca::Error::ResourceNotFoundException(e) => {
            assert_eq!(e.resource_type(), Some(&ResourceType::Domain));
        }
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }
}

#[tokio::test]
async fn a_domain_with_repositories_cannot_be_deleted() {
    let (emu, c) = domain_with(&["r1"]).await;
    let described = c.describe_domain().domain("dom").send().await.unwrap();
    assert_eq!(described.domain.unwrap().repository_count(), 1);
    assert_eq!(emu.domains()[0].repository_count, 1);
    let busy = c.delete_domain().domain("dom").send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(busy),
        ca::Error::ConflictException(_)
    ));
    c.delete_repository()
        .domain("dom")
        .repository("r1")
        .send()
        .await
        .unwrap();
    let deleted = c.delete_domain().domain("dom").send().await.unwrap();
    assert_eq!(deleted.domain.unwrap().name(), Some("dom"));
    assert!(emu.domains().is_empty());
    // Not in DeleteDomain's error list: the SDK reports it unhandled, with the code.
    let gone = c.delete_domain().domain("dom").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn list_domains_paginates_and_is_per_account() {
    let emu = start().await;
    let c = client(&emu);
    for name in ["d-e", "d-a", "d-c", "d-b", "d-d"] {
        c.create_domain().domain(name).send().await.unwrap();
    }
    let page = c.list_domains().max_results(2).send().await.unwrap();
    assert_eq!(page.domains().len(), 2);
    assert!(page.next_token().is_some());
    let all: Vec<_> = c
        .list_domains()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let names: Vec<_> = all.iter().map(|d| d.name().unwrap().to_string()).collect();
    assert_eq!(names, ["d-a", "d-b", "d-c", "d-d", "d-e"]);
    let other = other_client(&emu).list_domains().send().await.unwrap();
    assert!(other.domains().is_empty());
    let bad = c.list_domains().max_results(5000).send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(bad),
        ca::Error::ValidationException(_)
    ));
}

#[tokio::test]
async fn upstreams_must_exist_and_must_not_form_a_cycle() {
    let (_emu, c) = domain_with(&["rb", "rc"]).await;
    let create_ra = |up: &str| {
        c.create_repository()
            .domain("dom")
            .repository("ra")
            .description("first")
            .upstreams(upstream(up))
            .upstreams(upstream("rc"))
            .send()
    };
    let missing = create_ra("ghost").await.unwrap_err();
    assert!(matches!(
        ca::Error::from(missing),
        ca::Error::ResourceNotFoundException(_)
    ));
    let ra = create_ra("rb").await.unwrap().repository.unwrap();
    let ups: Vec<_> = ra
        .upstreams()
        .iter()
        .map(|u| u.repository_name().unwrap())
        .collect();
    assert_eq!(ups, ["rb", "rc"]);
    let arn = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/ra";
    assert_eq!(ra.arn(), Some(arn));
    assert_eq!(ra.administrator_account(), Some(ACCOUNT));
    let cycle = c
        .update_repository()
        .domain("dom")
        .repository("rc")
        .upstreams(upstream("ra"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(cycle),
        ca::Error::ValidationException(_)
    ));
    let dup = c
        .create_repository()
        .domain("dom")
        .repository("rb")
        .send()
        .await;
    assert!(matches!(
        ca::Error::from(dup.unwrap_err()),
        ca::Error::ConflictException(_)
    ));
}

#[tokio::test]
async fn at_most_ten_upstreams_and_update_keeps_what_is_left_out() {
    let names: Vec<String> = (0..11).map(|i| format!("u{i:02}")).collect();
    let mut repos: Vec<&str> = names.iter().map(String::as_str).collect();
    repos.push("ra");
    let (_emu, c) = domain_with(&repos).await;
    let mut too_many = c.update_repository().domain("dom").repository("ra");
    for n in &names {
        too_many = too_many.upstreams(upstream(n));
    }
    let err = too_many.send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(err),
        ca::Error::ServiceQuotaExceededException(_)
    ));

    let update = || c.update_repository().domain("dom").repository("ra");
    let two = update()
        .upstreams(upstream("u00"))
        .upstreams(upstream("u01"));
    two.send().await.unwrap();
    let kept = update().description("second").send().await.unwrap();
    let kept = kept.repository.unwrap();
    assert_eq!(
        (kept.upstreams().len(), kept.description()),
        (2, Some("second"))
    );
    let cleared = update().set_upstreams(Some(vec![])).send().await.unwrap();
    assert!(cleared.repository.unwrap().upstreams().is_empty());
}

#[tokio::test]
async fn repositories_list_with_prefix_and_pages_and_validate_names() {
    let names: Vec<String> = (0..10).map(|i| format!("u{i:02}")).collect();
    let mut repos: Vec<&str> = names.iter().map(String::as_str).collect();
    repos.push("other");
    let (_emu, c) = domain_with(&repos).await;
    let listed: Vec<_> = c
        .list_repositories_in_domain()
        .domain("dom")
        .repository_prefix("u0")
        .max_results(4)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let got: Vec<_> = listed
        .iter()
        .map(|r| r.name().unwrap().to_string())
        .collect();
    assert_eq!(got, names);
    let describe = |r: &str| c.describe_repository().domain("dom").repository(r).send();
    let bad = describe("-x").await.unwrap_err();
    assert!(matches!(
        ca::Error::from(bad),
        ca::Error::ValidationException(_)
    ));
    match ca::Error::from(describe("zz").await.unwrap_err()) {
        ca::Error::ResourceNotFoundException(e) => {
            assert_eq!(e.resource_type(), Some(&ResourceType::Repository))
        }
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }
}
