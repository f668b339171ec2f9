use super::*;
use crate::crd::PypiRepositorySpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

fn spec(extra: serde_json::Value) -> PypiRepositorySpec {
    let mut v = serde_json::json!({"domain": {"name": "acme"}});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(v).unwrap()
}

fn rule(v: serde_json::Value) -> AccessRule {
    serde_json::from_value(v).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ask(
    rules: &[AccessRule],
    ns: &str,
    l: &BTreeMap<String, String>,
    repo: &str,
    s: &PypiRepositorySpec,
) -> Verdict {
    evaluate(
        rules,
        &Request {
            namespace: ns,
            labels: l,
            repository: repo,
            spec: s,
        },
    )
}

fn two_teams() -> Vec<AccessRule> {
    vec![
        rule(
            serde_json::json!({"namespaces": ["team-a"], "repositories": ["a-*"], "create": true}),
        ),
        rule(
            serde_json::json!({"namespaces": ["team-b"], "repositories": ["b-*"], "create": true}),
        ),
    ]
}

#[test]
fn each_team_gets_its_own_names_and_nothing_of_the_other() {
    let none = BTreeMap::new();
    let s = spec(serde_json::json!({}));
    let allowed = Verdict::Allowed(Grant {
        create: true,
        adopt: false,
        delete: false,
    });
    assert_eq!(ask(&two_teams(), "team-a", &none, "a-web", &s), allowed);
    assert_eq!(ask(&two_teams(), "team-b", &none, "b-web", &s), allowed);
    assert_eq!(
        ask(&two_teams(), "team-a", &none, "b-web", &s),
        Verdict::Missing(vec!["repository name \"b-web\"".into()])
    );
    assert_eq!(
        ask(&two_teams(), "evil", &none, "a-web", &s),
        Verdict::NamespaceNotAdmitted
    );
    assert_eq!(
        ask(&[], "team-a", &none, "a-web", &s),
        Verdict::NamespaceNotAdmitted
    );
}

#[test]
fn what_a_rule_does_not_say_is_refused_except_reading() {
    let none = BTreeMap::new();
    let read_only = vec![rule(
        serde_json::json!({"namespaces": ["t"], "repositories": ["*"]}),
    )];
    let consume = spec(serde_json::json!({"mode": "Consume"}));
    assert_eq!(
        ask(&read_only, "t", &none, "shared", &consume),
        Verdict::Allowed(Grant::default()),
        "reading through a token needs nothing beyond the name"
    );
    let greedy = spec(serde_json::json!({
        "deletionPolicy": "Delete", "externalConnection": false,
        "upstreams": ["base"], "token": {"durationSeconds": 43200}
    }));
    let Verdict::Missing(m) = ask(&read_only, "t", &none, "mine", &greedy) else {
        panic!("must be refused")
    };
    assert_eq!(
        m,
        vec![
            "creating repositories (create)".to_string(),
            "deletionPolicy Delete (delete)".into(),
            "setting spec.externalConnection (externalConnection)".into(),
            "upstream \"base\"".into(),
        ]
    );
}

#[test]
fn every_permission_is_checked_on_its_own() {
    let none = BTreeMap::new();
    let full = rule(serde_json::json!({
        "namespaces": ["t"], "repositories": ["r-*"], "create": true, "adopt": true, "delete": true,
        "externalConnection": true, "upstreams": ["shared-*"], "maxTokenSeconds": 3600
    }));
    let s = spec(serde_json::json!({
        "adopt": true, "deletionPolicy": "Delete", "externalConnection": true,
        "upstreams": ["shared-1"], "token": {"durationSeconds": 3600}
    }));
    assert_eq!(
        ask(std::slice::from_ref(&full), "t", &none, "r-1", &s),
        Verdict::Allowed(Grant {
            create: true,
            adopt: true,
            delete: true
        })
    );
    let long = spec(serde_json::json!({"token": {"durationSeconds": 7200}}));
    assert_eq!(
        ask(std::slice::from_ref(&full), "t", &none, "r-1", &long),
        Verdict::Missing(vec!["tokens of 7200 s (longest allowed: 3600 s)".into()])
    );
    let session = spec(serde_json::json!({"token": {"durationSeconds": 0}}));
    assert!(
        matches!(
            ask(std::slice::from_ref(&full), "t", &none, "r-1", &session),
            Verdict::Missing(_)
        ),
        "a session-long token counts as 12 hours"
    );
    let other_upstream =
        spec(serde_json::json!({"upstreams": ["private-x"], "token": {"durationSeconds": 3600}}));
    assert_eq!(
        ask(&[full], "t", &none, "r-1", &other_upstream),
        Verdict::Missing(vec!["upstream \"private-x\"".into()])
    );
}

#[test]
fn adoption_needs_the_opt_in_and_the_rule() {
    let none = BTreeMap::new();
    let adopt_only = vec![rule(
        serde_json::json!({"namespaces": ["t"], "repositories": ["*"], "adopt": true}),
    )];
    let opted = spec(serde_json::json!({"adopt": true}));
    assert_eq!(
        ask(&adopt_only, "t", &none, "x", &opted),
        Verdict::Allowed(Grant {
            create: false,
            adopt: true,
            delete: false
        })
    );
    assert_eq!(
        ask(&adopt_only, "t", &none, "x", &spec(serde_json::json!({}))),
        Verdict::Allowed(Grant::default()),
        "admitted, so that an existing repository is answered with AlreadyExists and the fix"
    );
    let create_only = vec![rule(
        serde_json::json!({"namespaces": ["t"], "repositories": ["*"], "create": true}),
    )];
    assert_eq!(
        ask(&create_only, "t", &none, "x", &opted),
        Verdict::Allowed(Grant {
            create: true,
            adopt: false,
            delete: false
        }),
        "the opt-in alone grants no adoption"
    );
}

#[test]
fn namespaces_are_admitted_by_name_glob_or_labels() {
    let r = rule(serde_json::json!({
        "namespaces": ["team-*"],
        "namespaceSelector": {"matchLabels": {"pypi": "yes"}},
        "repositories": ["*"]
    }));
    assert!(admits(&r, "team-x", &BTreeMap::new()));
    assert!(admits(&r, "other", &labels(&[("pypi", "yes")])));
    assert!(!admits(&r, "other", &labels(&[("pypi", "no")])));
    assert!(!admits(&r, "teamx", &BTreeMap::new()));
    let expr = AccessRule {
        namespace_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["gold".into(), "silver".into()]),
            }]),
            match_labels: None,
        }),
        repositories: vec!["*".into()],
        ..Default::default()
    };
    assert!(admits(&expr, "x", &labels(&[("tier", "gold")])));
    assert!(!admits(&expr, "x", &labels(&[("tier", "bronze")])));
    let everyone = rule(serde_json::json!({"namespaceSelector": {}, "repositories": ["*"]}));
    assert!(admits(&everyone, "anything", &BTreeMap::new()));
}

