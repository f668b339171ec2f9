//! The Rust SDK's package operations (ListPackages, ListPackageVersions, Delete/Dispose/Copy,
//! PutPackageOriginConfiguration) over files uploaded to the PyPI endpoint, and cross-account use.

mod common;

use aws_sdk_codeartifact as ca;
use ca::operation::list_package_versions::ListPackageVersionsOutput;
use std::collections::HashMap;

use ca::types::{
    PackageFormat, PackageOriginRestrictions, PackageVersionError, PackageVersionStatus,
};
use codeartifact_emulator::Emulator;
use common::{ACCOUNT, client, domain_with_repo, other_client, start, upload};

async fn versions(c: &ca::Client, repo: &str, pkg: &str) -> ListPackageVersionsOutput {
    c.list_package_versions()
        .domain("dom")
        .repository(repo)
        .format(PackageFormat::Pypi)
        .package(pkg)
        .send()
        .await
        .unwrap()
}

/// Domain "dom", repository "repo", and `files` (name, version, file name) uploaded to it.
async fn published(files: &[(&str, &str, &str)]) -> (Emulator, ca::Client, String, String) {
    let emu = start().await;
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    for (name, ver, file) in files {
        let r = upload(&endpoint, &token, name, ver, file, file.as_bytes()).await;
        assert_eq!(r.status(), 200, "{file}");
    }
    (emu, c, token, endpoint)
}

const DEMO: &[(&str, &str, &str)] = &[
    ("Demo_Pkg", "1.0", "demo_pkg-1.0-py3-none-any.whl"),
    ("Demo_Pkg", "1.0", "demo_pkg-1.0.tar.gz"),
    ("demo-pkg", "2.0", "demo_pkg-2.0-py3-none-any.whl"),
    ("Other.Pkg", "0.1", "other_pkg-0.1-py3-none-any.whl"),
];

fn error_code(map: Option<&HashMap<String, PackageVersionError>>, version: &str) -> String {
    let error = &map.expect("failedVersions")[version];
    error.error_code().expect("errorCode").as_str().to_string()
}

#[tokio::test]
async fn list_packages_shows_normalised_names_filters_and_pages() {
    let (_emu, c, token, endpoint) = published(DEMO).await;
    let file = "demo_pkg-2.0-py3-none-any.whl";
    let dup = upload(&endpoint, &token, "demo-pkg", "2.0", file, b"x").await;
    assert_eq!(dup.status(), 409);
    let list = || c.list_packages().domain("dom").repository("repo");
    let pkgs = list().send().await.unwrap();
    let names: Vec<_> = pkgs
        .packages()
        .iter()
        .map(|p| p.package().unwrap())
        .collect();
    assert_eq!(names, ["demo-pkg", "other-pkg"]);
    let origin = pkgs.packages()[0].origin_configuration().unwrap();
    let origin = origin.restrictions().unwrap();
    assert_eq!(origin.publish().as_str(), "ALLOW");
    assert_eq!(origin.upstream().as_str(), "BLOCK");
    let prefixed = list().package_prefix("Demo_").send().await.unwrap();
    assert_eq!(prefixed.packages().len(), 1);
    let pages = list().max_results(1).into_paginator().items().send();
    let paged: Vec<_> = pages.try_collect().await.unwrap();
    assert_eq!(paged.len(), 2);
}

#[tokio::test]
async fn list_package_versions_reports_status_origin_and_default_version() {
    let (_emu, c, _, _) = published(DEMO).await;
    let v = versions(&c, "repo", "Demo_Pkg").await;
    assert_eq!(v.package(), Some("demo-pkg"));
    assert_eq!(v.default_display_version(), Some("2.0"));
    let listed: Vec<_> = v.versions().iter().map(|v| v.version()).collect();
    assert_eq!(listed, ["1.0", "2.0"]);
    let first = &v.versions()[0];
    assert_eq!(first.status(), &PackageVersionStatus::Published);
    let origin = first.origin().unwrap();
    assert_eq!(origin.origin_type().unwrap().as_str(), "INTERNAL");
    let entry = origin.domain_entry_point().unwrap();
    assert_eq!(entry.repository_name(), Some("repo"));
    let missing = c
        .list_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("ghost")
        .send()
        .await;
    let missing = ca::Error::from(missing.unwrap_err());
    assert!(matches!(missing, ca::Error::ResourceNotFoundException(_)));
}

const TWO: &[(&str, &str, &str)] = &[
    ("demo", "1.0", "demo-1.0.tar.gz"),
    ("demo", "2.0", "demo-2.0.tar.gz"),
];

