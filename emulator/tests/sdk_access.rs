//! The official Rust SDK against the emulator: external connections, authorization tokens,
//! repository endpoints, tags and permissions policies.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_codeartifact as ca;
use ca::types::Tag;
use codeartifact_emulator::{Emulator, TOKEN_PREFIX};
use common::{ACCOUNT, client, start};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

async fn dom_repo() -> (Emulator, ca::Client) {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain()
        .domain("dom")
        .tags(tag("a", "1"))
        .send()
        .await
        .unwrap();
    let repo = c.create_repository().domain("dom").repository("repo");
    repo.tags(tag("rk", "x")).send().await.unwrap();
    (emu, c)
}

#[tokio::test]
async fn one_external_connection_per_repository_and_only_public_pypi() {
    let (emu, c) = dom_repo().await;
    let assoc = |name: &'static str| {
        c.associate_external_connection()
            .domain("dom")
            .repository("repo")
            .external_connection(name)
            .send()
    };
    let repo = assoc("public:pypi").await.unwrap().repository.unwrap();
    let conn = &repo.external_connections()[0];
    assert_eq!(conn.external_connection_name(), Some("public:pypi"));
    assert_eq!(conn.package_format(), Some(&ca::types::PackageFormat::Pypi));
    let available = &ca::types::ExternalConnectionStatus::Available;
    assert_eq!(conn.status(), Some(available));
    let again = ca::Error::from(assoc("public:pypi").await.unwrap_err());
    assert!(matches!(again, ca::Error::ConflictException(_)));
    let npm = ca::Error::from(assoc("public:npmjs").await.unwrap_err());
    assert!(matches!(npm, ca::Error::ValidationException(_)));
    let unknown = ca::Error::from(assoc("public:nowhere").await.unwrap_err());
    assert!(matches!(unknown, ca::Error::ValidationException(_)));
    assert_eq!(emu.repositories()[0].external_connections, ["public:pypi"]);
    let dis = || {
        c.disassociate_external_connection()
            .domain("dom")
            .repository("repo")
            .external_connection("public:pypi")
            .send()
    };
    let repo = dis().await.unwrap().repository.unwrap();
    assert!(repo.external_connections().is_empty());
    let twice = ca::Error::from(dis().await.unwrap_err());
    assert!(matches!(twice, ca::Error::ResourceNotFoundException(_)));
}

#[tokio::test]
async fn tokens_honour_duration_and_are_recorded() {
    let (emu, c) = dom_repo().await;
    let tok = c
        .get_authorization_token()
        .domain("dom")
        .send()
        .await
        .unwrap();
    let token = tok.authorization_token().unwrap();
    assert!(token.starts_with(TOKEN_PREFIX) && token.len() > 100);
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    assert!(token.bytes().all(url_safe));
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
        let err = ca::Error::from(with(bad).await.unwrap_err());
        assert!(matches!(err, ca::Error::ValidationException(_)), "{bad}");
    }
    let none = c.get_authorization_token().domain("nope").send().await;
    let none = ca::Error::from(none.unwrap_err());
    assert!(matches!(none, ca::Error::ResourceNotFoundException(_)));
}

#[tokio::test]
async fn repository_endpoint_keeps_domain_and_owner_in_the_path() {
    let (emu, c) = dom_repo().await;
    let endpoint = |format: ca::types::PackageFormat| {
        c.get_repository_endpoint()
            .domain("dom")
            .repository("repo")
            .format(format)
            .send()
    };
    let ep = endpoint(ca::types::PackageFormat::Pypi).await.unwrap();
    let expected = format!("{}/pypi/d/dom-{ACCOUNT}/repo/", emu.base_url());
    assert_eq!(ep.repository_endpoint().unwrap(), expected);
    let bad_format = endpoint(ca::types::PackageFormat::from("cobol")).await;
    let bad_format = ca::Error::from(bad_format.unwrap_err());
    assert!(matches!(bad_format, ca::Error::ValidationException(_)));
}

