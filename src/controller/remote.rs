//! What CodeArtifact holds for one PypiRepository, and what a sync did: plain
//! data shared by the reconcile steps (a leaf module, importing nothing of
//! the controller).

use std::time::Instant;

use crate::aws::{PUBLIC_PYPI, Repository};
use crate::crd::{EndpointSpec, EventReason};

/// Settings to hold a repository to. Unstated settings take their defaults
/// (no description, no upstreams, connected to public:pypi) on a repository
/// the operator created, or with `--tenancy=open`; on a repository adopted
/// under strict tenancy they stay as CodeArtifact has them (`current`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Description.
    pub description: String,
    /// Upstreams in order.
    pub upstreams: Vec<String>,
    /// Connected to public:pypi.
    pub external_connection: bool,
}

/// What CodeArtifact holds for one PypiRepository, as status reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Remote {
    /// Domain ARN.
    pub domain_arn: String,
    /// Domain owner account.
    pub domain_owner: String,
    /// Repository ARN.
    pub repository_arn: String,
    /// PyPI endpoint of the repository.
    pub endpoint: String,
    /// Keys of spec.tags applied to the repository.
    pub applied_tag_keys: Vec<String>,
    /// Revision of the repository policy the operator holds (spec.permissionsPolicy).
    pub policy_revision: Option<String>,
}

impl Remote {
    /// Whether this is the repository `domain`/`repository` (by its ARN).
    pub fn is_repository(&self, domain: &str, repository: &str) -> bool {
        is_repository_arn(&self.repository_arn, domain, repository)
    }
}

/// Whether `arn` names repository `repository` in domain `domain`.
pub fn is_repository_arn(arn: &str, domain: &str, repository: &str) -> bool {
    arn.ends_with(&format!(":repository/{domain}/{repository}"))
}

/// The outcome of the last full sync of one object.
#[derive(Clone, Debug)]
pub struct SyncRecord {
    /// The generation that was synced.
    pub generation: i64,
    /// When.
    pub at: Instant,
    /// What CodeArtifact held afterwards.
    pub remote: Remote,
    /// The spec.endpoint settings its endpoint was asked for with.
    pub endpoint: EndpointSpec,
}

/// Something a sync did, for the caller to report as a Normal Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Event reason.
    pub reason: EventReason,
    /// Event action.
    pub action: &'static str,
    /// Event note.
    pub message: String,
}

impl Note {
    /// A note.
    pub fn new(reason: EventReason, action: &'static str, message: String) -> Self {
        Self {
            reason,
            action,
            message,
        }
    }
}

/// A repository's current settings, in the shape the spec states them.
pub fn current_settings(repo: &Repository) -> Settings {
    Settings {
        description: repo.description.clone(),
        upstreams: repo.upstreams.clone(),
        external_connection: repo.external_connections.iter().any(|c| c == PUBLIC_PYPI),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_is_recognised_by_its_full_arn_tail() {
        let arn = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/web";
        assert!(is_repository_arn(arn, "dom", "web"));
        assert!(!is_repository_arn(arn, "dom", "eb"), "no suffix match");
        assert!(!is_repository_arn(arn, "om", "web"));
        assert!(!is_repository_arn(arn, "dom", "web2"));
    }
}
