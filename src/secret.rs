//! The credentials Secret: its contents (pip.conf, .pypirc, env keys), its
//! metadata, and reading a still-valid token back out of it. All pure.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use crate::aws::{AuthToken, IssuedToken};
use crate::crd::{PypiRepository, Rendering};

/// Annotation: when the token in the Secret expires (RFC 3339).
pub const ANNOTATION_EXPIRES_AT: &str = "codeartifact-operator.dev/expires-at";
/// Annotation: when the token in the Secret was issued (RFC 3339).
pub const ANNOTATION_ISSUED_AT: &str = "codeartifact-operator.dev/issued-at";
/// Annotation: which domain token the Secret holds (see [`crate::token::TokenKey`]).
pub const ANNOTATION_TOKEN_SCOPE: &str = "codeartifact-operator.dev/token-scope";

/// Secret keys that are always written.
pub const KEY_TOKEN: &str = "token";
/// The repository endpoint.
pub const KEY_ENDPOINT: &str = "endpoint";
/// Expiry of the token, RFC 3339.
pub const KEY_EXPIRES_AT: &str = "expiresAt";

/// The pip index URL without credentials: the endpoint plus `simple/`.
pub fn index_url(endpoint: &str) -> String {
    let base = if endpoint.ends_with('/') {
        endpoint.to_string()
    } else {
        format!("{endpoint}/")
    };
    format!("{base}simple/")
}

/// Puts `aws:<token>@` in front of the host, as `aws codeartifact login` does.
pub fn with_credentials(url: &str, token: &AuthToken) -> String {
    let password = userinfo_escape(token.expose());
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://aws:{password}@{rest}"),
        None => format!("aws:{password}@{url}"),
    }
}

/// Real tokens are URL-safe; anything else is percent-encoded so the URL stays valid.
fn userinfo_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pip.conf` exactly as `aws codeartifact login --tool pip` leaves it.
pub fn pip_conf(endpoint: &str, token: &AuthToken) -> String {
    format!(
        "[global]\nindex-url = {}\n",
        with_credentials(&index_url(endpoint), token)
    )
}

/// `.pypirc` exactly as `aws codeartifact login --tool twine` writes a new one.
pub fn pypirc(endpoint: &str, token: &AuthToken) -> String {
    format!(
        "[distutils]\nindex-servers = \n\tpypi\n\tcodeartifact\n\n[codeartifact]\nrepository = {endpoint}\nusername = aws\npassword = {}\n\n",
        token.expose()
    )
}

/// The Secret's data for these renderings.
pub fn secret_data(
    endpoint: &str,
    token: &IssuedToken,
    renderings: &[Rendering],
) -> BTreeMap<String, String> {
    let t = &token.token;
    let mut data = BTreeMap::new();
    data.insert(KEY_TOKEN.to_string(), t.expose().to_string());
    data.insert(KEY_ENDPOINT.to_string(), endpoint.to_string());
    data.insert(KEY_EXPIRES_AT.to_string(), rfc3339(token.expires_at));
    for r in renderings {
        match r {
            Rendering::PipConf => {
                data.insert("pip.conf".to_string(), pip_conf(endpoint, t));
            }
            Rendering::Pypirc => {
                data.insert(".pypirc".to_string(), pypirc(endpoint, t));
            }
            Rendering::Env => {
                let index = with_credentials(&index_url(endpoint), t);
                data.insert("PIP_INDEX_URL".to_string(), index.clone());
                data.insert("UV_DEFAULT_INDEX".to_string(), index);
                data.insert("TWINE_REPOSITORY_URL".to_string(), endpoint.to_string());
                data.insert("TWINE_USERNAME".to_string(), "aws".to_string());
                data.insert("TWINE_PASSWORD".to_string(), t.expose().to_string());
            }
        }
    }
    data
}

/// Standard labels on the Secret, which also let the operator find its Secrets.
pub fn labels(repo: &PypiRepository) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "codeartifact-pypi".to_string(),
        ),
        (
            "app.kubernetes.io/instance".to_string(),
            label_value(&repo.name_any()),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            "credentials".to_string(),
        ),
        (
            "app.kubernetes.io/part-of".to_string(),
            "codeartifact-operator".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "codeartifact-operator".to_string(),
        ),
    ])
}

/// A name cut to a valid label value: at most 63 characters, ending in a
/// letter or digit (object names may be 253 characters long).
pub fn label_value(name: &str) -> String {
    let cut: String = name.chars().take(63).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The whole Secret, owned by the PypiRepository so it is garbage-collected with it.
pub fn build_secret(
    repo: &PypiRepository,
    endpoint: &str,
    token: &IssuedToken,
    scope: &str,
) -> Secret {
    let data = secret_data(endpoint, token, &repo.renderings());
    let annotations = BTreeMap::from([
        (ANNOTATION_EXPIRES_AT.to_string(), rfc3339(token.expires_at)),
        (ANNOTATION_ISSUED_AT.to_string(), rfc3339(token.issued_at)),
        (ANNOTATION_TOKEN_SCOPE.to_string(), scope.to_string()),
    ]);
    Secret {
        metadata: ObjectMeta {
            name: Some(repo.secret_name()),
            namespace: repo.namespace(),
            labels: Some(labels(repo)),
            annotations: Some(annotations),
            owner_references: repo.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// Whether an existing Secret already has exactly this content and metadata.
pub fn is_up_to_date(existing: &Secret, desired: &Secret) -> bool {
    let ann = |s: &Secret, k: &str| {
        s.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(k).cloned())
    };
    existing.data == desired.data
        && existing.type_ == desired.type_
        && existing.metadata.owner_references == desired.metadata.owner_references
        && [
            ANNOTATION_EXPIRES_AT,
            ANNOTATION_ISSUED_AT,
            ANNOTATION_TOKEN_SCOPE,
        ]
        .iter()
        .all(|k| ann(existing, k) == ann(desired, k))
        && desired
            .metadata
            .labels
            .iter()
            .flatten()
            .all(|(k, v)| existing.labels().get(k) == Some(v))
}

/// The token an existing Secret holds, when the Secret is owned by `owner_uid`,
/// was written for `scope` and is well formed. Used to avoid minting a new
/// token after a restart.
pub fn stored_token(secret: &Secret, owner_uid: &str, scope: &str) -> Option<IssuedToken> {
    let owned = secret
        .owner_references()
        .iter()
        .any(|o| o.uid == owner_uid && o.controller == Some(true));
    let ann = secret.metadata.annotations.as_ref()?;
    if !owned || ann.get(ANNOTATION_TOKEN_SCOPE).map(String::as_str) != Some(scope) {
        return None;
    }
    let parse = |k: &str| {
        ann.get(k)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let token = secret.data.as_ref()?.get(KEY_TOKEN)?;
    let token = String::from_utf8(token.0.clone())
        .ok()
        .filter(|t| !t.is_empty())?;
    Some(IssuedToken {
        token: AuthToken::new(token),
        issued_at: parse(ANNOTATION_ISSUED_AT)?,
        expires_at: parse(ANNOTATION_EXPIRES_AT)?,
    })
}

/// RFC 3339 with seconds, in UTC, the format status and annotations use.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
