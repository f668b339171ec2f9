//! STS AssumeRole and IAM evaluation against the emulator with the Rust SDK: aws-config's own
//! assume-role provider, aws-sdk-sts's error parsing, role permissions on control-plane calls,
//! session policies carried into authorization tokens, expiry and renewal of role sessions.

mod common;

use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_codeartifact as ca;
use aws_sdk_codeartifact::error::ProvideErrorMetadata;
use aws_sdk_sts as sts;
use codeartifact_emulator::{Emulator, Role};
use common::{ACCOUNT, OTHER_ACCOUNT, client, upload};
use serde_json::json;

const ROLE: &str = "arn:aws:iam::111122223333:role/ci/publisher";
const CROSS_ROLE: &str = "arn:aws:iam::444455556666:role/central-reader";

/// A role trusted by `trusted`, allowed everything in CodeArtifact (and bearer tokens for it)
/// except deleting domains.
fn role(arn: &str, trusted: &str) -> Role {
    Role {
        arn: arn.into(),
        trusted: vec![trusted.into()],
        external_id: None,
        policy: json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"},
                {"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
                 "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
                {"Effect": "Deny", "Action": "codeartifact:DeleteDomain", "Resource": "*"}
            ]
        }),
        max_session_seconds: 3600,
    }
}

/// The session policy the operator uses for a read-only token on one repository.
fn read_only_policy(repo_arn: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "codeartifact:ReadFromRepository", "Resource": repo_arn},
            {"Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken", "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*"}
        ]
    })
    .to_string()
}

/// SDK configuration for the emulator signed with a long-term test key.
async fn base_config(emu: &Emulator, key: &str, secret: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(emu.region().to_string()))
        .endpoint_url(emu.base_url())
        .credentials_provider(Credentials::new(key, secret, None, None, "static"))
        .load()
        .await
}

/// A CodeArtifact client whose credentials come from aws-config's AssumeRoleProvider.
async fn role_client(
    base: &SdkConfig,
    role: &str,
    configure: impl FnOnce(
        aws_config::sts::AssumeRoleProviderBuilder,
    ) -> aws_config::sts::AssumeRoleProviderBuilder,
) -> ca::Client {
    let provider = configure(AssumeRoleProvider::builder(role).session_name("rust-test"))
        .configure(base)
        .build()
        .await;
    let conf = ca::config::Builder::from(base)
        .credentials_provider(provider)
        .build();
    ca::Client::from_conf(conf)
}

