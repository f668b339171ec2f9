//! End to end: spec.retention on the real control plane with the emulator.
//! 30 versions uploaded with the real twine and back-dated through the
//! emulator's admin API; "keep the 5 newest and anything younger than 7
//! days" with a keep pattern: the dry run removes nothing and lists exactly
//! the versions expected, the real run (throttled at first: it resumes
//! later) disposes exactly those, once each, the rest still install with
//! the real pip; then `action: Delete` deletes versions where Dispose only
//! disposed them, as ListPackageVersions shows. Also: what the schema
//! refuses, and a denied call as a condition rather than a failed reconcile.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_codeartifact::types::PackageFormat;
use codeartifact_emulator::Fault;
use common::python::{assert_ok, make_dist, pip_install, project_secret, twine_upload};
use common::{Env, Options, condition, setup};
use testenv::OPERATOR_KEY;

const DAY: f64 = 86_400.0;
const APP: &str = "ci-app";
const TOOL: &str = "ci-tool";

const MANIFEST: &str = r"
apiVersion: codeartifact-operator.dev/v1alpha1
kind: PypiRepository
metadata:
  name: builds
spec:
  domain:
    name: acme
  externalConnection: false
";

/// The rules under test: ci-tool keeps its 2 newest; every other ci-*
/// package its 5 newest, anything under 7 days old and final releases
/// 1.0.10 to 1.0.19 (the keep pattern).
fn retention(dry_run: bool, action: &str) -> serde_json::Value {
    serde_json::json!({"retention": {
        "dryRun": dry_run,
        "action": action,
        "rules": [
            {"packages": TOOL, "keepNewest": 2},
            {"packages": "ci-*", "keepNewest": 5, "keepYoungerThan": "168h",
             "keepVersions": r"^1\.0\.1\d$"},
        ],
    }})
}

/// Builds `versions` of `name` and uploads them with twine in one call.
fn upload(dir: &Path, secret: &Path, name: &str, versions: impl Iterator<Item = String>) {
    let dist = dir.join(format!("dist-{name}"));
    let files: Vec<PathBuf> = versions
        .flat_map(|v| make_dist(name, &v, &dist, false))
        .collect();
    assert_ok("twine upload", &twine_upload(secret, &files));
}

/// Back-dates `version` of `package` to `age_days` ago through the admin API.
async fn back_date(env: &Env, package: &str, version: &str, age_days: f64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let body = serde_json::json!({
        "domain": "acme", "repository": "builds", "package": package,
        "version": version, "publishedTime": now - age_days * DAY,
    });
    let url = format!("{}/_emulator/package-versions", env.emulator.base_url());
    let res = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("admin API");
    assert!(res.status().is_success(), "{:?}", res.text().await);
}

/// `version → status` of `package`, from ListPackageVersions.
async fn versions(env: &Env, package: &str) -> BTreeMap<String, String> {
    let out = OPERATOR_KEY
        .sdk(&env.emulator)
        .list_package_versions()
        .domain("acme")
        .repository("builds")
        .format(PackageFormat::Pypi)
        .package(package)
        .max_results(1000)
        .send()
        .await
        .expect("ListPackageVersions");
    out.versions()
        .iter()
        .map(|v| (v.version().to_string(), v.status().as_str().to_string()))
        .collect()
}

