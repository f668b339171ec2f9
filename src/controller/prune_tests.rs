//! Retention pages against the CodeArtifact emulator in process: what goes
//! and what stays, Dispose against Delete, dry runs, a throttled run that
//! resumes without removing anything twice, and the calls a run costs.

use aws_sdk_codeartifact::types::{PackageFormat, PackageVersionStatus};
use chrono::{DateTime, Utc};
use codeartifact_emulator::{Fault, PackageAt};

use super::Pager;
use crate::aws::RepositoryPath;
use crate::config::Tenancy;
use crate::controller::repository::testing::{World, world};
use crate::crd::{RetentionAction, RetentionSpec};
use crate::retention::policy::Policy;
use crate::retention::schedule::Progress;

const DAY: f64 = 86_400.0;

/// A world with repository `dom/repo` holding `app` 1.0.0 .. 1.0.29, version
/// i published 29 - i days ago (1.0.29 is today's), and `other` 0.1 .. 0.3.
async fn seeded() -> (World, f64) {
    let w = world(Tenancy::Open).await;
    w.create_domain("dom").await;
    w.create_repository("dom", "repo", "retention").await;
    let now = Utc::now().timestamp() as f64;
    let at = |p: &str| PackageAt {
        domain: "dom".into(),
        repository: "repo".into(),
        package: p.into(),
    };
    let app: Vec<(String, f64)> = (0..30)
        .map(|i| (format!("1.0.{i}"), now - f64::from(29 - i) * DAY - 60.0))
        .collect();
    w.emu.seed_versions(&at("app"), &app, 64).unwrap();
    let other: Vec<(String, f64)> = (1..=3)
        .map(|i| (format!("0.{i}"), now - f64::from(400 - i) * DAY))
        .collect();
    w.emu.seed_versions(&at("other"), &other, 64).unwrap();
    (w, now)
}

fn policy(spec: serde_json::Value) -> Policy {
    let spec: RetentionSpec = serde_json::from_value(spec).unwrap();
    Policy::from_spec(&spec).unwrap()
}

/// Runs pages until the run has seen every package.
async fn run(w: &World, policy: &Policy, p: &mut Progress) -> Result<(), crate::aws::AwsError> {
    let aws = w.ctx.aws.operator().clone();
    let pager = Pager {
        aws: &aws,
        at: RepositoryPath {
            domain: "dom",
            owner: None,
            repository: "repo",
        },
        policy,
        metrics: &w.ctx.metrics.retention,
        now: Utc::now(),
    };
    while !pager.page(p).await? {}
    Ok(())
}

/// `app`'s versions by status, from ListPackageVersions.
async fn statuses(w: &World, package: &str) -> Vec<(String, String)> {
    let out = w
        .sdk
        .list_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package(package)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .versions()
        .iter()
        .map(|v| (v.version().to_string(), v.status().as_str().to_string()))
        .collect();
    v.sort();
    v
}

fn start() -> Progress {
    Progress::start(1, DateTime::<Utc>::MIN_UTC)
}

/// "Keep 5 newest and anything younger than 7 days" over app: versions
/// 1.0.23..1.0.29 are under 7 days old, so 1.0.0..1.0.22 go, except
/// 1.0.10..1.0.19, which the keep pattern names.
const RULE: &str = r"^1\.0\.1\d$";

#[tokio::test]
async fn dispose_keeps_the_young_the_newest_and_the_pattern_and_removes_the_rest_once() {
    let (w, _) = seeded().await;
    let p = policy(serde_json::json!({"rules": [
        {"packages": "app", "keepNewest": 5, "keepYoungerThan": "168h", "keepVersions": RULE}]}));
    let mut progress = start();
    w.emu.reset_calls();
    run(&w, &p, &mut progress).await.unwrap();
    // One call lists, one disposes; 2 + log2(25) publish times.
    assert_eq!(w.emu.call_count("ListPackageVersions"), 1);
    assert_eq!(w.emu.call_count("DisposePackageVersions"), 1);
    assert!(
        w.emu.call_count("DescribePackageVersion") <= 7,
        "{:?}",
        w.emu.calls()
    );
    let mut gone: Vec<String> = (0..10)
        .chain(20..23)
        .map(|i| format!("app==1.0.{i}"))
        .collect();
    gone.sort();
    assert_eq!(progress.versions.iter().cloned().collect::<Vec<_>>(), gone);
    assert_eq!(progress.packages.len(), 1, "other is named by no rule");
    let disposed: Vec<String> = statuses(&w, "app")
        .await
        .into_iter()
        .filter(|(_, s)| s == "Disposed")
        .map(|(v, _)| format!("app=={v}"))
        .collect();
    assert_eq!(disposed.len(), 13);
    assert!(
        statuses(&w, "other")
            .await
            .iter()
            .all(|(_, s)| s == "Published")
    );
    // A second run finds nothing more to do.
    let mut again = start();
    run(&w, &p, &mut again).await.unwrap();
    assert!(again.versions.is_empty() && again.refused.is_empty());
}

#[tokio::test]
async fn delete_removes_the_records_and_a_dry_run_removes_nothing_but_names_the_same() {
    let (w, _) = seeded().await;
    let spec = |dry: bool| serde_json::json!({"rules": [{"packages": "*", "keepNewest": 2}], "action": "Delete", "dryRun": dry});
    let mut dry = start();
    run(&w, &policy(spec(true)), &mut dry).await.unwrap();
    assert_eq!(dry.versions.len(), 28 + 1, "app: 28, other: 1");
    assert_eq!(w.emu.call_count("DeletePackageVersions"), 0);
    assert_eq!(statuses(&w, "app").await.len(), 30);
    let mut real = start();
    let p = policy(spec(false));
    assert_eq!(p.action, RetentionAction::Delete);
    run(&w, &p, &mut real).await.unwrap();
    assert_eq!(real.versions, dry.versions);
    let left: Vec<String> = statuses(&w, "app")
        .await
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(
        left,
        ["1.0.28", "1.0.29"],
        "deleted versions are gone from the list"
    );
}

#[tokio::test]
async fn a_throttled_run_resumes_and_removes_nothing_twice() {
    let (w, _) = seeded().await;
    let p = policy(serde_json::json!({"rules": [{"packages": "*", "keepNewest": 1}]}));
    w.emu.set_fault(
        "DisposePackageVersions",
        Fault {
            throttle: 1.0,
            ..Fault::default()
        },
    );
    let mut progress = start();
    let err = run(&w, &p, &mut progress).await.unwrap_err();
    assert_eq!(err.kind, crate::aws::AwsErrorKind::Throttling);
    w.emu.clear_faults();
    run(&w, &p, &mut progress).await.unwrap();
    assert_eq!(progress.versions.len(), 29 + 2);
    assert!(progress.refused.is_empty(), "{:?}", progress.refused);
    let published = statuses(&w, "app")
        .await
        .into_iter()
        .filter(|(_, s)| s == "Published")
        .count();
    assert_eq!(published, 1);
    // Versions disposed already are refused by expectedStatus, never disposed again.
    let again = w
        .sdk
        .dispose_package_versions()
        .domain("dom")
        .repository("repo")
        .format(PackageFormat::Pypi)
        .package("app")
        .versions("1.0.0")
        .expected_status(PackageVersionStatus::Published)
        .send()
        .await
        .unwrap();
    assert!(again.failed_versions().unwrap().contains_key("1.0.0"));
}