async fn setup(emu: &Emulator) {
    let c = client(emu);
    c.create_domain().domain("dom").send().await.unwrap();
    for repo in ["team-a", "team-b"] {
        c.create_repository()
            .domain("dom")
            .repository(repo)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn assume_role_provider_credentials_act_under_the_role_policy() {
    let emu = common::start().await;
    setup(&emu).await;
    emu.add_role(role(ROLE, ACCOUNT)).unwrap();
    let base = base_config(&emu, "AKIDEMULATOR", "emulator-secret").await;
    let c = role_client(&base, ROLE, |b| b).await;

    let domains = c.list_domains().send().await.unwrap();
    assert_eq!(domains.domains().len(), 1);
    c.describe_repository()
        .domain("dom")
        .repository("team-a")
        .send()
        .await
        .unwrap();
    let token = c
        .get_authorization_token()
        .domain("dom")
        .send()
        .await
        .unwrap();
    assert!(token.authorization_token().unwrap().starts_with("caemu-"));

    let err = c.delete_domain().domain("dom").send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    let message = err.message().unwrap();
    assert!(
        message.contains("arn:aws:sts::111122223333:assumed-role/publisher/rust-test")
            && message.contains("codeartifact:DeleteDomain")
            && message.contains("explicit deny"),
        "{message}"
    );
    assert_eq!(emu.domains().len(), 1, "the denied delete did nothing");
    assert_eq!(
        emu.call_count("AssumeRole"),
        1,
        "credentials are cached by the provider"
    );
}

#[tokio::test]
async fn a_session_policy_limits_calls_and_the_tokens_minted_under_it() {
    let emu = common::start().await;
    setup(&emu).await;
    emu.add_role(role(ROLE, ACCOUNT)).unwrap();
    let (static_token, _) = common::endpoint_and_token(&client(&emu), "dom", "team-a").await;
    let team_a = format!(
        "arn:aws:codeartifact:{}:{ACCOUNT}:repository/dom/team-a",
        emu.region()
    );
    let base = base_config(&emu, "AKIDEMULATOR", "emulator-secret").await;
    let c = role_client(&base, ROLE, |b| b.policy(read_only_policy(&team_a))).await;

    let err = c
        .describe_repository()
        .domain("dom")
        .repository("team-a")
        .send()
        .await
        .unwrap_err();
    let message = err.into_service_error().message().unwrap().to_string();
    assert!(
        message.contains("because no session policy allows"),
        "{message}"
    );
    let token = c
        .get_authorization_token()
        .domain("dom")
        .send()
        .await
        .unwrap();
    let token = token.authorization_token().unwrap();

    let endpoint = |repo: &str| format!("{}/pypi/d/dom-{ACCOUNT}/{repo}/", emu.base_url());
    let http = reqwest::Client::new();
    let get = |repo: &str, tok: &str| {
        http.get(format!("{}simple/", endpoint(repo)))
            .basic_auth("aws", Some(tok.to_string()))
            .send()
    };
    assert_eq!(get("team-a", token).await.unwrap().status(), 200);
    let refused = get("team-b", token).await.unwrap();
    assert_eq!(refused.status(), 403);
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("codeartifact:ReadFromRepository") && body.contains("team-b"),
        "{body}"
    );
    assert!(!body.contains(token), "a refusal never echoes the token");
    let published = upload(
        &endpoint("team-a"),
        token,
        "demo",
        "1.0",
        "demo-1.0-py3-none-any.whl",
        b"x",
    )
    .await;
    assert_eq!(published.status(), 403);
    assert!(
        published
            .text()
            .await
            .unwrap()
            .contains("codeartifact:PublishPackageVersion")
    );
    // A token minted with the long-term key keeps today's behaviour: everything allowed.
    assert_eq!(get("team-b", &static_token).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_cross_account_role_acts_in_its_own_account() {
    let emu = common::start().await;
    let central = common::other_client(&emu);
    central
        .create_domain()
        .domain("central")
        .send()
        .await
        .unwrap();
    emu.add_role(role(CROSS_ROLE, ACCOUNT)).unwrap();
    emu.add_role(role(ROLE, ACCOUNT)).unwrap();
    let base = base_config(&emu, "AKIDEMULATOR", "emulator-secret").await;
    let c = role_client(&base, CROSS_ROLE, |b| b).await;
    let domains = c.list_domains().send().await.unwrap();
    let names: Vec<_> = domains
        .domains()
        .iter()
        .map(|d| d.owner().unwrap())
        .collect();
    assert_eq!(names, [OTHER_ACCOUNT]);
    let sts = sts::Client::new(&base);
    let trusted = sts
        .assume_role()
        .role_arn(CROSS_ROLE)
        .role_session_name("s1")
        .send();
    let trusted = trusted.await;
    assert!(
        trusted.is_ok(),
        "the trusted account may assume it: {trusted:?}"
    );
    let stranger = base_config(&emu, "AKIDOTHER", "other-secret").await;
    let err = sts::Client::new(&stranger)
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("s1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("AccessDenied"));
    assert!(
        err.message()
            .unwrap()
            .contains("sts:AssumeRole on resource: arn:aws:iam::111122223333:role/ci/publisher")
    );
}

#[tokio::test]
async fn assume_role_errors_have_sts_codes() {
    let emu = common::start().await;
    let mut guarded = role(ROLE, ACCOUNT);
    guarded.external_id = Some("ext-42".into());
    emu.add_role(guarded).unwrap();
    let base = base_config(&emu, "AKIDEMULATOR", "emulator-secret").await;
    let sts = sts::Client::new(&base);
    let code =
        |r: Result<_, sts::error::SdkError<sts::operation::assume_role::AssumeRoleError, _>>| {
            let e = r.unwrap_err().into_service_error();
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        };
    let ask = || {
        sts.assume_role()
            .role_arn(ROLE)
            .role_session_name("s1")
            .external_id("ext-42")
    };
    let ok = ask().duration_seconds(900).send().await.unwrap();
    let creds = ok.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert!(!creds.session_token().is_empty());
    assert_eq!(
        ok.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::111122223333:assumed-role/publisher/s1"
    );
    let (c, _) = code(ask().external_id("wrong").send().await);
    assert_eq!(c, "AccessDenied");
    let (c, m) = code(ask().policy("not json").send().await);
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "MalformedPolicyDocument",
            "The policy is not in the valid JSON format."
        )
    );
    let (c, m) = code(
        ask()
            .policy(r#"{"Statement":{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}}"#)
            .send()
            .await,
    );
    assert_eq!(c, "MalformedPolicyDocument");
    assert!(
        m.contains("unsupported by the emulator") && m.contains("NotAction"),
        "{m}"
    );
    let (c, m) = code(ask().duration_seconds(7200).send().await);
    assert_eq!(c, "ValidationError");
    assert!(m.contains("MaxSessionDuration"), "{m}");
    let (c, m) = code(ask().role_session_name("x").send().await);
    assert_eq!(c, "ValidationError");
    assert!(m.contains("'roleSessionName'"), "{m}");
}

#[tokio::test]
async fn expired_role_credentials_get_expired_token_exception() {
    let emu = common::start().await;
    setup(&emu).await;
    emu.add_role(role(ROLE, ACCOUNT)).unwrap();
    let base = base_config(&emu, "AKIDEMULATOR", "emulator-secret").await;
    let c = role_client(&base, ROLE, |b| b.session_length(Duration::from_secs(900))).await;
    c.list_domains().send().await.unwrap();
    // The provider cached credentials valid (by the wall clock) for 15 minutes; the emulator's
    // clock jumps past that, as if the client had kept them too long.
    emu.advance_clock(Duration::from_secs(901));
    let err = c
        .list_domains()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ExpiredTokenException"));
    assert_eq!(
        err.message(),
        Some("The security token included in the request is expired")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_renews_role_credentials_on_a_fast_clock_without_a_failed_call() {
    let emu = common::start().await;
    setup(&emu).await;
    emu.add_role(role(ROLE, ACCOUNT)).unwrap();
    // 900 emulated seconds at speed 60 are 15 real seconds; aws-config refreshes shortly
    // before the reported (real-time) expiration.
    emu.set_clock_speed(60.0);
    let base = base_config(&emu, "AKIDEMULATOR", "emulator-secret").await;
    let c = role_client(&base, ROLE, |b| b.session_length(Duration::from_secs(900))).await;
    let started = std::time::Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_secs(20) {
        c.list_domains()
            .send()
            .await
            .expect("no call fails across renewals");
        calls += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let assumed = emu.call_count("AssumeRole");
    assert!(
        assumed >= 2,
        "credentials were renewed ({assumed} AssumeRole calls, {calls} calls)"
    );
}

/// Roles and role sessions are in the `--state` file: after a restart the
/// role is still configured and credentials handed out before it still act
/// under the role's policy, as AWS credentials outlive a service restart.
#[tokio::test]
async fn roles_and_role_sessions_survive_a_restart_with_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = codeartifact_emulator::Config {
        state_file: Some(dir.path().join("state.json")),
        ..codeartifact_emulator::Config::for_tests()
    };
    let emu = Emulator::start(config.clone()).await.unwrap();
    emu.add_role(role(ROLE, ACCOUNT)).unwrap();
    setup(&emu).await;
    let base = base_config(&emu, "AKIDEMULATOR", "emulator-secret").await;
    let assumed = sts::Client::new(&base)
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("restart")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    let (key, secret, token) = (
        creds.access_key_id().to_string(),
        creds.secret_access_key().to_string(),
        creds.session_token().to_string(),
    );
    emu.shutdown().await;

    let emu = Emulator::start(config).await.unwrap();
    assert_eq!(emu.roles(), [role(ROLE, ACCOUNT)], "the role is kept");
    let session = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(emu.region().to_string()))
        .endpoint_url(emu.base_url())
        .credentials_provider(Credentials::new(key, secret, Some(token), None, "session"))
        .load()
        .await;
    let c = ca::Client::new(&session);
    c.describe_domain().domain("dom").send().await.unwrap();
    let denied = c.delete_domain().domain("dom").send().await.unwrap_err();
    assert_eq!(
        denied.code(),
        Some("AccessDeniedException"),
        "the session still acts under the role's policy: {denied:?}"
    );
    emu.shutdown().await;
}
