//! The Rust SDK's package operations (ListPackages, ListPackageVersions, Delete/Dispose/Copy,
//! PutPackageOriginConfiguration) over files uploaded to the PyPI endpoint, and cross-account use.

mod common;

use aws_sdk_codeartifact as ca;
use ca::types::{PackageFormat, PackageOriginRestrictions, PackageVersionStatus};
use common::{ACCOUNT, client, domain_with_repo, other_client, start, upload};

async fn versions(
    c: &ca::Client,
    repo: &str,
    pkg: &str,
) -> ca::operation::list_package_versions::ListPackageVersionsOutput {
    c.list_package_versions()
        .domain("dom")
        .repository(repo)
        .format(PackageFormat::Pypi)
        .package(pkg)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn published_files_show_up_as_packages_and_versions() {
    let emu = start().await;
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    for (name, ver, file) in [
        ("Demo_Pkg", "1.0", "demo_pkg-1.0-py3-none-any.whl"),
        ("Demo_Pkg", "1.0", "demo_pkg-1.0.tar.gz"),
        ("demo-pkg", "2.0", "demo_pkg-2.0-py3-none-any.whl"),
        ("Other.Pkg", "0.1", "other_pkg-0.1-py3-none-any.whl"),
    ] {
        let r = upload(&endpoint, &token, name, ver, file, file.as_bytes()).await;
        assert_eq!(r.status(), 200, "{file}");
    }
    let dup = upload(
        &endpoint,
        &token,
        "demo-pkg",
        "2.0",
        "demo_pkg-2.0-py3-none-any.whl",
        b"x",
    )
    .await;
    assert_eq!(dup.status(), 409);

    let pkgs = c
        .list_packages()
        .domain("dom")
        .repository("repo")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = pkgs
        .packages()
        .iter()
        .map(|p| p.package().unwrap())
        .collect();
    assert_eq!(names, ["demo-pkg", "other-pkg"]);
    let origin = pkgs.packages()[0]
        .origin_configuration()
        .unwrap()
        .restrictions()
        .unwrap();
    assert_eq!(origin.publish().as_str(), "ALLOW");
    assert_eq!(origin.upstream().as_str(), "BLOCK");
    let prefixed = c
        .list_packages()
        .domain("dom")
        .repository("repo")
        .package_prefix("Demo_")
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.packages().len(), 1);
    let paged: Vec<_> = c
        .list_packages()
        .domain("dom")
        .repository("repo")
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(paged.len(), 2);

    let v = versions(&c, "repo", "Demo_Pkg").await;
    assert_eq!(v.package(), Some("demo-pkg"));
    assert_eq!(v.default_display_version(), Some("2.0"));
    let listed: Vec<_> = v.versions().iter().map(|v| v.version()).collect();
    assert_eq!(listed, ["1.0", "2.0"]);
    let first = &v.versions()[0];
    assert_eq!(first.status(), &PackageVersionStatus::Published);
    let origin = first.origin().unwrap();
    assert_eq!(origin.origin_type().unwrap().as_str(), "INTERNAL");
    assert_eq!(
        origin.domain_entry_point().unwrap().repository_name(),
        Some("repo")
    );
    let missing = c
        .list_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("ghost")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(missing),
        ca::Error::ResourceNotFoundException(_)
    ));
}

