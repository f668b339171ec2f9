//! Unit tests for roles, trust and sessions.

use super::*;

fn role(trusted: &str, external_id: Option<&str>) -> Role {
    Role {
        arn: "arn:aws:iam::444455556666:role/team/reader".into(),
        trusted: vec![trusted.into()],
        external_id: external_id.map(str::to_string),
        policy: serde_json::json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"codeartifact:*","Resource":"*"}}),
        max_session_seconds: 7200,
    }
}

fn ask(duration: Option<u64>, external_id: Option<&str>, policy: Option<&str>) -> AssumeRequest {
    AssumeRequest {
        role_arn: "arn:aws:iam::444455556666:role/team/reader".into(),
        session_name: "s1".into(),
        duration,
        external_id: external_id.map(str::to_string),
        policy: policy.map(str::to_string),
    }
}

#[test]
fn trust_external_id_and_duration_are_enforced() {
    let roles = Roles::default();
    roles.put(role("111122223333", Some("ext-1"))).unwrap();
    let user = Caller::user("AKIDEMULATOR", "111122223333");
    let stranger = Caller::user("AKIDOTHER", "999988887777");
    let s = roles
        .assume(&user, ask(None, Some("ext-1"), None), 1000.0)
        .unwrap();
    assert!(s.access_key_id.starts_with("ASIA") && s.access_key_id.len() == 20);
    assert!(s.session_token.starts_with(SESSION_TOKEN_PREFIX));
    assert_eq!(s.account_id, "444455556666");
    assert_eq!(s.expires, 1000.0 + 3600.0);
    assert_eq!(
        s.grant.principal,
        "arn:aws:sts::444455556666:assumed-role/reader/s1"
    );
    assert!(roles.session(&s.access_key_id).is_some());
    let denied =
        |r: Result<Arc<Session>, AssumeError>| matches!(r, Err(AssumeError::AccessDenied(_)));
    assert!(denied(roles.assume(
        &stranger,
        ask(None, Some("ext-1"), None),
        0.0
    )));
    assert!(denied(roles.assume(&user, ask(None, None, None), 0.0)));
    assert!(denied(roles.assume(
        &user,
        ask(None, Some("ext-2"), None),
        0.0
    )));
    assert!(matches!(
        roles.assume(&user, ask(Some(7201), Some("ext-1"), None), 0.0),
        Err(AssumeError::Validation(_))
    ));
    assert!(matches!(
        roles.assume(&user, ask(None, Some("ext-1"), Some("{\"Statement\":{\"Effect\":\"Allow\",\"NotAction\":\"x:y\",\"Resource\":\"*\"}}")), 0.0),
        Err(AssumeError::MalformedPolicy(m)) if m.contains("NotAction")
    ));
    // Chaining from a role session: at most one hour.
    let chained = Caller::of_session(s);
    roles.put(role("444455556666", None)).unwrap();
    assert!(matches!(
        roles.assume(&chained, ask(Some(3601), None, None), 0.0),
        Err(AssumeError::Validation(m)) if m.contains("chaining")
    ));
}

#[test]
fn bad_roles_are_refused() {
    let roles = Roles::default();
    let mut r = role("111122223333", None);
    r.arn = "arn:aws:iam::1234:role/x".into();
    assert!(matches!(roles.put(r), Err(RoleError::Arn(_))));
    let mut r = role("111122223333", None);
    r.policy = serde_json::json!({"Statement":{"Effect":"Allow","NotAction":"*","Resource":"*"}});
    assert!(
        roles
            .put(r)
            .unwrap_err()
            .to_string()
            .contains("unsupported")
    );
    let mut r = role("111122223333", None);
    r.trusted.clear();
    assert!(matches!(roles.put(r), Err(RoleError::NoTrust(_))));
    assert!(roles.list().is_empty());
}
