//! Authentication failures, deny rules, injected faults (with the SDK's retries visible in the
//! counters), the admin HTTP API, and wire-protocol edge cases.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_codeartifact as ca;
use ca::error::ProvideErrorMetadata;
use codeartifact_emulator::Fault;
use common::{client, client_with, other_client, raw, start};
use serde_json::{Value, json};

#[tokio::test]
async fn bad_signatures_unknown_keys_and_deny_rules_are_access_denied() {
    let emu = start().await;
    let wrong_secret = client_with(&emu, "AKIDEMULATOR", "wrong-secret");
    let err = wrong_secret.list_domains().send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(err),
        ca::Error::AccessDeniedException(_)
    ));
    let unknown = client_with(&emu, "AKIDUNKNOWN", "whatever");
    let err = unknown.list_domains().send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(err),
        ca::Error::AccessDeniedException(_)
    ));
    // Refused requests are counted, and 403s are not retried.
    assert_eq!(emu.call_count("ListDomains"), 2);

    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    emu.deny("AKIDEMULATOR", "GetAuthorizationToken");
    let denied = c
        .get_authorization_token()
        .domain("dom")
        .send()
        .await
        .unwrap_err();
    match ca::Error::from(denied) {
        ca::Error::AccessDeniedException(e) => assert!(
            e.message().contains(
                "User: arn:aws:iam::111122223333:user/AKIDEMULATOR is not authorized to perform: codeartifact:GetAuthorizationToken"
            ),
            "{}",
            e.message()
        ),
        other => panic!("expected AccessDeniedException, got {other:?}"),
    }
    assert_eq!(emu.call_count("GetAuthorizationToken"), 1);
    c.describe_domain().domain("dom").send().await.unwrap();
    other_client(&emu).list_domains().send().await.unwrap();
    emu.clear_denies();
    c.get_authorization_token()
        .domain("dom")
        .send()
        .await
        .unwrap();

    let unsigned = raw(&emu, "POST", "/v1/domains", b"{}", None).await;
    assert_eq!(unsigned.status(), 403);
    assert_eq!(
        unsigned.headers()["x-amzn-errortype"],
        "AccessDeniedException"
    );
}

#[tokio::test]
async fn injected_faults_are_retried_by_the_sdk_and_counted() {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    emu.reset_calls();
    emu.set_fault(
        "ListDomains",
        Fault {
            throttle: 1.0,
            ..Fault::default()
        },
    );
    let err = c.list_domains().send().await.unwrap_err();
    match ca::Error::from(err) {
        ca::Error::ThrottlingException(e) => assert_eq!(e.retry_after_seconds(), Some(1)),
        other => panic!("expected ThrottlingException, got {other:?}"),
    }
    assert_eq!(
        emu.call_count("ListDomains"),
        3,
        "one SDK call = 3 attempts"
    );
    c.describe_domain().domain("dom").send().await.unwrap();
    assert_eq!(emu.call_count("DescribeDomain"), 1);

    emu.set_fault(
        "*",
        Fault {
            internal_error: 1.0,
            ..Fault::default()
        },
    );
    let err = c.describe_domain().domain("dom").send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(err),
        ca::Error::InternalServerException(_)
    ));
    assert_eq!(emu.call_count("DescribeDomain"), 4);
    // The operation's own fault wins over "*".
    let err = c.list_domains().send().await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));

    emu.clear_faults();
    emu.set_fault(
        "DescribeDomain",
        Fault {
            max_latency: Duration::from_millis(300),
            ..Fault::default()
        },
    );
    let started = Instant::now();
    for _ in 0..3 {
        c.describe_domain().domain("dom").send().await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    emu.clear_faults();
    assert_eq!(emu.calls()["ListDomains"], 6);
}

async fn admin(
    emu: &codeartifact_emulator::Emulator,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(
        method.parse().unwrap(),
        format!("{}/_emulator/{path}", emu.base_url()),
    );
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn admin_api_reads_and_resets_call_counters() {
    let emu = start().await;
    let c = client(&emu);
    assert_eq!(
        admin(&emu, "GET", "health", None).await.1["region"],
        "us-west-2"
    );
    c.create_domain().domain("dom").send().await.unwrap();
    c.list_domains().send().await.unwrap();
    let (_, calls) = admin(&emu, "GET", "calls", None).await;
    assert_eq!(calls, json!({ "CreateDomain": 1, "ListDomains": 1 }));
    admin(&emu, "DELETE", "calls", None).await;
    assert!(emu.calls().is_empty());
    assert_eq!(admin(&emu, "GET", "nothing", None).await.0, 404);
}

#[tokio::test]
async fn admin_api_sets_lists_and_clears_faults() {
    let emu = start().await;
    let c = client(&emu);
    let fault = json!({ "operation": "CreateDomain", "throttle": 1.0 });
    assert_eq!(admin(&emu, "POST", "faults", Some(fault)).await.0, 200);
    let (_, faults) = admin(&emu, "GET", "faults", None).await;
    let expected = json!({ "throttle": 1.0, "internalError": 0.0, "maxLatencyMs": 0 });
    assert_eq!(faults["CreateDomain"], expected);
    let err = c.create_domain().domain("dom").send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(err),
        ca::Error::ThrottlingException(_)
    ));
    assert_eq!(emu.call_count("CreateDomain"), 3);
    admin(&emu, "DELETE", "faults", None).await;
    c.create_domain().domain("dom").send().await.unwrap();
    let typo = json!({ "operation": "Nope", "throttle": 1 });
    assert_eq!(admin(&emu, "POST", "faults", Some(typo)).await.0, 400);
    let out_of_range = json!({ "operation": "*", "throttle": 2 });
    assert_eq!(
        admin(&emu, "POST", "faults", Some(out_of_range)).await.0,
        400
    );
}

