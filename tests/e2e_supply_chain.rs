//! Dependency confusion (issue 15) on the real control plane, with the emulator, the real
//! operator binary and the real pip and twine: a package named with the company's internal
//! prefix exists only in the stand-in for public PyPI. Without protection pip installs it
//! through the external connection; once the CodeArtifactDomain declares the prefix internal
//! (`spec.internalPackages`), pip refuses it, public packages still install, the internal one
//! published with twine installs, and publishing under the prefix to another repository is
//! refused. A package group edited by hand is put back; a group leaving the spec is deleted,
//! one made by hand is not.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_codeartifact as ca;
use ca::types::{
    PackageGroupOriginRestrictionMode as Mode, PackageGroupOriginRestrictionType as Kind,
};
use codeartifact_operator::crd::CodeArtifactDomain;
use common::python::{assert_ok, make_dist, pip_install, project_secret, twine_upload};
use common::tenancy::{Strict, setup_strict};
use kube::Api;

const INTERNAL: &str = "acme-billing";
const GROUP: &str = "/pypi//acme~";

fn domain_name(s: &Strict) -> String {
    let id: String =
        s.id.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect();
    format!("sc-{}", id.to_lowercase())
}

fn spec(s: &Strict, internal: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "domainName": domain_name(s),
        "access": [{"namespaces": [s.ns(0)], "repositories": ["team", "other"], "create": true}],
        "internalPackages": internal,
    })
}

/// The Secret of PypiRepository `name`, laid out as a pod would see it.
async fn mounted(s: &Strict, name: &str) -> PathBuf {
    let dir = s.env.tmp.path().join(format!("mount-{name}"));
    let data = s.env.secret_data(&format!("{name}-pypi")).await;
    project_secret(&data, &dir);
    dir
}

fn installed_version(out_dir: &Path, requirement: &str) -> Option<String> {
    let site = out_dir.join(format!(
        "site-{}",
        requirement.replace(['=', '<', '>'], "_")
    ));
    let module = INTERNAL.replace('-', "_");
    std::fs::read_to_string(site.join(module).join("__init__.py")).ok()
}

async fn origin_mode(c: &ca::Client, domain: &str, kind: Kind) -> Option<Mode> {
    let g = c
        .describe_package_group()
        .domain(domain)
        .package_group(GROUP)
        .send()
        .await
        .ok()?
        .package_group?;
    let r = g
        .origin_configuration()?
        .restrictions()?
        .get(&kind)?
        .mode()?
        .clone();
    Some(r)
}