/// Waits until the last retention run applied the current generation.
async fn run_done(env: &Env, timeout: Duration) -> codeartifact_operator::crd::RetentionStatus {
    let o = env
        .wait_until("builds", timeout, |o| {
            let st = o.status.as_ref().and_then(|s| s.retention.as_ref());
            st.is_some_and(|r| r.observed_generation == o.metadata.generation)
                && condition(o, "Retention").is_some_and(|c| c.1 == "RetentionCompleted")
        })
        .await;
    *o.status.unwrap().retention.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_disposes_exactly_what_the_rules_allow_and_pip_still_installs_the_rest() {
    let env = setup("retention", Options::default()).await;
    env.create(MANIFEST).await;
    env.wait_ready("builds").await;
    let secret = env.tmp.path().join("secret");
    project_secret(&env.secret_data("builds-pypi").await, &secret);

    // 30 versions, 1.0.i published (29 - i) days ago plus a minute.
    upload(
        env.tmp.path(),
        &secret,
        APP,
        (0..30).map(|i| format!("1.0.{i}")),
    );
    for i in 0..30 {
        back_date(
            &env,
            APP,
            &format!("1.0.{i}"),
            f64::from(29 - i) + 60.0 / DAY,
        )
        .await;
    }
    // Older than 7 days and not kept: 1.0.0 to 1.0.9 and 1.0.20 to 1.0.22.
    let mut expected: Vec<String> = (0..10)
        .chain(20..23)
        .map(|i| format!("{APP}==1.0.{i}"))
        .collect();
    expected.sort();
    dry_run_lists_and_removes_nothing(&env, &expected).await;
    throttled_run_resumes_and_disposes_once(&env, &expected).await;
    kept_versions_install(&secret);
    delete_removes_the_records(&env, &secret).await;
    assert!(env.assert_no_token_leaks().await > 0);
}

async fn dry_run_lists_and_removes_nothing(env: &Env, expected: &[String]) {
    env.patch_spec("builds", retention(true, "Dispose")).await;
    let dry = run_done(env, Duration::from_secs(60)).await;
    assert!(dry.dry_run);
    assert_eq!((dry.would_remove, dry.removed, dry.packages), (13, 0, 1));
    assert_eq!(dry.versions, expected);
    assert!(versions(env, APP).await.values().all(|s| s == "Published"));
    assert_eq!(env.emulator.call_count("DisposePackageVersions"), 0);
    let events = env.events().await;
    assert!(
        events
            .iter()
            .any(|(_, r, n)| r == "VersionsRemoved" && n.contains("would remove 13")),
        "{events:?}"
    );
}

/// The real run meets throttling first: it stops, says so, and resumes later.
async fn throttled_run_resumes_and_disposes_once(env: &Env, expected: &[String]) {
    env.emulator.set_fault(
        "DisposePackageVersions",
        Fault {
            throttle: 1.0,
            ..Fault::default()
        },
    );
    env.patch_spec("builds", retention(false, "Dispose")).await;
    env.wait_until("builds", Duration::from_secs(60), |o| {
        condition(o, "Retention").is_some_and(|c| c.0 == "False" && c.1 == "Throttled")
    })
    .await;
    assert!(env.emulator.call_count("DisposePackageVersions") >= 1);
    env.emulator.clear_faults();
    let done = run_done(env, Duration::from_secs(60)).await;
    assert_eq!((done.removed, done.would_remove, done.failed), (13, 0, 0));
    assert_eq!(done.versions, expected, "the dry run named what went");
    // Nothing removed twice: one successful call, AWS refused none, the operator counted 13.
    let metrics = env.operator.metrics().await;
    let count = |sel: &str| testenv::metric_value(&metrics, sel);
    let ok = r#"codeartifact_operator_aws_calls_total{operation="DisposePackageVersions",outcome="success"}"#;
    assert_eq!(count(ok), 1.0);
    let disposed = r#"codeartifact_operator_retention_versions_total{outcome="disposed"}"#;
    assert_eq!(count(disposed), 13.0);
    let refused = r#"codeartifact_operator_retention_versions_total{outcome="refused"}"#;
    assert_eq!(count(refused), 0.0);
    let listed = versions(env, APP).await;
    let disposed: Vec<String> = listed
        .iter()
        .filter(|(_, s)| *s == "Disposed")
        .map(|(v, _)| format!("{APP}=={v}"))
        .collect();
    assert_eq!(disposed, expected);
    assert_eq!(listed.len(), 30, "Dispose keeps the records");
    let events = env.events().await;
    let removed = |(t, r, n): &(String, String, String)| {
        t == "Normal" && r == "VersionsRemoved" && n.contains("removed 13")
    };
    assert!(events.iter().any(removed), "{events:?}");
    assert!(
        events
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "RetentionFailed"),
        "{events:?}"
    );
}

/// The kept versions still install with pip; a disposed one does not.
fn kept_versions_install(secret: &Path) {
    for (pin, installed) in [
        ("==1.0.15", "1.0.15"),
        ("==1.0.24", "1.0.24"),
        ("", "1.0.29"),
    ] {
        let requirement = format!("{APP}{pin}");
        assert_ok(
            &format!("pip install {requirement}"),
            &pip_install(secret, &requirement),
        );
        let site = secret.join(format!(
            "site-{}",
            requirement.replace(['=', '<', '>'], "_")
        ));
        let init = std::fs::read_to_string(site.join("ci_app/__init__.py")).expect("installed");
        assert!(init.contains(installed), "{init}");
    }
    assert!(
        !pip_install(secret, &format!("{APP}==1.0.5"))
            .status
            .success()
    );
}

/// Delete: ci-tool's 8 versions, 2 kept, 6 deleted and gone from the list.
async fn delete_removes_the_records(env: &Env, secret: &Path) {
    upload(
        env.tmp.path(),
        secret,
        TOOL,
        (1..=8).map(|i| format!("0.{i}")),
    );
    for i in 1..=8 {
        back_date(env, TOOL, &format!("0.{i}"), f64::from(9 - i)).await;
    }
    env.patch_spec("builds", retention(false, "Delete")).await;
    let deleted = run_done(env, Duration::from_secs(60)).await;
    assert_eq!((deleted.removed, deleted.packages), (6, 2));
    let tool: Vec<String> = versions(env, TOOL).await.into_keys().collect();
    assert_eq!(tool, ["0.7", "0.8"]);
    assert_eq!(
        versions(env, APP).await.len(),
        30,
        "ci-app had nothing left to remove"
    );
}