#[tokio::test]
async fn admin_api_manages_deny_rules() {
    let emu = start().await;
    let c = client(&emu);
    let rule = json!({ "accessKeyId": "AKIDEMULATOR", "operation": "ListDomains" });
    admin(&emu, "POST", "denies", Some(rule)).await;
    let (_, denies) = admin(&emu, "GET", "denies", None).await;
    assert_eq!(denies, json!({ "AKIDEMULATOR": ["ListDomains"] }));
    let err = c.list_domains().send().await.unwrap_err();
    assert!(matches!(
        ca::Error::from(err),
        ca::Error::AccessDeniedException(_)
    ));
    admin(&emu, "DELETE", "denies", None).await;
    c.list_domains().send().await.unwrap();
}

#[tokio::test]
async fn admin_api_moves_the_clock_and_lists_tokens() {
    let emu = start().await;
    let c = client(&emu);
    c.create_domain().domain("dom").send().await.unwrap();
    let get_token = c
        .get_authorization_token()
        .domain("dom")
        .duration_seconds(900);
    let token = get_token.send().await.unwrap();
    let (_, tokens) = admin(&emu, "GET", "tokens", None).await;
    assert_eq!(tokens[0]["token"], token.authorization_token().unwrap());
    assert_eq!(tokens[0]["domain"], "dom");
    assert_eq!(tokens[0]["expired"], false);
    let advance = json!({ "advanceSeconds": 1000 });
    let (_, clock) = admin(&emu, "POST", "clock", Some(advance)).await;
    assert!(clock["offsetSeconds"].as_f64().unwrap() >= 999.0);
    assert_eq!(
        admin(&emu, "GET", "tokens", None).await.1[0]["expired"],
        true
    );
    let (_, clock) = admin(&emu, "POST", "clock", Some(json!({ "speed": 60 }))).await;
    assert_eq!(clock["speed"], 60.0);
    let bad = json!({ "speed": -1 });
    assert_eq!(admin(&emu, "POST", "clock", Some(bad)).await.0, 400);
}

#[tokio::test]
async fn wire_protocol_edge_cases_get_clean_errors() {
    let emu = start().await;
    let key = Some(("AKIDEMULATOR", "emulator-secret"));
    let unknown = raw(&emu, "GET", "/v1/nothing", b"", key).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["x-amzn-errortype"],
        "UnknownOperationException"
    );
    assert!(unknown.json::<Value>().await.unwrap()["message"].is_string());

    let malformed = raw(&emu, "POST", "/v1/domains", b"{not json", key).await;
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["reason"], "CANNOT_PARSE");

    let huge = vec![b' '; 11 * 1024 * 1024];
    let too_big = raw(&emu, "POST", "/v1/domain?domain=big", &huge, None).await;
    assert_eq!(too_big.status(), 413);
    assert_eq!(emu.call_count("CreateDomain"), 1);

    let created = raw(&emu, "POST", "/v1/domain?domain=dom", b"", key).await;
    assert_eq!(created.status(), 200);
    assert!(created.headers().contains_key("x-amzn-requestid"));
    let body: Value = created.json().await.unwrap();
    assert!(body["domain"]["createdTime"].is_number(), "{body}");
    raw(
        &emu,
        "POST",
        "/v1/repository?repository=repo&domain=dom",
        b"{}",
        key,
    )
    .await;
    // Query order and RFC 3986 encoding must not matter.
    let assoc = raw(
        &emu,
        "POST",
        "/v1/repository/external-connection?repository=repo&external-connection=public%3Apypi&domain=dom",
        b"",
        key,
    )
    .await;
    assert_eq!(assoc.status(), 200, "{:?}", assoc.text().await);
    assert_eq!(emu.repositories()[0].external_connections, ["public:pypi"]);
    let missing = raw(&emu, "GET", "/v1/domain", b"", key).await;
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn concurrent_conflicting_creates_yield_one_winner() {
    let emu = start().await;
    let c = client(&emu);
    let attempts = (0..8).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.create_domain().domain("race").send().await })
    });
    let mut ok = 0;
    let mut conflicts = 0;
    for a in attempts {
        match a.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(matches!(
                    ca::Error::from(e),
                    ca::Error::ConflictException(_)
                ));
                conflicts += 1;
            }
        }
    }
    assert_eq!((ok, conflicts), (1, 7));
}
