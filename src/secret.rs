//! The credentials Secret: its contents (the client renderings), its
//! metadata, and reading a still-valid token back out of it. All pure.

mod render;
mod usage;

pub use render::*;
pub use usage::usage;

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use crate::aws::{AuthToken, IssuedToken};
use crate::crd::{IndexRole, PypiRepository, Rendering};

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

/// The Secret's data for these settings. A token that is not URL-safe gets
/// no renderings at all (the token layer refuses such tokens first; this
/// keeps one from ever breaking out of a URL or a config line).
pub fn secret_data(
    endpoint: &str,
    token: &IssuedToken,
    settings: &ClientSettings,
) -> BTreeMap<String, String> {
    let t = &token.token;
    let mut data = BTreeMap::new();
    data.insert(KEY_TOKEN.to_string(), t.expose().to_string());
    data.insert(KEY_ENDPOINT.to_string(), endpoint.to_string());
    data.insert(KEY_EXPIRES_AT.to_string(), rfc3339(token.expires_at));
    if !is_url_safe(t.expose()) {
        return data;
    }
    for r in &settings.renderings {
        data.extend(rendering(*r, endpoint, t, settings));
    }
    data
}

/// The keys one rendering adds.
fn rendering(
    r: Rendering,
    endpoint: &str,
    t: &AuthToken,
    s: &ClientSettings,
) -> Vec<(String, String)> {
    let index = with_credentials(&index_url(endpoint), t);
    let extra = s.role == IndexRole::Extra;
    let kv = |k: &str, v: String| (k.to_string(), v);
    match r {
        Rendering::PipConf => vec![kv("pip.conf", pip_conf(endpoint, t, s.role))],
        Rendering::Pypirc => vec![kv(".pypirc", pypirc(endpoint, t))],
        Rendering::Env => vec![
            kv(pip_index_key(extra), index.clone()),
            kv(uv_index_key(extra), index),
            kv("TWINE_REPOSITORY_URL", endpoint.to_string()),
            kv("TWINE_USERNAME", "aws".to_string()),
            kv("TWINE_PASSWORD", t.expose().to_string()),
        ],
        Rendering::Uv => {
            let n = uv_env_name(&s.index_name);
            vec![
                kv("uv.toml", uv_toml(endpoint, &s.index_name, s.role)),
                kv(&format!("UV_INDEX_{n}_USERNAME"), "aws".to_string()),
                kv(&format!("UV_INDEX_{n}_PASSWORD"), t.expose().to_string()),
                kv(uv_index_key(extra), index),
            ]
        }
        Rendering::Poetry => {
            let n = poetry_env_name(&s.index_name);
            vec![
                kv(
                    "poetry-source.toml",
                    poetry_source(endpoint, &s.index_name, s.role),
                ),
                kv(
                    &format!("POETRY_HTTP_BASIC_{n}_USERNAME"),
                    "aws".to_string(),
                ),
                kv(
                    &format!("POETRY_HTTP_BASIC_{n}_PASSWORD"),
                    t.expose().to_string(),
                ),
            ]
        }
        Rendering::Netrc => netrc(endpoint, t)
            .map(|line| vec![kv(".netrc", line), kv(KEY_INDEX_URL, index_url(endpoint))])
            .unwrap_or_default(),
    }
}

fn pip_index_key(extra: bool) -> &'static str {
    if extra {
        "PIP_EXTRA_INDEX_URL"
    } else {
        "PIP_INDEX_URL"
    }
}

fn uv_index_key(extra: bool) -> &'static str {
    if extra {
        "UV_INDEX"
    } else {
        "UV_DEFAULT_INDEX"
    }
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
    let data = secret_data(endpoint, token, &ClientSettings::of(repo));
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
