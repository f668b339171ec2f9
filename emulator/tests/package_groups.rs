//! Package groups through the official Rust SDK and boto3, and their enforcement on the PyPI
//! endpoint: a blocked external upstream hides the public files, a blocked publish is refused,
//! an internal upstream is filtered, and groups survive a restart with `--state`.

mod common;

use aws_sdk_codeartifact as ca;
use ca::types::{
    PackageFormat, PackageGroupAllowedRepository, PackageGroupAssociationType as Assoc,
    PackageGroupOriginRestrictionMode as Mode, PackageGroupOriginRestrictionType as Kind, Tag,
};
use codeartifact_emulator::{Config, Emulator};
use common::{client, domain_with_repo, endpoint_and_token, upload};

fn allowed(repo: &str, kind: Kind) -> PackageGroupAllowedRepository {
    PackageGroupAllowedRepository::builder()
        .repository_name(repo)
        .origin_restriction_type(kind)
        .build()
}

async fn set_modes(c: &ca::Client, pattern: &str, modes: &[(Kind, Mode)], add: &[(&str, Kind)]) {
    let mut req = c
        .update_package_group_origin_configuration()
        .domain("dom")
        .package_group(pattern);
    for (k, m) in modes {
        req = req.restrictions(k.clone(), m.clone());
    }
    for (r, k) in add {
        req = req.add_allowed_repositories(allowed(r, k.clone()));
    }
    req.send().await.expect("origin configuration updated");
}

#[tokio::test]
async fn the_sdk_creates_describes_associates_and_deletes_groups() {
    let emu = common::start().await;
    let c = client(&emu);
    domain_with_repo(&c, "dom", "team").await;
    let tag = Tag::builder().key("owner").value("me").build().unwrap();
    let g = c
        .create_package_group()
        .domain("dom")
        .package_group("/pypi//acme~")
        .description("ours")
        .tags(tag)
        .send()
        .await
        .unwrap()
        .package_group
        .unwrap();
    let arn = g.arn().unwrap().to_string();
    assert!(arn.ends_with(":package-group/dom/pypi//acme~"), "{arn}");
    assert_eq!(g.parent().and_then(|p| p.pattern()), Some("/*"));
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].key(), "owner");

    set_modes(
        &c,
        "/pypi//acme~",
        &[
            (Kind::ExternalUpstream, Mode::Block),
            (Kind::Publish, Mode::AllowSpecificRepositories),
        ],
        &[("team", Kind::Publish)],
    )
    .await;
    let assoc = c
        .get_associated_package_group()
        .domain("dom")
        .format(PackageFormat::Pypi)
        .package("ACME.Billing")
        .send()
        .await
        .unwrap();
    assert_eq!(assoc.association_type(), Some(&Assoc::Strong));
    let desc = assoc.package_group().unwrap();
    let r = desc.origin_configuration().unwrap().restrictions().unwrap();
    assert_eq!(
        r[&Kind::ExternalUpstream].effective_mode(),
        Some(&Mode::Block)
    );
    assert_eq!(
        r[&Kind::InternalUpstream].effective_mode(),
        Some(&Mode::Allow)
    );
    assert_eq!(r[&Kind::Publish].repositories_count(), Some(1));
    let list = c.list_package_groups().domain("dom").send().await.unwrap();
    let patterns: Vec<_> = list
        .package_groups()
        .iter()
        .filter_map(|g| g.pattern())
        .collect();
    assert_eq!(patterns, ["/*", "/pypi//acme~"]);
    let root_delete = c
        .delete_package_group()
        .domain("dom")
        .package_group("/*")
        .send()
        .await;
    assert!(matches!(
        ca::Error::from(root_delete.unwrap_err()),
        ca::Error::ValidationException(_)
    ));
    c.delete_package_group()
        .domain("dom")
        .package_group("/pypi//acme~")
        .send()
        .await
        .unwrap();
    let gone = c
        .describe_package_group()
        .domain("dom")
        .package_group("/pypi//acme~")
        .send()
        .await;
    assert!(matches!(
        ca::Error::from(gone.unwrap_err()),
        ca::Error::ResourceNotFoundException(_)
    ));
}

/// A file in the public stand-in (the emulator only reads its name and bytes).
fn publish_publicly(dir: &std::path::Path, filename: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(filename), b"public bytes").unwrap();
}

async fn simple_status(endpoint: &str, token: &str, project: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{endpoint}simple/{project}/"))
        .basic_auth("aws", Some(token))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A domain whose repository `team` has the external connection, with repositories `other`
/// and `downstream` (whose upstream is `team`), and the public stand-in offering
/// `acme-billing` and `requests`. Returns a token and `team`'s endpoint.
async fn world(public: &std::path::Path) -> (Emulator, ca::Client, String, String) {
    publish_publicly(public, "acme_billing-99.0-py3-none-any.whl");
    publish_publicly(public, "requests-2.0-py3-none-any.whl");
    let config = Config {
        public_pypi_dir: Some(public.to_path_buf()),
        ..Config::for_tests()
    };
    let emu = Emulator::start(config).await.unwrap();
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "team").await;
    for repo in ["other", "downstream"] {
        let req = c.create_repository().domain("dom").repository(repo);
        req.send().await.unwrap();
    }
    let team = ca::types::UpstreamRepository::builder()
        .repository_name("team")
        .build()
        .unwrap();
    let req = c.update_repository().domain("dom").repository("downstream");
    req.upstreams(team).send().await.unwrap();
    let req = c
        .associate_external_connection()
        .domain("dom")
        .repository("team");
    req.external_connection("public:pypi").send().await.unwrap();
    (emu, c, token, endpoint)
}