#[test]
fn rules_never_add_up_and_order_does_not_matter() {
    let none = BTreeMap::new();
    // One rule may create, another may delete: neither allows both.
    let split = vec![
        rule(serde_json::json!({"namespaces": ["t"], "repositories": ["*"], "create": true})),
        rule(serde_json::json!({"namespaces": ["t"], "repositories": ["*"], "delete": true})),
    ];
    let s = spec(serde_json::json!({"deletionPolicy": "Delete"}));
    assert_eq!(
        ask(&split, "t", &none, "x", &s),
        Verdict::Missing(vec!["creating repositories (create)".into()]),
        "one item missing either way: the alphabetically first list is reported"
    );
    let mut reversed = split.clone();
    reversed.reverse();
    assert_eq!(
        ask(&reversed, "t", &none, "x", &s),
        ask(&split, "t", &none, "x", &s)
    );
    // Two allowing rules: the grant is their union, whatever the order.
    let both = vec![
        rule(serde_json::json!({"namespaces": ["t"], "repositories": ["x"], "create": true})),
        rule(
            serde_json::json!({"namespaces": ["t"], "repositories": ["*"], "create": true, "delete": true}),
        ),
    ];
    let plain = spec(serde_json::json!({}));
    let g = ask(&both, "t", &none, "x", &plain);
    let mut rev = both.clone();
    rev.reverse();
    assert_eq!(g, ask(&rev, "t", &none, "x", &plain));
    assert_eq!(
        g,
        Verdict::Allowed(Grant {
            create: true,
            adopt: false,
            delete: true
        })
    );
}

