//! The Rust SDK's package-version operations retention relies on:
//! DescribePackageVersion (publish time, status, origin), ListPackageVersionAssets,
//! ListPackageVersions' originType/status filters, PUBLISHED_TIME order and pages,
//! Dispose/Delete batch outcomes with expectedStatus, and the admin controls that
//! back-date and seed versions (library and HTTP).

mod common;

use aws_sdk_codeartifact as ca;
use ca::types::{
    PackageFormat, PackageVersionOriginType, PackageVersionSortType, PackageVersionStatus,
};
use codeartifact_emulator::{Emulator, PackageAt};
use common::{client, domain_with_repo, start, upload};

const DAY: f64 = 86_400.0;

fn at(package: &str) -> PackageAt {
    PackageAt {
        domain: "dom".into(),
        repository: "repo".into(),
        package: package.into(),
    }
}

/// "dom/repo" with `app` 1.0 .. 1.4 uploaded, 1.i back-dated i days (1.0 newest).
async fn world() -> (Emulator, ca::Client, f64) {
    let emu = start().await;
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    for i in 0..5 {
        let file = format!("app-1.{i}-py3-none-any.whl");
        let r = upload(
            &endpoint,
            &token,
            "App",
            &format!("1.{i}"),
            &file,
            file.as_bytes(),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    let now = 1_750_000_000.0;
    for i in 0..5 {
        emu.set_published(&at("app"), &format!("1.{i}"), now - f64::from(i) * DAY)
            .unwrap();
    }
    (emu, c, now)
}

#[tokio::test]
async fn describe_package_version_gives_publish_time_status_and_origin() {
    let (_emu, c, now) = world().await;
    let d = c
        .describe_package_version()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("App")
        .package_version("1.2")
        .send()
        .await
        .unwrap();
    let v = d.package_version().unwrap();
    assert_eq!(v.package_name(), Some("app"));
    assert_eq!(v.version(), Some("1.2"));
    assert_eq!(v.status(), Some(&PackageVersionStatus::Published));
    assert_eq!(v.published_time().unwrap().secs() as f64, now - 2.0 * DAY);
    let origin = v.origin().unwrap();
    assert_eq!(
        origin.origin_type(),
        Some(&PackageVersionOriginType::Internal)
    );
    assert_eq!(
        origin.domain_entry_point().unwrap().repository_name(),
        Some("repo")
    );
    let missing = c
        .describe_package_version()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .package_version("9.9")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .into_service_error()
            .is_resource_not_found_exception()
    );
    let assets = c
        .list_package_version_assets()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .package_version("1.2")
        .send()
        .await
        .unwrap();
    let a = &assets.assets()[0];
    assert_eq!(a.name(), "app-1.2-py3-none-any.whl");
    assert_eq!(a.size(), Some("app-1.2-py3-none-any.whl".len() as i64));
    let sha = &a.hashes().unwrap()[&ca::types::HashAlgorithm::Sha256];
    assert_eq!(sha.len(), 64);
}

#[tokio::test]
async fn versions_sort_by_publish_time_filter_by_origin_and_status_and_page() {
    let (emu, c, now) = world().await;
    // 1.3 is newer than everything once moved forward: the order follows publish times.
    emu.set_published(&at("app"), "1.3", now + DAY).unwrap();
    let list = || {
        c.list_package_versions()
            .domain("dom")
            .repository("repo")
            .format(PackageFormat::Pypi)
            .package("app")
            .sort_by(PackageVersionSortType::PublishedTime)
    };
    let pages: Vec<_> = list()
        .max_results(2)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    let order: Vec<String> = pages
        .iter()
        .flat_map(|p| p.versions().iter().map(|v| v.version().to_string()))
        .collect();
    assert_eq!(order, ["1.3", "1.0", "1.1", "1.2", "1.4"]);
    assert_eq!(pages[0].default_display_version(), Some("1.3"));
    let external = list()
        .origin_type(PackageVersionOriginType::External)
        .send()
        .await
        .unwrap();
    assert!(external.versions().is_empty());
    let internal = list()
        .origin_type(PackageVersionOriginType::Internal)
        .send()
        .await
        .unwrap();
    assert_eq!(internal.versions().len(), 5);
    c.dispose_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .versions("1.4")
        .send()
        .await
        .unwrap();
    let published = list()
        .status(PackageVersionStatus::Published)
        .send()
        .await
        .unwrap();
    assert_eq!(published.versions().len(), 4);
}

#[tokio::test]
async fn dispose_and_delete_report_each_version_and_honour_expected_status() {
    let (_emu, c, _) = world().await;
    let out = c
        .dispose_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .versions("1.3")
        .versions("1.4")
        .versions("7.0")
        .expected_status(PackageVersionStatus::Published)
        .send()
        .await
        .unwrap();
    let ok = out.successful_versions().unwrap();
    assert_eq!(ok["1.3"].status(), Some(&PackageVersionStatus::Disposed));
    assert_eq!(ok.len(), 2);
    let failed = out.failed_versions().unwrap();
    assert_eq!(failed["7.0"].error_code().unwrap().as_str(), "NOT_FOUND");
    // Disposed already: refused, not disposed twice.
    let again = c
        .delete_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .versions("1.3")
        .versions("1.2")
        .expected_status(PackageVersionStatus::Published)
        .send()
        .await
        .unwrap();
    let failed = again.failed_versions().unwrap();
    assert_eq!(
        failed["1.3"].error_code().unwrap().as_str(),
        "MISMATCHED_STATUS"
    );
    assert_eq!(
        again.successful_versions().unwrap()["1.2"].status(),
        Some(&PackageVersionStatus::Deleted)
    );
    let too_many = c
        .delete_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .set_versions(Some((0..101).map(|i| format!("0.{i}")).collect()))
        .send()
        .await
        .unwrap_err();
    assert!(too_many.into_service_error().is_validation_exception());
}

#[tokio::test]
async fn the_admin_api_back_dates_and_the_library_seeds_versions() {
    let (emu, c, _) = world().await;
    let res = reqwest::Client::new()
        .post(format!("{}/_emulator/package-versions", emu.base_url()))
        .json(
            &serde_json::json!({"domain": "dom", "repository": "repo", "package": "APP",
            "version": "1.1", "publishedTime": 1_000_000_000.0}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bad = reqwest::Client::new()
        .post(format!("{}/_emulator/package-versions", emu.base_url()))
        .json(
            &serde_json::json!({"domain": "dom", "repository": "repo", "package": "app",
            "version": "5.5", "publishedTime": 1.0}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);
    let d = c
        .describe_package_version()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .package_version("1.1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.package_version()
            .unwrap()
            .published_time()
            .unwrap()
            .secs(),
        1_000_000_000
    );
    let seeded: Vec<(String, f64)> = (0..3)
        .map(|i| (format!("2.{i}"), 5.0 + f64::from(i)))
        .collect();
    emu.seed_versions(&at("Seeded_Pkg"), &seeded, 100).unwrap();
    let list = c
        .list_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("seeded-pkg")
        .send()
        .await
        .unwrap();
    assert_eq!(list.versions().len(), 3);
    assert_eq!(list.default_display_version(), Some("2.2"));
}