/// `/pypi//acme~`: never from public PyPI, published only to `team`.
async fn protect(c: &ca::Client) {
    let req = c
        .create_package_group()
        .domain("dom")
        .package_group("/pypi//acme~");
    req.send().await.unwrap();
    set_modes(
        c,
        "/pypi//acme~",
        &[
            (Kind::ExternalUpstream, Mode::Block),
            (Kind::Publish, Mode::AllowSpecificRepositories),
        ],
        &[("team", Kind::Publish)],
    )
    .await;
}

async fn publish(endpoint: &str, token: &str, name: &str, version: &str) -> reqwest::Response {
    let wheel = format!("{}-{version}-py3-none-any.whl", name.replace('-', "_"));
    upload(endpoint, token, name, version, &wheel, b"internal").await
}

#[tokio::test]
async fn blocked_external_upstreams_and_publishing_are_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let (_emu, c, token, endpoint) = world(&tmp.path().join("public")).await;
    let status = |project: &'static str| simple_status(&endpoint, &token, project);
    assert_eq!(status("acme-billing").await, 200, "no group yet");

    protect(&c).await;
    assert_eq!(status("acme-billing").await, 404, "public files are hidden");
    assert_eq!(status("requests").await, 200, "other names are not");
    let ok = publish(&endpoint, &token, "acme-billing", "1.0").await;
    assert_eq!(
        ok.status().as_u16(),
        200,
        "the allowed repository may publish"
    );
    assert_eq!(status("acme-billing").await, 200);

    let (_, other) = endpoint_and_token(&c, "dom", "other").await;
    let refused = publish(&other, &token, "acme-billing", "2.0").await;
    assert_eq!(refused.status().as_u16(), 403);
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("PUBLISH") && body.contains("/pypi//acme~"),
        "{body}"
    );
    let folded = publish(&endpoint, &token, "ACME_billing", "3.0").await;
    assert_eq!(
        folded.status().as_u16(),
        200,
        "names are normalised before matching"
    );
}

#[tokio::test]
async fn a_blocked_internal_upstream_hides_what_only_upstreams_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let (_emu, c, token, endpoint) = world(&tmp.path().join("public")).await;
    protect(&c).await;
    publish(&endpoint, &token, "acme-billing", "1.0").await;
    let (_, down) = endpoint_and_token(&c, "dom", "downstream").await;
    let inherited = simple_status(&down, &token, "acme-billing").await;
    assert_eq!(inherited, 200, "INTERNAL_UPSTREAM inherits ALLOW from /*");
    set_modes(
        &c,
        "/pypi//acme~",
        &[(Kind::InternalUpstream, Mode::Block)],
        &[],
    )
    .await;
    assert_eq!(simple_status(&down, &token, "acme-billing").await, 404);
    let own = simple_status(&endpoint, &token, "acme-billing").await;
    assert_eq!(own, 200, "the repository's own copy stays");
}

#[tokio::test]
async fn groups_survive_a_restart_with_a_state_file() {
    let tmp = tempfile::tempdir().unwrap();
    let config = Config {
        state_file: Some(tmp.path().join("state.json")),
        ..Config::for_tests()
    };
    let emu = Emulator::start(config.clone()).await.unwrap();
    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    c.create_package_group()
        .domain("dom")
        .package_group("/pypi//acme~")
        .send()
        .await
        .unwrap();
    set_modes(&c, "/pypi//acme~", &[(Kind::Publish, Mode::Block)], &[]).await;
    emu.shutdown().await;
    let emu = Emulator::start(config).await.unwrap();
    let g = client(&emu)
        .describe_package_group()
        .domain("dom")
        .package_group("/pypi//acme~")
        .send()
        .await
        .unwrap()
        .package_group
        .unwrap();
    let r = g.origin_configuration().unwrap().restrictions().unwrap();
    assert_eq!(r[&Kind::Publish].mode(), Some(&Mode::Block));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_runs_the_package_group_scenario() {
    common::venv_python();
    let emu = common::start().await;
    let command = tokio::process::Command::new(common::venv_python());
    let out = common::python_against(command, &emu, "boto3_package_groups.py")
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("boto3 package groups OK"),
        "{text}"
    );
    for op in [
        "CreatePackageGroup",
        "DescribePackageGroup",
        "UpdatePackageGroup",
        "DeletePackageGroup",
        "ListPackageGroups",
        "ListSubPackageGroups",
        "UpdatePackageGroupOriginConfiguration",
        "GetAssociatedPackageGroup",
        "ListAllowedRepositoriesForGroup",
    ] {
        assert!(emu.call_count(op) > 0, "boto3 never reached {op}");
    }
}
