//! Unit tests for the IAM policy evaluator.

use super::*;

const REPO: &str = "arn:aws:codeartifact:us-west-2:111122223333:repository/d/team-a";
const OTHER_REPO: &str = "arn:aws:codeartifact:us-west-2:111122223333:repository/d/team-b";
const DOMAIN: &str = "arn:aws:codeartifact:us-west-2:111122223333:domain/d";

fn req<'a>(action: &'a str, resource: &'a str) -> Request<'a> {
    Request {
        action,
        resource,
        context: &[],
    }
}

fn policy(doc: &str) -> Policy {
    parse(doc).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

#[test]
fn wildcards_star_and_question_mark() {
    assert!(wildcard_match(
        "codeartifact:*",
        "codeartifact:ListDomains",
        false
    ));
    assert!(wildcard_match(
        "codeartifact:Get*Token",
        "codeartifact:GetAuthorizationToken",
        false
    ));
    assert!(wildcard_match("a?c", "abc", false));
    assert!(!wildcard_match("a?c", "ac", false));
    assert!(!wildcard_match("a?c", "abbc", false));
    assert!(wildcard_match("*", "", false));
    assert!(wildcard_match("arn:*:repository/d/*", REPO, false));
    assert!(!wildcard_match(
        "arn:*:repository/d/team-a",
        OTHER_REPO,
        false
    ));
    assert!(wildcard_match(
        "CODEARTIFACT:listdomains",
        "codeartifact:ListDomains",
        true
    ));
    assert!(!wildcard_match(
        "CODEARTIFACT:listdomains",
        "codeartifact:ListDomains",
        false
    ));
    assert!(wildcard_match("a*b*c", "a-x-b-y-b-c", false));
    assert!(!wildcard_match("a*b*c", "a-x-b-y-b-d", false));
}

#[test]
fn allow_needs_a_matching_action_and_resource() {
    let p = policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"{REPO}"}}}}"#
    ));
    assert_eq!(
        p.decide(&req("codeartifact:ReadFromRepository", REPO)),
        Decision::Allow
    );
    // Actions are case-insensitive, resources are not.
    assert_eq!(
        p.decide(&req("CodeArtifact:readfromrepository", REPO)),
        Decision::Allow
    );
    assert_eq!(
        p.decide(&req(
            "codeartifact:ReadFromRepository",
            &REPO.to_uppercase()
        )),
        Decision::ImplicitDeny
    );
    assert_eq!(
        p.decide(&req("codeartifact:ReadFromRepository", OTHER_REPO)),
        Decision::ImplicitDeny
    );
    assert_eq!(
        p.decide(&req("codeartifact:PublishPackageVersion", REPO)),
        Decision::ImplicitDeny
    );
}

#[test]
fn explicit_deny_wins_over_allow() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"codeartifact:*","Resource":"*"},
            {"Effect":"Deny","Action":["codeartifact:Delete*"],"Resource":"*"}]}"#,
    );
    assert_eq!(
        p.decide(&req("codeartifact:ListDomains", "*")),
        Decision::Allow
    );
    assert_eq!(
        p.decide(&req("codeartifact:DeleteDomain", DOMAIN)),
        Decision::ExplicitDeny
    );
}

#[test]
fn conditions_on_the_service_name() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetServiceBearerToken","Resource":"*",
            "Condition":{"StringEquals":{"sts:AWSServiceName":"codeartifact.amazonaws.com"}}}}"#,
    );
    let with = |v: &'static str| Request {
        action: "sts:GetServiceBearerToken",
        resource: "*",
        context: Box::leak(Box::new([("sts:AWSServiceName", v)])),
    };
    assert_eq!(
        p.decide(&with("codeartifact.amazonaws.com")),
        Decision::Allow
    );
    assert_eq!(p.decide(&with("s3.amazonaws.com")), Decision::ImplicitDeny);
    // Absent key: the condition does not hold.
    assert_eq!(
        p.decide(&req("sts:GetServiceBearerToken", "*")),
        Decision::ImplicitDeny
    );
    let like = policy(
        r#"{"Statement":{"Effect":"Allow","Action":"sts:*","Resource":"*",
            "Condition":{"StringLike":{"sts:awsservicename":["codeartifact.*"]}}}}"#,
    );
    assert_eq!(
        like.decide(&with("codeartifact.amazonaws.com")),
        Decision::Allow
    );
    assert_eq!(
        like.decide(&with("s3.amazonaws.com")),
        Decision::ImplicitDeny
    );
}

#[test]
fn effective_permissions_are_role_and_session_intersected() {
    let role =
        policy(r#"{"Statement":{"Effect":"Allow","Action":"codeartifact:*","Resource":"*"}}"#);
    let session = policy(&format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":["codeartifact:ReadFromRepository","codeartifact:DeleteDomain"],"Resource":["{REPO}","{DOMAIN}"]}}}}"#
    ));
    let narrow_role = policy(&format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"{REPO}"}}}}"#
    ));
    let read = req("codeartifact:ReadFromRepository", REPO);
    let publish = req("codeartifact:PublishPackageVersion", REPO);
    assert_eq!(evaluate(&role, None, &publish), Ok(()));
    assert_eq!(evaluate(&role, Some(&session), &read), Ok(()));
    assert_eq!(
        evaluate(&role, Some(&session), &publish),
        Err(Refusal::NoSessionAllow)
    );
    // A session policy never grants more than the role has.
    assert_eq!(
        evaluate(
            &narrow_role,
            Some(&session),
            &req("codeartifact:DeleteDomain", DOMAIN)
        ),
        Err(Refusal::NoIdentityAllow)
    );
    let deny_session = policy(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#);
    assert_eq!(
        evaluate(&role, Some(&deny_session), &read),
        Err(Refusal::ExplicitDeny)
    );
}

#[test]
fn unsupported_and_malformed_documents_are_refused_clearly() {
    let unsupported_docs = [
        r#"{"Statement":{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":"*","NotResource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"a"}}}}"#,
    ];
    for doc in unsupported_docs {
        let err = parse(doc).unwrap_err();
        assert!(matches!(err, PolicyError::Unsupported(_)), "{doc}: {err:?}");
        assert!(
            err.to_string().contains("unsupported by the emulator"),
            "{err}"
        );
    }
    for doc in [
        "not json",
        "[]",
        r#"{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":"ListDomains","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2099-01-01","Statement":[]}"#,
    ] {
        assert!(
            matches!(parse(doc), Err(PolicyError::Malformed(_))),
            "{doc}"
        );
    }
}
