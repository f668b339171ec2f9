//! The official Rust SDK against the emulator: domains, repositories, external connections,
//! tokens, endpoints, tags and permissions policies, including their error cases.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_codeartifact as ca;
use ca::error::ProvideErrorMetadata;
use ca::types::{ResourceType, Tag, UpstreamRepository, ValidationExceptionReason};
use common::{ACCOUNT, client, other_client, start};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn upstream(name: &str) -> UpstreamRepository {
    UpstreamRepository::builder()
        .repository_name(name)
        .build()
        .unwrap()
}

#[tokio::test]
async fn domain_lifecycle_with_conflicts_validation_and_not_found() {
    let emu = start().await;
    let c = client(&emu);
    let created = c
        .create_domain()
        .domain("my-domain")
        .encryption_key("alias/k")
        .tags(tag("team", "x"))
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
    let created_at = d.created_time().unwrap().as_secs_f64();
    assert!(
        (created_at - now()).abs() < 60.0,
        "createdTime is epoch seconds"
    );

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
            assert_eq!(
                e.reason(),
                Some(&ValidationExceptionReason::FieldValidationFailed)
            );
            assert!(e.message().contains("'domain'"), "{:?}", e.message());
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

    c.create_repository()
        .domain("my-domain")
        .repository("r1")
        .send()
        .await
        .unwrap();
    let described = c
        .describe_domain()
        .domain("my-domain")
        .send()
        .await
        .unwrap();
    assert_eq!(described.domain.unwrap().repository_count(), 1);
    assert_eq!(emu.domains()[0].repository_count, 1);
    assert_eq!(emu.domains()[0].tags["team"], "x");

    let busy = c
        .delete_domain()
        .domain("my-domain")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(busy),
        ca::Error::ConflictException(_)
    ));
    c.delete_repository()
        .domain("my-domain")
        .repository("r1")
        .send()
        .await
        .unwrap();
    let deleted = c.delete_domain().domain("my-domain").send().await.unwrap();
    assert_eq!(deleted.domain.unwrap().name(), Some("my-domain"));
    assert!(emu.domains().is_empty());
    // Not in DeleteDomain's error list: the SDK reports it unhandled, with the code.
    let gone = c
        .delete_domain()
        .domain("my-domain")
        .send()
        .await
        .unwrap_err();
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
async fn repositories_enforce_upstream_rules() {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    let missing_up = c
        .create_repository()
        .domain("dom")
        .repository("ra")
        .upstreams(upstream("ghost"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(missing_up),
        ca::Error::ResourceNotFoundException(_)
    ));
    for r in ["rb", "rc"] {
        c.create_repository()
            .domain("dom")
            .repository(r)
            .send()
            .await
            .unwrap();
    }
    let a = c
        .create_repository()
        .domain("dom")
        .repository("ra")
        .description("first")
        .upstreams(upstream("rb"))
        .upstreams(upstream("rc"))
        .send()
        .await
        .unwrap()
        .repository
        .unwrap();
    let ups: Vec<_> = a
        .upstreams()
        .iter()
        .map(|u| u.repository_name().unwrap())
        .collect();
    assert_eq!(ups, ["rb", "rc"]);
    assert_eq!(
        a.arn(),
        Some("arn:aws:codeartifact:us-west-2:111122223333:repository/dom/ra")
    );
    assert_eq!(a.administrator_account(), Some(ACCOUNT));

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
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(dup),
        ca::Error::ConflictException(_)
    ));

    for i in 0..11 {
        let name = format!("u{i:02}");
        c.create_repository()
            .domain("dom")
            .repository(&name)
            .send()
            .await
            .unwrap();
    }
    let mut too_many = c.update_repository().domain("dom").repository("rb");
    for i in 0..11 {
        too_many = too_many.upstreams(upstream(&format!("u{i:02}")));
    }
    let err = too_many.send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(err),
        ca::Error::ServiceQuotaExceededException(_)
    ));

    // Leaving upstreams out keeps them; an empty list removes them.
    let kept = c
        .update_repository()
        .domain("dom")
        .repository("ra")
        .description("second")
        .send()
        .await
        .unwrap()
        .repository
        .unwrap();
    assert_eq!(
        (kept.upstreams().len(), kept.description()),
        (2, Some("second"))
    );
    let cleared = c
        .update_repository()
        .domain("dom")
        .repository("ra")
        .set_upstreams(Some(vec![]))
        .send()
        .await
        .unwrap()
        .repository
        .unwrap();
    assert!(cleared.upstreams().is_empty());

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
    assert_eq!(listed.len(), 10);
    assert!(listed.iter().all(|r| r.name().unwrap().starts_with("u0")));
    let bad = c
        .describe_repository()
        .domain("dom")
        .repository("-x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(bad),
        ca::Error::ValidationException(_)
    ));
    let missing = c
        .describe_repository()
        .domain("dom")
        .repository("zz")
        .send()
        .await
        .unwrap_err();
    match ca::Error::from(missing) {
        ca::Error::ResourceNotFoundException(e) => {
            assert_eq!(e.resource_type(), Some(&ResourceType::Repository))
        }
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }
}