/// The schema refuses what cannot work, naming the field; the runtime
/// check (a regex) reports it in the Retention condition; access denied
/// too, until the permission comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_bad_retention_and_the_condition_names_a_bad_pattern() {
    let env = setup("retention-schema", Options::default()).await;
    for (spec, message) in [
        (
            serde_json::json!({"mode": "Consume", "retention": {"rules": [{"packages": "*", "keepNewest": 1}]}}),
            "spec.retention removes package versions",
        ),
        (
            serde_json::json!({"retention": {"rules": [{"packages": "*"}]}}),
            "set keepNewest, keepYoungerThan or both",
        ),
        (
            serde_json::json!({"retention": {"interval": "1m", "rules": [{"packages": "*", "keepNewest": 1}]}}),
            "spec.retention.interval must be a duration of at least 10m",
        ),
        (
            serde_json::json!({"retention": {"rules": [{"packages": "*", "keepYoungerThan": "7d"}]}}),
            "spec.retention.rules[0].keepYoungerThan",
        ),
    ] {
        let mut full = serde_json::json!({"domain": {"name": "acme"}});
        full.as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        let obj = serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
            "metadata": {"name": "bad", "namespace": env.ns.name()}, "spec": full,
        });
        let obj: codeartifact_operator::crd::PypiRepository = serde_json::from_value(obj).unwrap();
        let err = env
            .repos()
            .create(&kube::api::PostParams::default(), &obj)
            .await
            .expect_err("the schema refuses it");
        assert!(err.to_string().contains(message), "{message}: {err}");
    }
    readme_example_is_accepted_and_means_what_it_says(&env).await;
    env.create(MANIFEST).await;
    env.patch_spec(
        "builds",
        serde_json::json!({"retention": {"rules": [{"packages": "*", "keepNewest": 1, "keepVersions": "(" }]}}),
    )
    .await;
    let o = env
        .wait_until("builds", Duration::from_secs(60), |o| {
            condition(o, "Retention").is_some_and(|c| c.0 == "False" && c.1 == "InvalidSpec")
        })
        .await;
    let (_, _, message) = condition(&o, "Retention").unwrap();
    assert!(
        message.contains("spec.retention.rules[0].keepVersions"),
        "{message}"
    );
    assert_eq!(
        condition(&o, "Ready").map(|c| c.0),
        Some("True".into()),
        "the repository is still served"
    );
    access_denied_is_a_condition_until_the_permission_comes(&env).await;
}

/// Without DisposePackageVersions the run stops with AccessDenied (condition
/// and Warning Event, Ready stays True) and finishes once it is allowed.
async fn access_denied_is_a_condition_until_the_permission_comes(env: &Env) {
    let at = codeartifact_emulator::PackageAt {
        domain: "acme".into(),
        repository: "builds".into(),
        package: "old-tool".into(),
    };
    let seeded: Vec<(String, f64)> = (1..=3).map(|i| (format!("0.{i}"), f64::from(i))).collect();
    env.emulator.seed_versions(&at, &seeded, 16).unwrap();
    env.emulator
        .deny(common::ACCESS_KEY, "DisposePackageVersions");
    env.patch_spec(
        "builds",
        serde_json::json!({"retention": {"rules": [{"packages": "*", "keepNewest": 1}]}}),
    )
    .await;
    let o = env
        .wait_until("builds", Duration::from_secs(60), |o| {
            condition(o, "Retention").is_some_and(|c| c.0 == "False" && c.1 == "AccessDenied")
        })
        .await;
    assert_eq!(condition(&o, "Ready").map(|c| c.0), Some("True".into()));
    let events = env.events().await;
    let denied = |(t, r, n): &(String, String, String)| {
        t == "Warning" && r == "RetentionFailed" && n.contains("DisposePackageVersions")
    };
    assert!(events.iter().any(denied), "{events:?}");
    assert_eq!(versions(env, "old-tool").await.len(), 3);
    env.emulator.clear_denies();
    let done = run_done(env, Duration::from_secs(120)).await;
    assert_eq!(done.removed, 2);
}

/// The README's retention example passes the schema (server-side dry run)
/// and its keep pattern keeps final releases only.
async fn readme_example_is_accepted_and_means_what_it_says(env: &Env) {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("## Package retention")
        .nth(1)
        .expect("a retention section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a YAML example");
    let mut obj: codeartifact_operator::crd::PypiRepository =
        serde_saphyr::from_str(yaml).expect("the example parses");
    obj.metadata.namespace = Some(env.ns.name().to_string());
    let dry = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    env.repos()
        .create(&dry, &obj)
        .await
        .expect("the schema accepts the README example");
    let spec = obj.spec.retention.expect("retention");
    let policy = codeartifact_operator::retention::policy::Policy::from_spec(&spec).unwrap();
    let rule = policy.rule_for("ci-app").expect("ci-* names ci-app");
    let listing = codeartifact_operator::retention::policy::Listing {
        package: "ci-app".into(),
        default_display: None,
        newest_first: [
            "2.0.0", "1.9", "1.8", "1.7", "1.6", "1.6rc1", "1.5", "1.5.dev1",
        ]
        .map(String::from)
        .to_vec(),
        younger: 0,
    };
    assert_eq!(
        rule.doomed(&listing),
        ["1.6rc1", "1.5.dev1"],
        "past the newest 5, only what is not a final release"
    );
}
