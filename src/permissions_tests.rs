use serde_json::json;

use super::*;

fn read_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Read",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "arn:aws:iam::777788889999:root"]},
            "Action": ["codeartifact:ReadFromRepository", "codeartifact:DescribeRepository"],
            "Resource": "*"
        }]
    })
}

fn held(doc: &str) -> Held {
    Held {
        revision: "r1".into(),
        document: doc.into(),
    }
}

#[test]
fn the_same_policy_in_another_spelling_is_the_same() {
    let want = read_policy();
    let reordered = r#"{"Statement":{"Resource":["*"],"Action":["CodeArtifact:describeRepository","codeartifact:ReadFromRepository","codeartifact:ReadFromRepository"],
        "Principal":{"AWS":["arn:aws:iam::777788889999:root","arn:aws:iam::444455556666:root"]},"Effect":"Allow","Sid":"Read"},
        "Version":"2012-10-17"}"#;
    assert!(same(&want, reordered));
    assert!(same(&want, &serde_json::to_string_pretty(&want).unwrap()));
}

#[test]
fn a_changed_policy_is_not_the_same() {
    let want = read_policy();
    for changed in [
        // Another principal.
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["codeartifact:ReadFromRepository","codeartifact:DescribeRepository"],"Resource":"*"}]}"#,
        // Deny instead of Allow.
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Deny","Principal":{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::777788889999:root"]},"Action":["codeartifact:ReadFromRepository","codeartifact:DescribeRepository"],"Resource":"*"}]}"#,
        // A resource ARN differs in case (ARNs are case-sensitive).
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::777788889999:root"]},"Action":["codeartifact:ReadFromRepository","codeartifact:DescribeRepository"],"Resource":"ARN"}]}"#,
        "not json",
    ] {
        assert!(!same(&want, changed), "{changed}");
    }
}

#[test]
fn the_plan_puts_keeps_and_deletes_only_the_operators_policy() {
    let want = read_policy();
    let text = document(&want, "spec.permissionsPolicy").unwrap();
    assert_eq!(plan(Some(&want), None, false), Step::Put { revision: None });
    assert_eq!(
        plan(Some(&want), Some(&held(&text)), true),
        Step::Keep {
            revision: "r1".into()
        }
    );
    assert_eq!(
        plan(
            Some(&want),
            Some(&held(r#"{"Version":"2012-10-17"}"#)),
            false
        ),
        Step::Put {
            revision: Some("r1".into())
        },
        "a hand edit is put back with the held revision"
    );
    assert_eq!(
        plan(None, Some(&held(&text)), true),
        Step::Delete {
            revision: "r1".into()
        }
    );
    assert_eq!(
        plan(None, Some(&held(&text)), false),
        Step::Nothing,
        "a policy the operator did not set is left alone"
    );
    assert_eq!(plan(None, None, true), Step::Nothing);
}

#[test]
fn documents_over_codeartifacts_limit_are_refused_with_the_field() {
    let big = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "codeartifact:*",
                       "Resource": "*", "Sid": "x".repeat(MAX_POLICY_CHARS)}]
    });
    let err = document(&big, "spec.permissionsPolicy").unwrap_err();
    assert!(
        err.to_string().contains("spec.permissionsPolicy") && err.to_string().contains("7168"),
        "{err}"
    );
    let text = document(&read_policy(), "spec.permissionsPolicy").unwrap();
    assert!(!text.contains('\n') && text.starts_with('{'));
}
