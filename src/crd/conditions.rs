//! Condition types and reasons, and the pure update that keeps `lastTransitionTime` honest.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The repository exists and the Secret holds a valid token.
pub const CONDITION_READY: &str = "Ready";
/// The repository's settings in CodeArtifact match the spec.
pub const CONDITION_SYNCED: &str = "Synced";

/// Condition reasons, PascalCase as Kubernetes expects; also the Event reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Everything is in place.
    Available,
    /// CodeArtifact matches the spec.
    Synced,
    /// The operator's AWS identity lacks a permission.
    AccessDenied,
    /// CodeArtifact throttled the operator; it retries with backoff.
    Throttled,
    /// CodeArtifact or the network failed; it retries with backoff.
    AwsUnavailable,
    /// The domain does not exist and cannot be created (another account).
    DomainNotFound,
    /// An upstream repository does not exist.
    UpstreamNotFound,
    /// CodeArtifact rejected a value in the spec.
    InvalidSpec,
    /// A CodeArtifact quota is exhausted.
    QuotaExceeded,
    /// A conflicting change happened in CodeArtifact; it retries.
    Conflict,
    /// The Kubernetes API failed; it retries.
    KubernetesError,
    /// The object is being deleted.
    Deleting,
    /// No CodeArtifactDomain rule allows this namespace what the spec asks (`--tenancy=strict`).
    NotPermitted,
    /// The repository carries another object's or another cluster's ownership marker.
    OwnedElsewhere,
    /// The repository exists without an ownership marker and adoption was not asked for or allowed.
    AlreadyExists,
    /// The repository a consumer reads does not exist.
    RepositoryNotFound,
    /// A domain set to be deleted still holds repositories.
    DomainNotEmpty,
}

impl Reason {
    /// The PascalCase string.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Available => "Available",
            Reason::Synced => "Synced",
            Reason::AccessDenied => "AccessDenied",
            Reason::Throttled => "Throttled",
            Reason::AwsUnavailable => "AwsUnavailable",
            Reason::DomainNotFound => "DomainNotFound",
            Reason::UpstreamNotFound => "UpstreamNotFound",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::QuotaExceeded => "QuotaExceeded",
            Reason::Conflict => "Conflict",
            Reason::KubernetesError => "KubernetesError",
            Reason::Deleting => "Deleting",
            Reason::NotPermitted => "NotPermitted",
            Reason::OwnedElsewhere => "OwnedElsewhere",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::RepositoryNotFound => "RepositoryNotFound",
            Reason::DomainNotEmpty => "DomainNotEmpty",
        }
    }
}

/// Kubernetes' time type from chrono's.
pub fn to_time(t: DateTime<Utc>) -> Time {
    // Whole seconds, as Kubernetes stores them: a status read back from the
    // API then equals the one written, which lets the controller drop its copy.
    Time(k8s_openapi::jiff::Timestamp::new(t.timestamp(), 0).unwrap_or_default())
}

/// Sets condition `type_` in `conditions`. `lastTransitionTime` moves to
/// `now` only when the status flips; reason, message and generation are
/// always updated.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: Reason,
    message: &str,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let status = if status { "True" } else { "False" }.to_string();
    let transition = match conditions.iter().find(|c| c.type_ == type_) {
        Some(old) if old.status == status => old.last_transition_time.clone(),
        _ => to_time(now),
    };
    let new = Condition {
        type_: type_.to_string(),
        status,
        reason: reason.as_str().to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time: transition,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(slot) => *slot = new,
        None => conditions.push(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    #[test]
    fn new_condition_gets_now_as_transition_time() {
        let mut c = vec![];
        set_condition(
            &mut c,
            CONDITION_READY,
            true,
            Reason::Available,
            "ok",
            Some(1),
            t(100),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, "True");
        assert_eq!(c[0].last_transition_time, to_time(t(100)));
    }

    #[test]
    fn same_status_keeps_transition_time_but_updates_reason_and_message() {
        let mut c = vec![];
        set_condition(
            &mut c,
            CONDITION_READY,
            false,
            Reason::Throttled,
            "a",
            Some(1),
            t(100),
        );
        set_condition(
            &mut c,
            CONDITION_READY,
            false,
            Reason::AccessDenied,
            "b",
            Some(2),
            t(200),
        );
        assert_eq!(c[0].last_transition_time, to_time(t(100)));
        assert_eq!(c[0].reason, "AccessDenied");
        assert_eq!(c[0].message, "b");
        assert_eq!(c[0].observed_generation, Some(2));
    }

    #[test]
    fn status_flip_moves_transition_time() {
        let mut c = vec![];
        set_condition(
            &mut c,
            CONDITION_READY,
            false,
            Reason::Throttled,
            "a",
            Some(1),
            t(100),
        );
        set_condition(
            &mut c,
            CONDITION_READY,
            true,
            Reason::Available,
            "ok",
            Some(1),
            t(300),
        );
        assert_eq!(c[0].last_transition_time, to_time(t(300)));
    }

    #[test]
    fn other_conditions_are_untouched() {
        let mut c = vec![];
        set_condition(
            &mut c,
            CONDITION_SYNCED,
            true,
            Reason::Synced,
            "s",
            Some(1),
            t(50),
        );
        set_condition(
            &mut c,
            CONDITION_READY,
            true,
            Reason::Available,
            "ok",
            Some(1),
            t(100),
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].type_, CONDITION_SYNCED);
        assert_eq!(c[0].last_transition_time, to_time(t(50)));
    }
}