#[tokio::test]
async fn external_connections_tokens_and_endpoints() {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    c.create_repository()
        .domain("dom")
        .repository("repo")
        .send()
        .await
        .unwrap();
    let assoc = c
        .associate_external_connection()
        .domain("dom")
        .repository("repo")
        .external_connection("public:pypi")
        .send()
        .await
        .unwrap()
        .repository
        .unwrap();
    let conn = &assoc.external_connections()[0];
    assert_eq!(conn.external_connection_name(), Some("public:pypi"));
    assert_eq!(conn.package_format(), Some(&ca::types::PackageFormat::Pypi));
    assert_eq!(
        conn.status(),
        Some(&ca::types::ExternalConnectionStatus::Available)
    );
    let assoc = |name: &'static str| {
        c.associate_external_connection()
            .domain("dom")
            .repository("repo")
            .external_connection(name)
            .send()
    };
    assert!(matches!(
        ca::Error::from(assoc("public:pypi").await.unwrap_err()),
        ca::Error::ConflictException(_)
    ));
    assert!(matches!(
        ca::Error::from(assoc("public:npmjs").await.unwrap_err()),
        ca::Error::ValidationException(_)
    ));
    assert!(matches!(
        ca::Error::from(assoc("public:nowhere").await.unwrap_err()),
        ca::Error::ValidationException(_)
    ));
    assert_eq!(emu.repositories()[0].external_connections, ["public:pypi"]);
    let dis = || {
        c.disassociate_external_connection()
            .domain("dom")
            .repository("repo")
            .external_connection("public:pypi")
            .send()
    };
    assert!(
        dis()
            .await
            .unwrap()
            .repository
            .unwrap()
            .external_connections()
            .is_empty()
    );
    assert!(matches!(
        ca::Error::from(dis().await.unwrap_err()),
        ca::Error::ResourceNotFoundException(_)
    ));

    let tok = c
        .get_authorization_token()
        .domain("dom")
        .send()
        .await
        .unwrap();
    let token = tok.authorization_token().unwrap();
    assert!(token.starts_with(codeartifact_emulator::TOKEN_PREFIX) && token.len() > 100);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!((tok.expiration().unwrap().as_secs_f64() - now() - 43_200.0).abs() < 60.0);
    assert!(emu.issued_tokens().contains(&token.to_string()));
    let with = |d: i64| {
        c.get_authorization_token()
            .domain("dom")
            .duration_seconds(d)
            .send()
    };
    let short = with(900).await.unwrap().expiration().unwrap().as_secs_f64();
    assert!((short - now() - 900.0).abs() < 60.0);
    let zero = with(0).await.unwrap().expiration().unwrap().as_secs_f64();
    assert!((zero - now() - 43_200.0).abs() < 60.0);
    for bad in [899, 43_201] {
        assert!(matches!(
            ca::Error::from(with(bad).await.unwrap_err()),
            ca::Error::ValidationException(_)
        ));
    }
    let none = c
        .get_authorization_token()
        .domain("nope")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(none),
        ca::Error::ResourceNotFoundException(_)
    ));

    let ep = c
        .get_repository_endpoint()
        .domain("dom")
        .repository("repo")
        .format(ca::types::PackageFormat::Pypi)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ep.repository_endpoint().unwrap(),
        format!("{}/pypi/d/dom-{ACCOUNT}/repo/", emu.base_url())
    );
    let bad_format = c
        .get_repository_endpoint()
        .domain("dom")
        .repository("repo")
        .format(ca::types::PackageFormat::from("cobol"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(bad_format),
        ca::Error::ValidationException(_)
    ));
}