async fn wait_group_reported(s: &Strict, cad: &str) -> CodeArtifactDomain {
    let api: Api<CodeArtifactDomain> = Api::all(s.env.client.clone());
    let ok = testenv::wait_for(Duration::from_secs(60), || async {
        api.get_opt(cad).await.ok().flatten().is_some_and(|d| {
            d.status.as_ref().is_some_and(|st| {
                st.package_groups
                    .iter()
                    .any(|g| g.pattern == GROUP && g.created_by_operator && !g.arn.is_empty())
            })
        })
    })
    .await;
    let now = api.get_opt(cad).await.ok().flatten();
    assert!(
        ok.is_ok(),
        "{GROUP} never reported: {now:#?}\n{}",
        s.env.operator.logs()
    );
    now.expect("domain exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_prefix_stops_dependency_confusion() {
    let s = setup_strict("supply", 0, "2s").await;
    let cad = format!("supply-{}", std::process::id());
    let domain = domain_name(&s);
    s.apply_domain(&cad, spec(&s, serde_json::json!([]))).await;
    s.wait_domain_ready(&cad).await;
    for repo in ["team", "other"] {
        let body = serde_json::json!({"domain": {"name": domain}, "repositoryName": repo});
        s.create(0, repo, body).await;
        s.wait_ready_is(0, repo, "True", None).await;
    }
    let public = s.env.tmp.path().join("public-pypi");
    make_dist(INTERNAL, "99.0", &public, false);
    let (team, other) = (mounted(&s, "team").await, mounted(&s, "other").await);

    // Unprotected: the attacker's public 99.0 installs through the external connection.
    let out = pip_install(&other, INTERNAL);
    assert_ok("pip install of the public look-alike (unprotected)", &out);
    assert_eq!(
        installed_version(&other, INTERNAL).as_deref(),
        Some("VERSION = \"99.0\"\n")
    );

    // Protected: one line on the CodeArtifactDomain.
    let internal = serde_json::json!([{"prefix": "acme", "publishTo": ["team"]}]);
    s.apply_domain(&cad, spec(&s, internal)).await;
    wait_group_reported(&s, &cad).await;
    let out = pip_install(&team, INTERNAL);
    assert!(
        !out.status.success(),
        "pip must refuse the public acme-billing: {out:?}"
    );
    assert_ok(
        "public packages still install",
        &pip_install(&team, "requests-lite"),
    );

    let ours = s.env.tmp.path().join("ours");
    let dists = make_dist(INTERNAL, "1.0", &ours, false);
    assert_ok(
        "twine upload to the publishing repository",
        &twine_upload(&team, &dists),
    );
    let out = pip_install(&team, INTERNAL);
    assert_ok("pip install of the internal package", &out);
    assert_eq!(
        installed_version(&team, INTERNAL).as_deref(),
        Some("VERSION = \"1.0\"\n"),
        "the internal 1.0, never the public 99.0"
    );
    let elsewhere = make_dist(INTERNAL, "1.1", &s.env.tmp.path().join("elsewhere"), false);
    let out = twine_upload(&other, &elsewhere);
    assert!(
        !out.status.success(),
        "publishing to another repository must be refused"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("403"), "twine reports the refusal: {text}");

    // Drift: a group opened by hand is closed again by the operator's next resync.
    let c = testenv::OPERATOR_KEY.sdk(&s.env.emulator);
    c.update_package_group_origin_configuration()
        .domain(&domain)
        .package_group(GROUP)
        .restrictions(Kind::ExternalUpstream, Mode::Allow)
        .send()
        .await
        .expect("hand edit");
    let back = testenv::wait_for(Duration::from_secs(30), || async {
        origin_mode(&c, &domain, Kind::ExternalUpstream).await == Some(Mode::Block)
    })
    .await;
    assert!(
        back.is_ok(),
        "the operator never put EXTERNAL_UPSTREAM back to BLOCK"
    );

    // Removal: the operator's group goes, a group made by hand stays.
    c.create_package_group()
        .domain(&domain)
        .package_group("/pypi//handmade~")
        .send()
        .await
        .expect("hand-made group");
    s.apply_domain(&cad, spec(&s, serde_json::json!([]))).await;
    let gone = testenv::wait_for(Duration::from_secs(30), || async {
        origin_mode(&c, &domain, Kind::Publish).await.is_none()
    })
    .await;
    assert!(gone.is_ok(), "{GROUP} left the spec but was not deleted");
    let kept = c
        .describe_package_group()
        .domain(&domain)
        .package_group("/pypi//handmade~")
        .send()
        .await;
    assert!(
        kept.is_ok(),
        "a group the operator did not create must stay"
    );
    s.env.assert_no_token_leaks().await;
    s.delete_domain(&cad).await;
}

/// What the API server answers to creating a CodeArtifactDomain with `spec` (dry run).
async fn refusal(client: &kube::Client, spec: serde_json::Value) -> String {
    let obj: CodeArtifactDomain = serde_json::from_value(serde_json::json!({
        "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "CodeArtifactDomain",
        "metadata": {"name": "schema-check"}, "spec": spec,
    }))
    .expect("typed object");
    let api: Api<CodeArtifactDomain> = Api::all(client.clone());
    let params = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    match api.create(&params, &obj).await {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_bad_package_groups_naming_the_field() {
    let cp = testenv::ControlPlane::shared();
    common::reliability::install_crd_on(cp);
    let client = cp.client().await;
    let group = |g: serde_json::Value| serde_json::json!({"packageGroups": [g]});
    let cases = [
        (
            group(serde_json::json!({"pattern": "/pypi//acme-~"})),
            "spec.packageGroups[0].pattern",
        ),
        (
            group(serde_json::json!({"pattern": "pypi//acme~"})),
            "spec.packageGroups[0].pattern",
        ),
        (
            group(serde_json::json!({"pattern": "/pypi//acme~", "description": "x".repeat(1001)})),
            "spec.packageGroups[0].description",
        ),
        (
            group(serde_json::json!({"pattern": "/pypi//acme~",
                "originControls": {"publish": {"mode": "Block", "repositories": ["team"]}}})),
            "AllowSpecificRepositories",
        ),
        (
            group(serde_json::json!({"pattern": "/*",
                "originControls": {"publish": {"mode": "Inherit"}}})),
            "nothing to inherit from",
        ),
        (
            serde_json::json!({"internalPackages": [{"prefix": "acme"}, {"prefix": "acme"}]}),
            "each prefix may appear only once",
        ),
        (
            serde_json::json!({"internalPackages": [{"prefix": "acme-"}]}),
            "spec.internalPackages[0].prefix",
        ),
        (
            serde_json::json!({"mode": "Use", "internalPackages": [{"prefix": "acme"}]}),
            "need mode Manage",
        ),
    ];
    for (spec, names) in cases {
        let err = refusal(&client, spec.clone()).await;
        assert!(
            err.contains(names),
            "{spec}: expected a refusal naming {names:?}, got {err:?}"
        );
    }
    let good = serde_json::json!({
        "internalPackages": [{"prefix": "acme", "publishTo": ["team"]}],
        "packageGroups": [{"pattern": "/pypi//acme-billing$",
            "originControls": {"publish": {"mode": "AllowSpecificRepositories", "repositories": ["team"]}}}],
    });
    assert_eq!(refusal(&client, good).await, "", "a valid spec is accepted");
}