#[test]
fn globs_follow_globset_and_bad_patterns_match_nothing() {
    assert!(glob_matches("a-*", "a-web"));
    assert!(glob_matches("a-?", "a-1"));
    assert!(!glob_matches("a-?", "a-12"));
    assert!(glob_matches("[ab]-*", "b-x"));
    assert!(!glob_matches("a-*", "b-web"));
    assert!(
        !glob_matches("a-[", "a-["),
        "an unclosed class compiles to nothing"
    );
    assert!(glob_matches("*", "anything"));
}

fn creds(rules: &[AccessRule], ns: &str, repo: &str) -> Option<Credentials> {
    let s = spec(serde_json::json!({"mode": "Consume"}));
    credentials(
        rules,
        &Request {
            namespace: ns,
            labels: &BTreeMap::new(),
            repository: repo,
            spec: &s,
        },
    )
}

#[test]
fn the_narrowest_allowing_rule_decides_the_credentials_whatever_the_order() {
    let broad = rule(
        serde_json::json!({"namespaces": ["team-*"], "repositories": ["*"],
        "role": {"arn": "arn:aws:iam::111122223333:role/broad"}}),
    );
    let read = rule(
        serde_json::json!({"namespaces": ["team-a"], "repositories": ["a-*"],
        "tokenScope": "RepositoryRead", "role": {"arn": "arn:aws:iam::111122223333:role/reader"}}),
    );
    let publish = rule(
        serde_json::json!({"namespaces": ["team-a"], "repositories": ["a-*"],
        "tokenScope": "RepositoryPublish"}),
    );
    for rules in [
        vec![broad.clone(), read.clone(), publish.clone()],
        vec![publish.clone(), read.clone(), broad.clone()],
    ] {
        let c = creds(&rules, "team-a", "a-lib").unwrap();
        assert_eq!(c.token_scope, TokenScope::RepositoryRead);
        assert_eq!(c.role.unwrap().arn, "arn:aws:iam::111122223333:role/reader");
    }
    // Only the broad rule allows another repository: domain scope, its role.
    let c = creds(&[read.clone(), broad.clone()], "team-a", "shared").unwrap();
    assert_eq!(c.token_scope, TokenScope::Domain);
    assert_eq!(c.role.unwrap().arn, "arn:aws:iam::111122223333:role/broad");
    // A rule without a role leaves the role to the domain.
    let c = creds(&[publish], "team-a", "a-lib").unwrap();
    assert_eq!(
        (c.token_scope, c.role),
        (TokenScope::RepositoryPublish, None)
    );
    assert_eq!(
        creds(&[read, broad], "other", "a-lib"),
        None,
        "not admitted"
    );
}

#[test]
fn a_repository_policy_needs_its_own_permission() {
    let none = BTreeMap::new();
    let policy = spec(serde_json::json!({"permissionsPolicy": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                       "Action": "codeartifact:ReadFromRepository", "Resource": "*"}]
    }}));
    let plain =
        rule(serde_json::json!({"namespaces": ["t"], "repositories": ["r-*"], "create": true}));
    assert_eq!(
        ask(std::slice::from_ref(&plain), "t", &none, "r-1", &policy),
        Verdict::Missing(vec![
            "setting spec.permissionsPolicy (permissionsPolicy)".into()
        ])
    );
    let allowing = rule(serde_json::json!({
        "namespaces": ["t"], "repositories": ["r-*"], "create": true, "permissionsPolicy": true
    }));
    assert!(matches!(
        ask(&[plain, allowing.clone()], "t", &none, "r-1", &policy),
        Verdict::Allowed(_)
    ));
    // The permission never spills over to another team's names.
    assert!(matches!(
        ask(&[allowing], "t", &none, "other", &policy),
        Verdict::Missing(_)
    ));
}
