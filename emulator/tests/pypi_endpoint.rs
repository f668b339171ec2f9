//! The PyPI endpoint over plain HTTP: Basic auth rules, content negotiation, redirects,
//! downloads with matching hashes, upstream order, and the test clock's effect on tokens.

mod common;

use std::time::Duration;

use aws_sdk_codeartifact as ca;
use codeartifact_emulator::Emulator;
use common::{client, domain_with_repo, endpoint_and_token, start, upload};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PIP_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

fn get(url: &str, token: Option<&str>) -> reqwest::RequestBuilder {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let req = http.get(url);
    match token {
        Some(t) => req.basic_auth("aws", Some(t)),
        None => req,
    }
}

async fn setup() -> (Emulator, ca::Client, String, String) {
    let emu = start().await;
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "repo").await;
    let r = upload(
        &endpoint,
        &token,
        "Demo_Pkg",
        "1.0",
        "demo_pkg-1.0-py3-none-any.whl",
        b"wheel-bytes",
    )
    .await;
    assert_eq!(r.status(), 200);
    (emu, c, token, endpoint)
}

#[tokio::test]
async fn basic_auth_needs_user_aws_and_a_current_token_for_that_domain() {
    let (_emu, c, token, endpoint) = setup().await;
    let page = format!("{endpoint}simple/demo-pkg/");
    let none = get(&page, None).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(
        get(&page, Some("caemu-unknown"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let wrong_user = reqwest::Client::new()
        .get(&page)
        .basic_auth("bob", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_user.status(), 401);
    c.create_domain().domain("elsewhere").send().await.unwrap();
    let other_domain = c
        .get_authorization_token()
        .domain("elsewhere")
        .send()
        .await
        .unwrap();
    let other = other_domain.authorization_token().unwrap();
    assert_eq!(get(&page, Some(other)).send().await.unwrap().status(), 401);
    assert_eq!(get(&page, Some(&token)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn test_clock_expires_tokens_while_expiration_stays_in_real_time() {
    let (emu, c, token, endpoint) = setup().await;
    let page = format!("{endpoint}simple/demo-pkg/");
    // 900 s at speed 300 last 3 real seconds; advancing the clock expires tokens at once.
    emu.set_clock_speed(300.0);
    let short = c
        .get_authorization_token()
        .domain("dom")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let real_left = short.expiration().unwrap().as_secs_f64()
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
    assert!(
        (1.5..=3.5).contains(&real_left),
        "expiration is in real time: {real_left}"
    );
    let short = short.authorization_token().unwrap().to_string();
    assert_eq!(get(&page, Some(&short)).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(get(&page, Some(&short)).send().await.unwrap().status(), 401);
    assert_eq!(get(&page, Some(&token)).send().await.unwrap().status(), 200);
    emu.set_clock_speed(1.0);
    emu.advance_clock(Duration::from_secs(43_201));
    assert_eq!(get(&page, Some(&token)).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn html_project_pages_follow_pep_503() {
    let (_emu, _c, token, endpoint) = setup().await;
    let sha = hex::encode(Sha256::digest(b"wheel-bytes"));
    let html = get(&format!("{endpoint}simple/demo-pkg/"), Some(&token));
    let html = html.send().await.unwrap();
    let content_type = html.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = html.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.0\">"));
    assert!(html.contains(&format!("demo_pkg-1.0-py3-none-any.whl#sha256={sha}")));
    assert!(html.contains("data-requires-python=\"&gt;=3.8\""));
    let index = get(&format!("{endpoint}simple/"), Some(&token))
        .send()
        .await
        .unwrap();
    assert!(index.text().await.unwrap().contains("demo-pkg/"));
}

#[tokio::test]
async fn json_pages_are_chosen_by_accept_and_link_the_right_bytes() {
    let (_emu, _c, token, endpoint) = setup().await;
    let page = format!("{endpoint}simple/demo-pkg/");
    let with_accept =
        |accept: &'static str| get(&page, Some(&token)).header("accept", accept).send();
    let json = with_accept(PIP_ACCEPT).await.unwrap();
    let content_type = &json.headers()["content-type"];
    assert_eq!(content_type, "application/vnd.pypi.simple.v1+json");
    let json: Value = json.json().await.unwrap();
    assert_eq!(json["name"], "demo-pkg");
    let file = &json["files"][0];
    let sha = hex::encode(Sha256::digest(b"wheel-bytes"));
    assert_eq!(file["hashes"]["sha256"], sha.as_str());
    let url = reqwest::Url::parse(&page)
        .unwrap()
        .join(file["url"].as_str().unwrap())
        .unwrap();
    let bytes = get(url.as_str(), Some(&token))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"wheel-bytes");
    let v1_html = with_accept("application/vnd.pypi.simple.v1+html")
        .await
        .unwrap();
    assert_eq!(
        v1_html.headers()["content-type"],
        "application/vnd.pypi.simple.v1+html"
    );
    assert_eq!(with_accept("application/json").await.unwrap().status(), 406);
}

#[tokio::test]
async fn names_are_normalised_and_slashless_urls_redirect() {
    let (_emu, _c, token, endpoint) = setup().await;
    let status = |path: &str| {
        let req = get(&format!("{endpoint}{path}"), Some(&token));
        async move { req.send().await.unwrap() }
    };
    assert_eq!(status("simple/Demo_Pkg/").await.status(), 200);
    assert_eq!(status("simple/ghost/").await.status(), 404);
    let redirect = status("simple/demo-pkg").await;
    assert_eq!(redirect.status(), 301);
    let location = redirect.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("/simple/demo-pkg/"), "{location}");
}

#[tokio::test]
async fn uploads_are_checked_and_wheel_plus_sdist_of_a_version_both_succeed() {
    let (_emu, _c, token, endpoint) = setup().await;
    let sdist = upload(
        &endpoint,
        &token,
        "demo-pkg",
        "1.0",
        "demo_pkg-1.0.tar.gz",
        b"sdist",
    );
    assert_eq!(sdist.await.status(), 200);
    let mismatched = upload(
        &endpoint,
        &token,
        "other",
        "1.0",
        "demo_pkg-2.0.tar.gz",
        b"x",
    );
    assert_eq!(mismatched.await.status(), 400);
    let bad = upload(
        &endpoint,
        "caemu-nope",
        "demo-pkg",
        "3.0",
        "demo_pkg-3.0.tar.gz",
        b"x",
    );
    assert_eq!(bad.await.status(), 401);
}

#[tokio::test]
async fn upstreams_are_searched_in_order_and_fetched_versions_retained() {
    let (_emu, c, _, _) = setup().await;
    // "down" -> ["first", "second"]; both hold shared-pkg with a different 1.0 wheel.
    let wheel = "shared_pkg-1.0-py3-none-any.whl";
    for repo in ["first", "second"] {
        c.create_repository()
            .domain("dom")
            .repository(repo)
            .send()
            .await
            .unwrap();
        let (t, ep) = endpoint_and_token(&c, "dom", repo).await;
        let r = upload(&ep, &t, "shared-pkg", "1.0", wheel, repo.as_bytes()).await;
        assert_eq!(r.status(), 200);
    }
    let up = |n: &str| {
        ca::types::UpstreamRepository::builder()
            .repository_name(n)
            .build()
            .unwrap()
    };
    let down = c.create_repository().domain("dom").repository("down");
    down.upstreams(up("first"))
        .upstreams(up("second"))
        .send()
        .await
        .unwrap();
    let (t, ep) = endpoint_and_token(&c, "dom", "down").await;
    let file = format!("{ep}files/shared-pkg/{wheel}");
    let bytes = get(&file, Some(&t))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"first");
    let kept = c
        .list_package_versions()
        .domain("dom")
        .repository("down")
        .format(ca::types::PackageFormat::Pypi)
        .package("shared-pkg")
        .send()
        .await
        .unwrap();
    let entry = kept.versions()[0]
        .origin()
        .unwrap()
        .domain_entry_point()
        .unwrap();
    assert_eq!(entry.repository_name(), Some("first"));
}

/// The files a JSON project page lists (empty when the project is not found).
async fn listed(endpoint: &str, token: &str, project: &str) -> Vec<String> {
    let res = get(&format!("{endpoint}simple/{project}/"), Some(token))
        .header("accept", PIP_ACCEPT)
        .send()
        .await
        .unwrap();
    if res.status() == 404 {
        return Vec::new();
    }
    let page: Value = res.json().await.unwrap();
    let mut files: Vec<String> = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_string())
        .collect();
    files.sort();
    files
}

/// AWS: "When importing a Python package version from pypi.org, CodeArtifact imports all
/// assets in that package version." One requested file keeps its whole version, and only
/// that version; reading the index keeps nothing. After the cut, what was kept stays and
/// nothing else is served.
#[tokio::test]
async fn one_requested_file_keeps_its_whole_version_and_only_that_version() {
    let tmp = tempfile::tempdir().unwrap();
    let public = tmp.path().join("public");
    std::fs::create_dir_all(&public).unwrap();
    let v1 = [
        "air_pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "air_pkg-1.0-py3-none-any.whl",
        "air_pkg-1.0.tar.gz",
    ];
    for f in v1.iter().chain(&[
        "air_pkg-2.0-py3-none-any.whl",
        "never_fetched-1.0-py3-none-any.whl",
    ]) {
        std::fs::write(public.join(f), f.as_bytes()).unwrap();
    }
    let config = codeartifact_emulator::Config {
        public_pypi_dir: Some(public),
        ..codeartifact_emulator::Config::for_tests()
    };
    let emu = Emulator::start(config).await.unwrap();
    let c = client(&emu);
    let (token, endpoint) = domain_with_repo(&c, "dom", "airgap").await;
    let conn = c.associate_external_connection().domain("dom");
    let conn = conn.repository("airgap").external_connection("public:pypi");
    conn.send().await.unwrap();
    assert_eq!(listed(&endpoint, &token, "air-pkg").await.len(), 4);
    assert_eq!(listed(&endpoint, &token, "never-fetched").await.len(), 1);
    let packages = c.list_packages().domain("dom").repository("airgap");
    let packages = packages.send().await.unwrap();
    assert!(
        packages.packages().is_empty(),
        "reading the index keeps nothing"
    );

    let file = format!("{endpoint}files/air-pkg/air_pkg-1.0-py3-none-any.whl");
    assert_eq!(get(&file, Some(&token)).send().await.unwrap().status(), 200);
    let cut = c.disassociate_external_connection().domain("dom");
    let cut = cut.repository("airgap").external_connection("public:pypi");
    cut.send().await.unwrap();

    assert_eq!(
        listed(&endpoint, &token, "air-pkg").await,
        v1,
        "all of 1.0, none of 2.0"
    );
    let other = format!("{endpoint}files/air-pkg/{}", v1[0]);
    let res = get(&other, Some(&token)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), v1[0].as_bytes());
    let newer = format!("{endpoint}files/air-pkg/air_pkg-2.0-py3-none-any.whl");
    assert_eq!(
        get(&newer, Some(&token)).send().await.unwrap().status(),
        404
    );
    assert!(listed(&endpoint, &token, "never-fetched").await.is_empty());
    let versions = c.list_package_versions().domain("dom").repository("airgap");
    let versions = versions
        .format(ca::types::PackageFormat::Pypi)
        .package("air-pkg")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = versions.versions().iter().map(|v| v.version()).collect();
    assert_eq!(names, ["1.0"]);
}