#[tokio::test]
async fn delete_dispose_and_copy_report_per_version_results() {
    let emu = start().await;
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    c.create_repository()
        .domain("dom")
        .repository("repo2")
        .send()
        .await
        .unwrap();
    for ver in ["1.0", "2.0"] {
        let file = format!("demo-{ver}.tar.gz");
        assert_eq!(
            upload(&endpoint, &token, "demo", ver, &file, b"sdist")
                .await
                .status(),
            200
        );
    }
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
        wrong.failed_versions().unwrap()["1.0"]
            .error_code()
            .unwrap()
            .as_str(),
        "MISMATCHED_REVISION"
    );
    let ok = dispose(&rev).await.unwrap();
    assert_eq!(
        ok.successful_versions().unwrap()["1.0"].status(),
        Some(&PackageVersionStatus::Disposed)
    );
    let page = reqwest::Client::new()
        .get(format!("{endpoint}simple/demo/"))
        .basic_auth("aws", Some(&token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("demo-2.0.tar.gz") && !page.contains("demo-1.0.tar.gz"),
        "{page}"
    );

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
        mismatched.failed_versions().unwrap()["2.0"]
            .error_code()
            .unwrap()
            .as_str(),
        "MISMATCHED_STATUS"
    );
    let deleted = delete(None).await.unwrap();
    assert_eq!(
        deleted.successful_versions().unwrap()["2.0"].status(),
        Some(&PackageVersionStatus::Deleted)
    );
    assert_eq!(
        deleted.failed_versions().unwrap()["9.9"]
            .error_code()
            .unwrap()
            .as_str(),
        "NOT_FOUND"
    );
    let left: Vec<_> = versions(&c, "repo", "demo")
        .await
        .versions()
        .iter()
        .map(|v| v.version().to_string())
        .collect();
    assert_eq!(left, ["1.0"]);

    assert_eq!(
        upload(
            &endpoint,
            &token,
            "demo",
            "3.0",
            "demo-3.0.tar.gz",
            b"three"
        )
        .await
        .status(),
        200
    );
    let copy = |overwrite: bool| {
        c.copy_package_versions()
            .domain("dom")
            .source_repository("repo")
            .destination_repository("repo2")
            .format(PackageFormat::Pypi)
            .package("demo")
            .versions("3.0")
            .allow_overwrite(overwrite)
            .send()
    };
    let copied = copy(false).await.unwrap();
    assert!(copied.successful_versions().unwrap().contains_key("3.0"));
    let again = copy(false).await.unwrap();
    assert_eq!(
        again.failed_versions().unwrap()["3.0"]
            .error_code()
            .unwrap()
            .as_str(),
        "ALREADY_EXISTS"
    );
    assert!(
        copy(true)
            .await
            .unwrap()
            .successful_versions()
            .unwrap()
            .contains_key("3.0")
    );
    assert_eq!(versions(&c, "repo2", "demo").await.versions().len(), 1);
    let both = c
        .copy_package_versions()
        .domain("dom")
        .source_repository("repo")
        .destination_repository("repo2")
        .format(PackageFormat::Pypi)
        .package("demo")
        .versions("3.0")
        .version_revisions("3.0", "x")
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
    let emu = start().await;
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
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
    assert_eq!(
        out.origin_configuration()
            .unwrap()
            .restrictions()
            .unwrap()
            .publish()
            .as_str(),
        "BLOCK"
    );
    let blocked = c
        .list_packages()
        .domain("dom")
        .repository("repo")
        .publish("BLOCK".into())
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.packages()[0].package(), Some("fresh-pkg"));
    assert!(
        versions(&c, "repo", "fresh-pkg")
            .await
            .versions()
            .is_empty()
    );
    let refused = upload(
        &endpoint,
        &token,
        "fresh-pkg",
        "1.0",
        "fresh_pkg-1.0.tar.gz",
        b"x",
    )
    .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn other_accounts_reach_a_domain_only_through_domain_owner() {
    let emu = start().await;
    let c = client(&emu);
    domain_with_repo(&c, "shared", "repo").await;
    let other = other_client(&emu);
    let hidden = other
        .describe_domain()
        .domain("shared")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(hidden),
        ca::Error::ResourceNotFoundException(_)
    ));
    let seen = other
        .describe_domain()
        .domain("shared")
        .domain_owner(ACCOUNT)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.domain().unwrap().owner(), Some(ACCOUNT));
    let token = other
        .get_authorization_token()
        .domain("shared")
        .domain_owner(ACCOUNT)
        .send()
        .await
        .unwrap();
    assert!(token.authorization_token().is_some());
    // The same name in the other account is a different domain.
    other.create_domain().domain("shared").send().await.unwrap();
    assert_eq!(emu.domains().len(), 2);
    let bad_owner = other
        .describe_domain()
        .domain("shared")
        .domain_owner("12345")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        ca::Error::from(bad_owner),
        ca::Error::ValidationException(_)
    ));
}