#[tokio::test]
async fn dispose_checks_revisions_and_removes_files_from_the_index() {
    let (_emu, c, token, endpoint) = published(TWO).await;
    let rev = versions(&c, "repo", "demo").await.versions()[0]
        .revision()
        .unwrap()
        .to_string();
    let dispose = |r: &str| {
        c.dispose_package_versions()
            .domain("dom")
            .repository("repo")
            .format(PackageFormat::Pypi)
            .package("demo")
            .versions("1.0")
            .version_revisions("1.0", r)
            .send()
    };
    let wrong = dispose("not-the-revision").await.unwrap();
    assert_eq!(
        error_code(wrong.failed_versions(), "1.0"),
        "MISMATCHED_REVISION"
    );
    let ok = dispose(&rev).await.unwrap();
    let disposed = &ok.successful_versions().unwrap()["1.0"];
    assert_eq!(disposed.status(), Some(&PackageVersionStatus::Disposed));
    let page = reqwest::Client::new()
        .get(format!("{endpoint}simple/demo/"))
        .basic_auth("aws", Some(&token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("demo-2.0.tar.gz"), "{page}");
    assert!(!page.contains("demo-1.0.tar.gz"), "{page}");
}

#[tokio::test]
async fn delete_checks_expected_status_and_reports_missing_versions() {
    let (_emu, c, _, _) = published(TWO).await;
    let delete = |status: Option<PackageVersionStatus>| {
        c.delete_package_versions()
            .domain("dom")
            .repository("repo")
            .format(PackageFormat::Pypi)
            .package("demo")
            .versions("2.0")
            .versions("9.9")
            .set_expected_status(status)
            .send()
    };
    let mismatched = delete(Some(PackageVersionStatus::Unlisted)).await.unwrap();
    assert_eq!(
        error_code(mismatched.failed_versions(), "2.0"),
        "MISMATCHED_STATUS"
    );
    let deleted = delete(None).await.unwrap();
    let gone = &deleted.successful_versions().unwrap()["2.0"];
    assert_eq!(gone.status(), Some(&PackageVersionStatus::Deleted));
    assert_eq!(error_code(deleted.failed_versions(), "9.9"), "NOT_FOUND");
    let left = versions(&c, "repo", "demo").await;
    let left: Vec<_> = left.versions().iter().map(|v| v.version()).collect();
    assert_eq!(left, ["1.0"]);
}

#[tokio::test]
async fn copy_refuses_existing_versions_unless_overwriting() {
    let (_emu, c, _, _) = published(TWO).await;
    c.create_repository()
        .domain("dom")
        .repository("repo2")
        .send()
        .await
        .unwrap();
    let copy = || {
        c.copy_package_versions()
            .domain("dom")
            .source_repository("repo")
            .destination_repository("repo2")
            .format(PackageFormat::Pypi)
            .package("demo")
            .versions("2.0")
    };
    let copied = copy().allow_overwrite(false).send().await.unwrap();
    assert!(copied.successful_versions().unwrap().contains_key("2.0"));
    let again = copy().send().await.unwrap();
    assert_eq!(error_code(again.failed_versions(), "2.0"), "ALREADY_EXISTS");
    let forced = copy().allow_overwrite(true).send().await.unwrap();
    assert!(forced.successful_versions().unwrap().contains_key("2.0"));
    assert_eq!(versions(&c, "repo2", "demo").await.versions().len(), 1);
    let both = copy()
        .version_revisions("2.0", "x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(both),
        ca::Error::ValidationException(_)
    ));
}

#[tokio::test]
async fn origin_configuration_creates_packages_and_blocks_publishing() {
    let (_emu, c, token, endpoint) = published(&[]).await;
    let restrictions = PackageOriginRestrictions::builder()
        .publish("BLOCK".into())
        .upstream("ALLOW".into())
        .build()
        .unwrap();
    let out = c
        .put_package_origin_configuration()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("Fresh_Pkg")
        .restrictions(restrictions)
        .send()
        .await
        .unwrap();
    let publish = out
        .origin_configuration()
        .unwrap()
        .restrictions()
        .unwrap()
        .publish();
    assert_eq!(publish.as_str(), "BLOCK");
    let list = c.list_packages().domain("dom").repository("repo");
    let blocked = list.publish("BLOCK".into()).send().await.unwrap();
    assert_eq!(blocked.packages()[0].package(), Some("fresh-pkg"));
    assert!(
        versions(&c, "repo", "fresh-pkg")
            .await
            .versions()
            .is_empty()
    );
    let file = "fresh_pkg-1.0.tar.gz";
    let refused = upload(&endpoint, &token, "fresh-pkg", "1.0", file, b"x").await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn other_accounts_reach_a_domain_only_through_domain_owner() {
    let emu = start().await;
    let c = client(&emu);
    domain_with_repo(&c, "shared", "repo").await;
    let other = other_client(&emu);
    let describe = || other.describe_domain().domain("shared");
    let hidden = ca::Error::from(describe().send().await.unwrap_err());
    assert!(matches!(hidden, ca::Error::ResourceNotFoundException(_)));
    let seen = describe().domain_owner(ACCOUNT).send().await.unwrap();
    assert_eq!(seen.domain().unwrap().owner(), Some(ACCOUNT));
    let token = other
        .get_authorization_token()
        .domain("shared")
        .domain_owner(ACCOUNT);
    assert!(token.send().await.unwrap().authorization_token().is_some());
    // The same name in the other account is a different domain.
    other.create_domain().domain("shared").send().await.unwrap();
    assert_eq!(emu.domains().len(), 2);
    let bad_owner = describe().domain_owner("12345").send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(bad_owner),
        ca::Error::ValidationException(_)
    ));
}
