//! Session policies for repository-scoped tokens, pure. A CodeArtifact
//! token is an STS service bearer token and carries the session policy of
//! the session that minted it (IAM User Guide, "Service bearer tokens"; see
//! docs/emulator.md), so minting under this policy yields a token that can
//! only read (and, for publish, write) one repository.

use serde_json::json;

/// What a repository-scoped token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepositoryAccess {
    /// ReadFromRepository only.
    Read,
    /// ReadFromRepository, PublishPackageVersion and PutPackageMetadata.
    Publish,
}

/// The session policy (JSON text) for tokens limited to the repository
/// `repository_arn` (`arn:PARTITION:codeartifact:REGION:ACCOUNT:repository/DOMAIN/REPO`):
/// the repository actions on it and its packages, GetAuthorizationToken on
/// its domain, and the bearer-token permission for CodeArtifact only.
/// `None` when the ARN is not a repository ARN.
pub fn repository_session_policy(repository_arn: &str, access: RepositoryAccess) -> Option<String> {
    let (prefix, path) = repository_arn.split_once(":repository/")?;
    let (domain, repo) = path.split_once('/')?;
    let valid = prefix.starts_with("arn:")
        && prefix.contains(":codeartifact:")
        && !domain.is_empty()
        && !repo.is_empty()
        && !repo.contains('/');
    if !valid {
        return None;
    }
    let domain_arn = format!("{prefix}:domain/{domain}");
    let packages_arn = format!("{prefix}:package/{domain}/{repo}/*");
    let mut statements = vec![json!({
        "Sid": "ReadTheRepository",
        "Effect": "Allow",
        "Action": "codeartifact:ReadFromRepository",
        "Resource": [repository_arn, packages_arn],
    })];
    if access == RepositoryAccess::Publish {
        statements.push(json!({
            "Sid": "PublishToTheRepository",
            "Effect": "Allow",
            "Action": ["codeartifact:PublishPackageVersion", "codeartifact:PutPackageMetadata"],
            "Resource": [repository_arn, packages_arn],
        }));
    }
    statements.push(json!({
        "Sid": "MintTheToken",
        "Effect": "Allow",
        "Action": "codeartifact:GetAuthorizationToken",
        "Resource": domain_arn,
    }));
    statements.push(json!({
        "Sid": "BearerTokenForCodeArtifact",
        "Effect": "Allow",
        "Action": "sts:GetServiceBearerToken",
        "Resource": "*",
        "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
    }));
    Some(json!({"Version": "2012-10-17", "Statement": statements}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = "arn:aws:codeartifact:us-west-2:444455556666:repository/acme/team-a";

    fn statements(policy: &str) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(policy).unwrap();
        assert_eq!(v["Version"], "2012-10-17");
        v["Statement"].as_array().unwrap().clone()
    }

    fn actions(policy: &str) -> Vec<String> {
        statements(policy)
            .iter()
            .flat_map(|s| match &s["Action"] {
                serde_json::Value::String(a) => vec![a.clone()],
                serde_json::Value::Array(a) => {
                    a.iter().map(|x| x.as_str().unwrap().to_string()).collect()
                }
                _ => panic!("bad action"),
            })
            .collect()
    }

    #[test]
    fn a_read_policy_allows_reading_one_repository_and_minting_only() {
        let p = repository_session_policy(REPO, RepositoryAccess::Read).unwrap();
        assert_eq!(
            actions(&p),
            [
                "codeartifact:ReadFromRepository",
                "codeartifact:GetAuthorizationToken",
                "sts:GetServiceBearerToken"
            ]
        );
        let s = statements(&p);
        assert_eq!(
            s[0]["Resource"],
            json!([
                REPO,
                "arn:aws:codeartifact:us-west-2:444455556666:package/acme/team-a/*"
            ])
        );
        assert_eq!(
            s[1]["Resource"],
            "arn:aws:codeartifact:us-west-2:444455556666:domain/acme"
        );
        assert_eq!(
            s[2]["Condition"]["StringEquals"]["sts:AWSServiceName"],
            "codeartifact.amazonaws.com"
        );
        assert!(s.iter().all(|st| st["Effect"] == "Allow"));
        assert!(
            !p.contains("team-a*"),
            "no wildcard widens the repository name"
        );
        assert!(
            p.len() < 2048,
            "STS takes session policies up to 2048 characters"
        );
    }

    #[test]
    fn a_publish_policy_adds_exactly_the_publish_actions() {
        let p = repository_session_policy(REPO, RepositoryAccess::Publish).unwrap();
        let a = actions(&p);
        assert!(a.contains(&"codeartifact:PublishPackageVersion".to_string()));
        assert!(a.contains(&"codeartifact:PutPackageMetadata".to_string()));
        assert_eq!(a.len(), 5);
        assert!(!a.iter().any(|x| x.contains('*')));
    }

    #[test]
    fn anything_but_a_repository_arn_gets_no_policy() {
        for bad in [
            "arn:aws:codeartifact:us-west-2:444455556666:domain/acme",
            "arn:aws:codeartifact:us-west-2:444455556666:repository/acme",
            "arn:aws:codeartifact:us-west-2:444455556666:repository/acme/a/b",
            "arn:aws:codeartifact:us-west-2:444455556666:repository//x",
            "arn:aws:s3:::bucket:repository/acme/x",
            "",
        ] {
            assert_eq!(
                repository_session_policy(bad, RepositoryAccess::Read),
                None,
                "{bad}"
            );
        }
    }
}
