//! Desired status, pure: what a successful or failed reconcile reports.

use chrono::{DateTime, Utc};

use super::remote::Remote;
use crate::crd::{
    CONDITION_READY, CONDITION_SYNCED, PypiRepository, PypiRepositoryStatus, Reason, set_condition,
};
use crate::error::Error;
use crate::secret::index_url;

/// Status after a successful reconcile. It holds nothing that changes when
/// a token is refreshed (`token_seconds` is the requested lifetime), so a
/// refresh writes the Secret and not the status.
pub fn ready(
    obj: &PypiRepository,
    remote: &Remote,
    token_seconds: i64,
    now: DateTime<Utc>,
) -> PypiRepositoryStatus {
    let mut st = synced(obj, remote, now);
    let secret = obj.secret_name();
    st.secret_name = Some(secret.clone());
    st.token_lifetime = Some(lifetime(token_seconds));
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

/// What the watch cache keeps of a status: all but `secretUsage`, which is
/// a pure function of the spec, written with every Ready status and never
/// read back; about a kilobyte per object the cache need not hold.
pub fn cached_form(status: &PypiRepositoryStatus) -> PypiRepositoryStatus {
    let mut st = status.clone();
    slim(&mut st);
    st
}

/// Turns a status into its cached form in place (for the watch's `modify`).
pub fn slim(status: &mut PypiRepositoryStatus) {
    status.secret_usage = Vec::new();
}

/// A token lifetime for people: "12h", "15m", "1h30m"; 0 is the caller's session.
pub fn lifetime(seconds: i64) -> String {
    if seconds <= 0 {
        return "session".into();
    }
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
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
    st.policy_revision = remote.policy_revision.clone();
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

/// Whether the failure was in minting a token rather than in CodeArtifact settings.
pub fn is_token_failure(err: &Error) -> bool {
    matches!(err.root(), Error::Aws(e) if e.operation == "GetAuthorizationToken")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, AwsErrorKind};
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
            policy_revision: Some("rev-1".into()),
        }
    }

    #[test]
    fn ready_fills_every_field() {
        let st = ready(&obj(), &remote(), 43_200, Utc.timestamp_opt(10, 0).unwrap());
        assert_eq!(st.observed_generation, Some(3));
        assert_eq!(st.index_url.as_deref(), Some("http://h/pypi/web/simple/"));
        assert_eq!(st.secret_name.as_deref(), Some("web-pypi"));
        assert_eq!(st.token_lifetime.as_deref(), Some("12h"));
        assert_eq!(st.policy_revision.as_deref(), Some("rev-1"));
        assert!(st.conditions.iter().all(|c| c.status == "True"));
    }

    #[test]
    fn the_cached_form_drops_only_secret_usage() {
        let now = Utc.timestamp_opt(10, 0).unwrap();
        let st = ready(&obj(), &remote(), 43_200, now);
        assert!(!st.secret_usage.is_empty(), "Ready writes the usage");
        let cached = cached_form(&st);
        assert!(cached.secret_usage.is_empty());
        assert_eq!(
            PypiRepositoryStatus {
                secret_usage: st.secret_usage.clone(),
                ..cached.clone()
            },
            st
        );
        let mut again = ready(&obj(), &remote(), 43_200, now);
        slim(&mut again);
        assert_eq!(
            again, cached,
            "a settled object compares equal to its cached status"
        );
    }

    #[test]
    fn a_token_refresh_leaves_the_status_as_it_was() {
        let mut o = obj();
        let first = ready(&o, &remote(), 900, Utc.timestamp_opt(10, 0).unwrap());
        o.status = Some(first.clone());
        let later = ready(&o, &remote(), 900, Utc.timestamp_opt(700, 0).unwrap());
        assert_eq!(later, first, "nothing to write when only the token changed");
    }

    #[test]
    fn lifetimes_read_like_durations() {
        assert_eq!(lifetime(43_200), "12h");
        assert_eq!(lifetime(900), "15m");
        assert_eq!(lifetime(5_430), "1h30m30s");
        assert_eq!(lifetime(0), "session");
    }

    #[test]
    fn token_failure_after_sync_reports_synced_true() {
        let now = Utc.timestamp_opt(10, 0).unwrap();
        let mut o = obj();
        o.status = Some(ready(&o, &remote(), 43_200, now));
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
