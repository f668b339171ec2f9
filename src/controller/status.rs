//! Desired status, pure: what a successful or failed reconcile reports.

use chrono::{DateTime, Utc};

use super::remote::Remote;
use crate::aws::IssuedToken;
use crate::crd::{
    CONDITION_READY, CONDITION_SYNCED, PypiRepository, PypiRepositoryStatus, Reason, set_condition,
};
use crate::error::Error;
use crate::secret::{index_url, rfc3339};

/// Status after a successful reconcile.
pub fn ready(
    obj: &PypiRepository,
    remote: &Remote,
    token: &IssuedToken,
    now: DateTime<Utc>,
) -> PypiRepositoryStatus {
    let mut st = synced(obj, remote, now);
    let secret = obj.secret_name();
    st.secret_name = Some(secret.clone());
    st.token_expires_at = Some(rfc3339(token.expires_at));
    st.secret_usage = crate::secret::usage(&crate::secret::ClientSettings::of(obj));
    let ready = format!(
        "Repository {} is available and Secret {secret} holds a current token",
        obj.repository_name()
    );
    set_condition(
        &mut st.conditions,
        CONDITION_READY,
        true,
        Reason::Available,
        &ready,
        obj.metadata.generation,
        now,
    );
    st
}

/// Status once CodeArtifact matches the spec: ARNs, endpoint, Synced=True.
fn synced(obj: &PypiRepository, remote: &Remote, now: DateTime<Utc>) -> PypiRepositoryStatus {
    let mut st = obj.status.clone().unwrap_or_default();
    let generation = obj.metadata.generation;
    st.observed_generation = generation;
    st.domain_arn = Some(remote.domain_arn.clone());
    st.domain_owner = Some(remote.domain_owner.clone());
    st.repository_name = Some(obj.repository_name());
    st.repository_arn = Some(remote.repository_arn.clone());
    st.repository_endpoint = Some(remote.endpoint.clone());
    st.index_url = Some(index_url(&remote.endpoint));
    st.applied_tag_keys = remote.applied_tag_keys.clone();
    set_condition(
        &mut st.conditions,
        CONDITION_SYNCED,
        true,
        Reason::Synced,
        "CodeArtifact matches the spec",
        generation,
        now,
    );
    st
}

/// Status after a failed reconcile: Ready=False with the reason and what to
/// do. When CodeArtifact was brought in line before the failure (`remote`),
/// that is reported with Synced=True; otherwise Synced=False too.
pub fn failed(
    obj: &PypiRepository,
    err: &Error,
    remote: Option<&Remote>,
    now: DateTime<Utc>,
) -> PypiRepositoryStatus {
    let generation = obj.metadata.generation;
    let message = err.report();
    let mut st = match remote {
        Some(remote) => synced(obj, remote, now),
        None => {
            let mut st = obj.status.clone().unwrap_or_default();
            set_condition(
                &mut st.conditions,
                CONDITION_SYNCED,
                false,
                err.reason(),
                &message,
                generation,
                now,
            );
            st
        }
    };
    set_condition(
        &mut st.conditions,
        CONDITION_READY,
        false,
        err.reason(),
        &message,
        generation,
        now,
    );
    st
}

/// Status while the finalizer runs.
pub fn deleting(obj: &PypiRepository, now: DateTime<Utc>) -> PypiRepositoryStatus {
    let mut st = obj.status.clone().unwrap_or_default();
    let message = format!(
        "Deleting with deletionPolicy {:?}",
        obj.spec.deletion_policy
    );
    set_condition(
        &mut st.conditions,
        CONDITION_READY,
        false,
        Reason::Deleting,
        &message,
        obj.metadata.generation,
        now,
    );
    st
}

/// Whether the failure was in minting a token rather than in CodeArtifact settings.
pub fn is_token_failure(err: &Error) -> bool {
    matches!(err.root(), Error::Aws(e) if e.operation == "GetAuthorizationToken")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AuthToken, AwsError, AwsErrorKind};
    use chrono::TimeZone;

    fn obj() -> PypiRepository {
        let spec = serde_json::from_value(serde_json::json!({"domain": {"name": "dom"}})).unwrap();
        let mut o = PypiRepository::new("web", spec);
        o.metadata.generation = Some(3);
        o
    }

    fn remote() -> Remote {
        Remote {
            domain_arn: "arn:d".into(),
            domain_owner: "111122223333".into(),
            repository_arn: "arn:r".into(),
            endpoint: "http://h/pypi/web/".into(),
            applied_tag_keys: vec!["team".into()],
        }
    }

    fn token() -> IssuedToken {
        IssuedToken {
            token: AuthToken::new("secret-token"),
            issued_at: Utc.timestamp_opt(0, 0).unwrap(),
            expires_at: Utc.timestamp_opt(43_200, 0).unwrap(),
        }
    }

    #[test]
    fn ready_fills_every_field_without_the_token() {
        let st = ready(
            &obj(),
            &remote(),
            &token(),
            Utc.timestamp_opt(10, 0).unwrap(),
        );
        assert_eq!(st.observed_generation, Some(3));
        assert_eq!(st.index_url.as_deref(), Some("http://h/pypi/web/simple/"));
        assert_eq!(st.secret_name.as_deref(), Some("web-pypi"));
        assert_eq!(st.token_expires_at.as_deref(), Some("1970-01-01T12:00:00Z"));
        assert!(st.conditions.iter().all(|c| c.status == "True"));
        assert!(!serde_json::to_string(&st).unwrap().contains("secret-token"));
    }

    #[test]
    fn token_failure_after_sync_reports_synced_true() {
        let now = Utc.timestamp_opt(10, 0).unwrap();
        let mut o = obj();
        o.status = Some(ready(&o, &remote(), &token(), now));
        let err = Error::Aws(AwsError {
            operation: "GetAuthorizationToken",
            kind: AwsErrorKind::AccessDenied,
            message: "denied".into(),
        });
        let st = failed(&o, &err, Some(&remote()), now);
        let get = |t: &str| st.conditions.iter().find(|c| c.type_ == t).unwrap().clone();
        assert_eq!(
            (get("Ready").status.as_str(), get("Ready").reason.as_str()),
            ("False", "AccessDenied")
        );
        assert_eq!(get("Synced").status, "True");
        let err = Error::Aws(AwsError {
            operation: "CreateRepository",
            kind: AwsErrorKind::Throttling,
            message: "slow".into(),
        });
        let st = failed(&o, &err, None, now);
        assert_eq!(
            st.conditions
                .iter()
                .find(|c| c.type_ == "Synced")
                .unwrap()
                .reason,
            "Throttled"
        );
    }
}
