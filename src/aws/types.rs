//! The small types CodeArtifact's answers become: domains, repositories,
//! their settings and authorization tokens (a leaf: it imports nothing of `aws`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

/// The external connection every PyPI repository may have.
pub const PUBLIC_PYPI: &str = "public:pypi";

/// A domain as DescribeDomain reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    /// Domain name.
    pub name: String,
    /// Owning account.
    pub owner: String,
    /// Domain ARN.
    pub arn: String,
    /// Number of repositories in the domain.
    pub repository_count: i32,
}

/// A repository as DescribeRepository reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    /// Repository name.
    pub name: String,
    /// Repository ARN.
    pub arn: String,
    /// Description, empty when unset.
    pub description: String,
    /// Upstream repository names in priority order.
    pub upstreams: Vec<String>,
    /// External connection names, such as `public:pypi`.
    pub external_connections: Vec<String>,
}

/// What the operator wants a new or existing repository to look like.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RepositorySettings {
    /// Description ("" for none).
    pub description: String,
    /// Upstreams in priority order.
    pub upstreams: Vec<String>,
    /// Tags to set at creation.
    pub tags: BTreeMap<String, String>,
}

/// A CodeArtifact authorization token. Its `Debug` and `Display` never show
/// the value, so it cannot leak through logs or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// Wraps a token value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The token itself, for writing into the Secret (and for the operator's
    /// own reads of the repository endpoint, spec.prepopulate) and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl fmt::Display for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A token with the moment it was issued and the moment it expires.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedToken {
    /// The token.
    pub token: AuthToken,
    /// When the operator received it (or, for a reused token, when it was first written).
    pub issued_at: DateTime<Utc>,
    /// When CodeArtifact says it expires.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_and_display_are_redacted() {
        let t = AuthToken::new("super-secret-value");
        assert!(!format!("{t:?}").contains("super-secret-value"));
        assert!(!format!("{t}").contains("super-secret-value"));
        let issued = IssuedToken {
            token: t.clone(),
            issued_at: Utc::now(),
            expires_at: Utc::now(),
        };
        assert!(!format!("{issued:?}").contains("super-secret-value"));
        assert_eq!(t.expose(), "super-secret-value");
    }
}