#[tokio::test]
async fn tags_by_arn() {
    let (emu, c) = dom_repo().await;
    let domain_arn = "arn:aws:codeartifact:us-west-2:111122223333:domain/dom";
    let repo_arn = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/repo";
    let tag_it = c.tag_resource().resource_arn(domain_arn);
    tag_it
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
    let untag = c.untag_resource().resource_arn(domain_arn).tag_keys("a");
    untag.send().await.unwrap();
    assert_eq!(emu.domains()[0].tags.keys().collect::<Vec<_>>(), ["b"]);
    let repo_tags = c
        .list_tags_for_resource()
        .resource_arn(repo_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(repo_tags.tags()[0].key(), "rk");
    let ghost = "arn:aws:codeartifact:us-west-2:111122223333:domain/ghost";
    let missing = c.list_tags_for_resource().resource_arn(ghost).send().await;
    let missing = ca::Error::from(missing.unwrap_err());
    assert!(matches!(missing, ca::Error::ResourceNotFoundException(_)));
    let bad = c
        .tag_resource()
        .resource_arn("not-an-arn")
        .tags(tag("k", "v"))
        .send()
        .await;
    assert!(matches!(
        ca::Error::from(bad.unwrap_err()),
        ca::Error::ValidationException(_)
    ));
}

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

#[tokio::test]
async fn domain_policy_revision_is_an_optimistic_lock() {
    let (_emu, c) = dom_repo().await;
    let get = || c.get_domain_permissions_policy().domain("dom").send();
    let put = || {
        c.put_domain_permissions_policy()
            .domain("dom")
            .policy_document(DOC)
    };
    let none = ca::Error::from(get().await.unwrap_err());
    assert!(matches!(none, ca::Error::ResourceNotFoundException(_)));
    let p = put().send().await.unwrap();
    let policy = p.policy().unwrap();
    let arn = "arn:aws:codeartifact:us-west-2:111122223333:domain/dom";
    assert_eq!(policy.resource_arn(), Some(arn));
    let rev = policy.revision().unwrap().to_string();
    let stale = put().policy_revision("stale").send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(stale),
        ca::Error::ConflictException(_)
    ));
    let p2 = put().policy_revision(&rev).send().await.unwrap();
    let rev2 = p2.policy().unwrap().revision().unwrap().to_string();
    assert_ne!(rev, rev2);
    assert_eq!(get().await.unwrap().policy().unwrap().document(), Some(DOC));
    let delete = || c.delete_domain_permissions_policy().domain("dom");
    let wrong = delete().policy_revision(&rev).send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(wrong),
        ca::Error::ConflictException(_)
    ));
    delete().policy_revision(&rev2).send().await.unwrap();
    let invalid = c
        .put_domain_permissions_policy()
        .domain("dom")
        .policy_document("not json");
    let invalid = ca::Error::from(invalid.send().await.unwrap_err());
    assert!(matches!(invalid, ca::Error::ValidationException(_)));
}

#[tokio::test]
async fn repository_policy_put_get_delete() {
    let (_emu, c) = dom_repo().await;
    let put = c
        .put_repository_permissions_policy()
        .domain("dom")
        .repository("repo");
    let put = put.policy_document(DOC).send().await.unwrap();
    let arn = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/repo";
    assert_eq!(put.policy().unwrap().resource_arn(), Some(arn));
    let get = || {
        c.get_repository_permissions_policy()
            .domain("dom")
            .repository("repo")
            .send()
    };
    assert_eq!(get().await.unwrap().policy().unwrap().document(), Some(DOC));
    let delete = c
        .delete_repository_permissions_policy()
        .domain("dom")
        .repository("repo");
    delete.send().await.unwrap();
    let gone = ca::Error::from(get().await.unwrap_err());
    assert!(matches!(gone, ca::Error::ResourceNotFoundException(_)));
}
