//! Which CodeArtifactDomain changes are news for its PypiRepositories: what
//! admission and the reconciles read (the spec, through the generation; the
//! ARN; the Ready status, which strict-mode objects wait for). The domain's
//! own bookkeeping in status (repository count, applied tags, condition
//! times) wakes nobody: at 500 objects per domain each such write would cost
//! 500 reconciles.

use std::collections::HashMap;

use crate::crd::{CONDITION_READY, CodeArtifactDomain};

/// The part of a CodeArtifactDomain its PypiRepositories depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainFingerprint {
    generation: Option<i64>,
    arn: Option<String>,
    ready: Option<String>,
}

impl DomainFingerprint {
    /// The fingerprint of `domain`. Pure.
    pub fn of(domain: &CodeArtifactDomain) -> Self {
        let status = domain.status.as_ref();
        Self {
            generation: domain.metadata.generation,
            arn: status.and_then(|s| s.arn.clone()),
            ready: status.and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.type_ == CONDITION_READY)
                    .map(|c| c.status.clone())
            }),
        }
    }
}

/// The last fingerprint seen of each CodeArtifactDomain, by object name.
#[derive(Default)]
pub struct DomainWakes(HashMap<String, DomainFingerprint>);

impl DomainWakes {
    /// Records `domain` and says whether the change must wake its
    /// PypiRepositories: a new object, or a change of its fingerprint.
    pub fn applied(&mut self, domain: &CodeArtifactDomain) -> bool {
        let key = domain.metadata.name.clone().unwrap_or_default();
        let print = DomainFingerprint::of(domain);
        self.0.insert(key, print.clone()) != Some(print)
    }

    /// Records `domain` without waking anyone (a re-list, which is followed
    /// by a wake of everything).
    pub fn seen(&mut self, domain: &CodeArtifactDomain) {
        let key = domain.metadata.name.clone().unwrap_or_default();
        self.0.insert(key, DomainFingerprint::of(domain));
    }

    /// Forgets a deleted domain (whose deletion always wakes).
    pub fn deleted(&mut self, domain: &CodeArtifactDomain) {
        self.0
            .remove(domain.metadata.name.as_deref().unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(generation: i64, status: serde_json::Value) -> CodeArtifactDomain {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1",
            "kind": "CodeArtifactDomain",
            "metadata": {"name": "shared", "generation": generation},
            "spec": {},
            "status": status,
        }))
        .unwrap()
    }

    fn ready(status: &str, count: i32, time: &str) -> serde_json::Value {
        serde_json::json!({
            "arn": "arn:aws:codeartifact:eu-west-1:111122223333:domain/shared",
            "repositoryCount": count,
            "conditions": [{"type": "Ready", "status": status, "reason": "Available",
                            "message": "m", "lastTransitionTime": time}],
        })
    }

    #[test]
    fn bookkeeping_in_status_wakes_nobody() {
        let mut wakes = DomainWakes::default();
        assert!(wakes.applied(&domain(1, ready("True", 1, "2026-11-30T10:00:00Z"))));
        assert!(
            !wakes.applied(&domain(1, ready("True", 500, "2026-11-30T11:00:00Z"))),
            "repository count and condition time are the domain's own business"
        );
    }

    #[test]
    fn spec_arn_and_readiness_changes_wake() {
        let mut wakes = DomainWakes::default();
        wakes.seen(&domain(1, serde_json::json!({})));
        assert!(
            wakes.applied(&domain(1, ready("False", 0, "2026-11-30T10:00:00Z"))),
            "an ARN appeared"
        );
        assert!(
            wakes.applied(&domain(1, ready("True", 0, "2026-11-30T10:00:00Z"))),
            "the domain became Ready: waiting objects go on"
        );
        assert!(
            wakes.applied(&domain(2, ready("True", 0, "2026-11-30T10:00:00Z"))),
            "a spec change (access rules) may change admission"
        );
        let gone = domain(2, ready("True", 0, "2026-11-30T10:00:00Z"));
        wakes.deleted(&gone);
        assert!(wakes.applied(&gone), "a recreated domain is news");
    }
}
