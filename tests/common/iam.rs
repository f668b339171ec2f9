//! Helpers for the IAM tests (tests/e2e_iam.rs): emulator roles, Secret
//! contents and annotations, refusals by pip, twine and the index, the
//! operator's failed calls, and leak scans that include role sessions.

use std::collections::BTreeMap;
use std::path::Path;

use codeartifact_emulator::{Role, SESSION_TOKEN_PREFIX};

use super::ACCOUNT;
use super::python::project_secret;
use super::reliability::assert_no_leaks;
use super::tenancy::Strict;

/// A domain name (2..50 lower-case) from a prefix and the test id.
pub fn name(prefix: &str, s: &Strict) -> String {
    let id: String =
        s.id.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect();
    format!("{prefix}-{}", id.to_lowercase())
}

pub fn role_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

/// A role trusted by the operator's account; `resources` limit its CodeArtifact actions.
pub fn role(arn: &str, external_id: Option<&str>, resources: serde_json::Value) -> Role {
    Role {
        arn: arn.into(),
        trusted: vec![ACCOUNT.into()],
        external_id: external_id.map(str::to_string),
        policy: serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "codeartifact:*", "Resource": resources},
            {"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
             "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
        ]}),
        max_session_seconds: 3600,
    }
}

/// A team role: CodeArtifact only on the domain and the repositories (and
/// packages) whose names start with `prefix`.
pub fn team_role(arn: &str, domain: &str, prefix: &str) -> Role {
    let base = format!("arn:aws:codeartifact:*:{ACCOUNT}");
    role(
        arn,
        None,
        serde_json::json!([
            format!("{base}:domain/{domain}"),
            format!("{base}:repository/{domain}/{prefix}*"),
            format!("{base}:package/{domain}/{prefix}*"),
        ]),
    )
}

pub async fn secret_data(s: &Strict, i: usize, name: &str) -> BTreeMap<String, String> {
    let secret = s.secrets(i).get(name).await.expect("get Secret");
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v.0).expect("utf-8")))
        .collect()
}

pub async fn scope_annotation(s: &Strict, i: usize, name: &str) -> String {
    let secret = s.secrets(i).get(name).await.expect("get Secret");
    secret
        .metadata
        .annotations
        .unwrap_or_default()
        .get("codeartifact-operator.dev/token-scope")
        .cloned()
        .expect("scope annotation")
}

/// Projects the Secret into `dir`, pointing pip at `repo` instead of its own repository.
pub fn project_for(data: &BTreeMap<String, String>, own: &str, repo: &str, dir: &Path) {
    let mut data = data.clone();
    let conf = data.get("pip.conf").expect("pip.conf").clone();
    assert!(conf.contains(&format!("/{own}/")), "{conf}");
    data.insert(
        "pip.conf".into(),
        conf.replace(&format!("/{own}/"), &format!("/{repo}/")),
    );
    project_secret(&data, dir);
}

/// Asserts that pip or twine failed; with `status`, that the output names it.
pub fn assert_refused(what: &str, out: &std::process::Output, status: Option<&str>) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success() && status.is_none_or(|st| text.contains(st)),
        "{what} should be refused ({status:?}):\n{text}"
    );
}

/// The HTTP status of the repository's simple index for `token` (pip, at
/// `--quiet`, says only that nothing matched, so the refusal is checked here).
pub async fn index_status(endpoint: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{endpoint}simple/"))
        .basic_auth("aws", Some(token))
        .send()
        .await
        .expect("GET simple/")
        .status()
        .as_u16()
}

pub async fn endpoint_of(s: &Strict, i: usize, name: &str) -> String {
    let obj = s.repos(i).get(name).await.expect("get PypiRepository");
    obj.status
        .and_then(|st| st.repository_endpoint)
        .expect("repositoryEndpoint")
}

/// The operator's failed AWS calls, from its metrics: every outcome but
/// success and not_found (a describe before creating a repository).
pub async fn failed_calls(s: &Strict) -> Vec<String> {
    let text = s.env.operator.metrics().await;
    text.lines()
        .filter(|l| l.starts_with("codeartifact_operator_aws_calls_total{"))
        .filter(|l| !l.contains("outcome=\"success\"") && !l.contains("outcome=\"not_found\""))
        .filter(|l| !l.trim_end().ends_with(" 0"))
        .map(str::to_string)
        .collect()
}

/// Session secrets and tokens appear nowhere: logs, metrics, Events, objects.
pub async fn assert_nothing_leaked(s: &Strict, namespaces: &[&str]) -> usize {
    let tokens = assert_no_leaks(
        &s.env.client,
        &s.env.emulator,
        namespaces,
        &[&s.env.operator],
    )
    .await;
    let logs = s.env.operator.logs();
    assert!(
        !logs.contains(SESSION_TOKEN_PREFIX),
        "a role session token reached the log"
    );
    for secret in s.env.emulator.role_session_secrets() {
        assert!(
            !logs.contains(&secret),
            "a role session secret reached the log"
        );
    }
    tokens
}
