//! Condition types and reasons, and the pure update that keeps `lastTransitionTime` honest.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The repository exists and the Secret holds a valid token.
pub const CONDITION_READY: &str = "Ready";
/// The repository's settings in CodeArtifact match the spec.
pub const CONDITION_SYNCED: &str = "Synced";
/// spec.retention can run: its last run finished (or it is under way).
pub const CONDITION_RETENTION: &str = "Retention";
/// Everything spec.prepopulate lists is in the repository (only with spec.prepopulate).
pub const CONDITION_PREPOPULATED: &str = "Prepopulated";

/// Condition reasons, PascalCase as Kubernetes expects (the variant names
/// are the strings); a failed reconcile's Warning Event carries the same
/// reason (see [`EventReason::Failed`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::EnumIter,
)]
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
    /// The last retention run finished.
    RetentionCompleted,
    /// A retention run is under way, a batch of packages at a time.
    RetentionRunning,
    /// spec.prepopulate: every requirement and dependency is cached.
    Prepopulated,
    /// spec.prepopulate: work is left; the operator continues shortly.
    PrepopulateInProgress,
    /// spec.prepopulate: some requirements could not be cached (status.prepopulate.failed).
    PrepopulateFailed,
}

impl Reason {
    /// The PascalCase string.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Every reason the operator's Events carry, in one place: what it did
/// (Normal Events) and why a reconcile failed (Warning Events). The variant
/// names are the strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
pub enum EventReason {
    /// A domain was created (`--tenancy=open`, or by its CodeArtifactDomain).
    DomainCreated,
    /// An empty domain the operator created was deleted.
    DomainDeleted,
    /// A domain stays: it holds repositories, or the operator did not create it.
    DomainKept,
    /// A repository was created (or recreated after it went missing).
    RepositoryCreated,
    /// An existing repository without a marker was taken over.
    RepositoryAdopted,
    /// A repository this object created was deleted.
    RepositoryDeleted,
    /// A repository stays in CodeArtifact on deletion: not created by this
    /// object, or the access rules no longer allow deleting it.
    RepositoryKept,
    /// deletionPolicy Retain: nothing in CodeArtifact was touched.
    Retained,
    /// A consumer was deleted; the repository it read is untouched.
    Released,
    /// Minting a CodeArtifact token failed.
    TokenRefreshFailed,
    /// A retention run removed package versions (or, dry run, would have).
    VersionsRemoved,
    /// A retention run stopped on an error; it resumes after a backoff.
    RetentionFailed,
    /// spec.permissionsPolicy was put on the domain or repository (it was
    /// missing, or changed behind the operator's back).
    PermissionsPolicyApplied,
    /// The operator's permissions policy was deleted: the spec no longer states one.
    PermissionsPolicyDeleted,
    /// A package group a CodeArtifactDomain declares was created.
    PackageGroupCreated,
    /// A declared package group's settings were put back as declared.
    PackageGroupCorrected,
    /// A package group the CodeArtifactDomain created left its spec and was deleted.
    PackageGroupDeleted,
    /// spec.prepopulate: a run cached everything listed.
    Prepopulated,
    /// A reconcile failed for this reason (also the Ready condition's).
    #[strum(transparent)]
    Failed(Reason),
}

impl EventReason {
    /// The PascalCase string.
    pub fn as_str(self) -> &'static str {
        self.into()
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

    /// Sets Ready at generation `generation`, `at` seconds after the epoch.
    fn ready(
        c: &mut Vec<Condition>,
        status: bool,
        reason: Reason,
        message: &str,
        generation: i64,
        at: i64,
    ) {
        set_condition(
            c,
            CONDITION_READY,
            status,
            reason,
            message,
            Some(generation),
            t(at),
        );
    }

    #[test]
    fn new_condition_gets_now_as_transition_time() {
        let mut c = vec![];
        ready(&mut c, true, Reason::Available, "ok", 1, 100);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, "True");
        assert_eq!(c[0].last_transition_time, to_time(t(100)));
    }

    #[test]
    fn same_status_keeps_transition_time_but_updates_reason_and_message() {
        let mut c = vec![];
        ready(&mut c, false, Reason::Throttled, "a", 1, 100);
        ready(&mut c, false, Reason::AccessDenied, "b", 2, 200);
        assert_eq!(c[0].last_transition_time, to_time(t(100)));
        assert_eq!(c[0].reason, "AccessDenied");
        assert_eq!(c[0].message, "b");
        assert_eq!(c[0].observed_generation, Some(2));
    }

    #[test]
    fn status_flip_moves_transition_time() {
        let mut c = vec![];
        ready(&mut c, false, Reason::Throttled, "a", 1, 100);
        ready(&mut c, true, Reason::Available, "ok", 1, 300);
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
        ready(&mut c, true, Reason::Available, "ok", 1, 100);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].type_, CONDITION_SYNCED);
        assert_eq!(c[0].last_transition_time, to_time(t(50)));
    }

    #[test]
    fn reason_strings_are_the_variant_names_that_docs_and_tests_rely_on() {
        use strum::IntoEnumIterator;
        let all: Vec<&str> = Reason::iter().map(Reason::as_str).collect();
        assert_eq!(all.len(), 21);
        for r in Reason::iter() {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r), "round trip");
            assert_eq!(format!("{r:?}"), r.as_str(), "PascalCase variant name");
            assert_eq!(EventReason::Failed(r).as_str(), r.as_str());
        }
        assert_eq!(Reason::AwsUnavailable.as_str(), "AwsUnavailable");
        assert_eq!(EventReason::RepositoryKept.as_str(), "RepositoryKept");
        assert_eq!(
            EventReason::PermissionsPolicyApplied.as_str(),
            "PermissionsPolicyApplied"
        );
        assert_eq!(
            EventReason::TokenRefreshFailed.as_str(),
            "TokenRefreshFailed"
        );
        assert!(
            !all.contains(&EventReason::Retained.as_str()),
            "Event-only reasons never show up as a condition reason"
        );
    }
}