#[tokio::test]
async fn tags_by_arn() {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain()
        .domain("dom")
        .tags(tag("a", "1"))
        .send()
        .await
        .unwrap();
    c.create_repository()
        .domain("dom")
        .repository("repo")
        .tags(tag("rk", "x"))
        .send()
        .await
        .unwrap();
    let domain_arn = "arn:aws:codeartifact:us-west-2:111122223333:domain/dom";
    let repo_arn = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/repo";
    c.tag_resource()
        .resource_arn(domain_arn)
        .tags(tag("b", "2"))
        .tags(tag("a", "3"))
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(domain_arn)
        .send()
        .await
        .unwrap();
    let pairs: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("a", "3"), ("b", "2")]);
    c.untag_resource()
        .resource_arn(domain_arn)
        .tag_keys("a")
        .send()
        .await
        .unwrap();
    assert_eq!(emu.domains()[0].tags.keys().collect::<Vec<_>>(), ["b"]);
    let repo_tags = c
        .list_tags_for_resource()
        .resource_arn(repo_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(repo_tags.tags()[0].key(), "rk");
    let missing = c
        .list_tags_for_resource()
        .resource_arn("arn:aws:codeartifact:us-west-2:111122223333:domain/ghost")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(missing),
        ca::Error::ResourceNotFoundException(_)
    ));
    let bad = c
        .tag_resource()
        .resource_arn("not-an-arn")
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(bad),
        ca::Error::ValidationException(_)
    ));
}

#[tokio::test]
async fn permissions_policies_use_revisions_as_locks() {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    c.create_repository()
        .domain("dom")
        .repository("repo")
        .send()
        .await
        .unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[]}"#;
    let none = c
        .get_domain_permissions_policy()
        .domain("dom")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(none),
        ca::Error::ResourceNotFoundException(_)
    ));
    let p = c
        .put_domain_permissions_policy()
        .domain("dom")
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    let rev = p.policy().unwrap().revision().unwrap().to_string();
    assert_eq!(
        p.policy().unwrap().resource_arn(),
        Some("arn:aws:codeartifact:us-west-2:111122223333:domain/dom")
    );
    let stale = c
        .put_domain_permissions_policy()
        .domain("dom")
        .policy_revision("stale")
        .policy_document(doc)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(stale),
        ca::Error::ConflictException(_)
    ));
    let p2 = c
        .put_domain_permissions_policy()
        .domain("dom")
        .policy_revision(&rev)
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    let rev2 = p2.policy().unwrap().revision().unwrap().to_string();
    assert_ne!(rev, rev2);
    let got = c
        .get_domain_permissions_policy()
        .domain("dom")
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy().unwrap().document(), Some(doc));
    let wrong = c
        .delete_domain_permissions_policy()
        .domain("dom")
        .policy_revision(&rev)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(wrong),
        ca::Error::ConflictException(_)
    ));
    c.delete_domain_permissions_policy()
        .domain("dom")
        .policy_revision(&rev2)
        .send()
        .await
        .unwrap();
    let invalid = c
        .put_domain_permissions_policy()
        .domain("dom")
        .policy_document("not json")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(invalid),
        ca::Error::ValidationException(_)
    ));

    let put = c
        .put_repository_permissions_policy()
        .domain("dom")
        .repository("repo")
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.policy().unwrap().resource_arn(),
        Some("arn:aws:codeartifact:us-west-2:111122223333:repository/dom/repo")
    );
    let got = c
        .get_repository_permissions_policy()
        .domain("dom")
        .repository("repo")
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy().unwrap().document(), Some(doc));
    c.delete_repository_permissions_policy()
        .domain("dom")
        .repository("repo")
        .send()
        .await
        .unwrap();
    let gone = c
        .get_repository_permissions_policy()
        .domain("dom")
        .repository("repo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(gone),
        ca::Error::ResourceNotFoundException(_)
    ));
}
