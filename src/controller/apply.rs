//! The apply side of a reconcile, as named steps:
//! desired state → CodeArtifact → Secret → status → next requeue.
//! When CodeArtifact cannot be brought in line with the spec, the Secret of a
//! repository that exists is still kept fresh.

use std::sync::Arc;

use chrono::Utc;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::desired::Desired;
use super::repository::Remote;
use super::{Context, credentials, desired, report, repository, status};
use crate::crd::PypiRepository;
use crate::error::Result;
use crate::token::{next_requeue, refresh_at};

/// Reconciles a live PypiRepository; failures are reported on the object
/// before they are returned to the error policy.
pub async fn apply(obj: Arc<PypiRepository>, ctx: Arc<Context>) -> Result<Action> {
    let mut synced = None;
    match steps(&obj, &ctx, &mut synced).await {
        Ok(action) => Ok(action),
        Err(e) => {
            if synced.is_none() {
                keep_token_fresh(&obj, &ctx).await;
            }
            report::failure(&ctx, &obj, &e, synced.as_ref()).await;
            Err(e)
        }
    }
}

/// After step 2 failed, gives the Secret of a repository that already exists
/// a fresh token all the same: a settings mistake (a missing upstream, a tag
/// CodeArtifact refuses) or a denied call must not cut workloads off once
/// the old token expires. Best effort: the step 2 error is what is reported.
async fn keep_token_fresh(obj: &PypiRepository, ctx: &Context) {
    let Ok(d) = desired::desired(obj, ctx.aws.region(), &ctx.config.cluster_name) else {
        return;
    };
    let uid = obj.uid().unwrap_or_default();
    let last = ctx
        .synced
        .lock()
        .expect("synced lock")
        .get(&uid)
        .map(|r| r.remote.clone());
    let Some(endpoint) = known_endpoint(obj, last.as_ref(), &d) else {
        return;
    };
    match credentials::ensure_secret(obj, ctx, &d, &endpoint, Utc::now()).await {
        Ok(token) => ctx.note_token_due(&uid, refresh_at(&token, d.refresh_before)),
        Err(e) => {
            tracing::debug!(error = %e.report(), "could not refresh the token of a failing object")
        }
    }
}

/// The repository's endpoint when it is known to exist: from the last full
/// sync in memory, or from status (after a restart).
fn known_endpoint(obj: &PypiRepository, last: Option<&Remote>, d: &Desired) -> Option<String> {
    let same_repo = format!("/{}/{}", d.domain, d.repository);
    if let Some(last) = last.filter(|l| l.repository_arn.ends_with(&same_repo)) {
        return Some(last.endpoint.clone());
    }
    let st = obj.status.as_ref()?;
    let synced_before = st
        .repository_arn
        .as_deref()
        .is_some_and(|arn| arn.ends_with(&same_repo));
    synced_before
        .then(|| st.repository_endpoint.clone())
        .flatten()
}

/// `synced` receives CodeArtifact's state as soon as step 2 succeeds, so a
/// later failure still reports it.
async fn steps(obj: &PypiRepository, ctx: &Context, synced: &mut Option<Remote>) -> Result<Action> {
    let now = Utc::now();
    // 1. What the spec asks for (pure, no network).
    let d = desired::desired(obj, ctx.aws.region(), &ctx.config.cluster_name)?;
    // 2. CodeArtifact: domain, repository, connection, upstreams, tags (skipped between resyncs).
    let remote = synced.insert(repository::sync(obj, ctx, &d).await?);
    // 3. The Secret holds a fresh token (shared per domain).
    let token = credentials::ensure_secret(obj, ctx, &d, &remote.endpoint, now).await?;
    let due = refresh_at(&token, d.refresh_before);
    ctx.note_token_due(&obj.uid().unwrap_or_default(), due);
    // 4. Status, written only when it changed.
    report::write_status(ctx, obj, status::ready(obj, remote, &token, now)).await?;
    // 5. Back before the token needs replacing, or at the next resync.
    Ok(Action::requeue(next_requeue(due, now, ctx.config.resync)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(status: serde_json::Value) -> PypiRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
            "metadata": {"name": "web", "namespace": "team", "uid": "u1"},
            "spec": {"domain": {"name": "dom"}}, "status": status,
        }))
        .unwrap()
    }

    fn remote(arn: &str) -> Remote {
        Remote {
            domain_arn: "arn:d".into(),
            domain_owner: "111122223333".into(),
            repository_arn: arn.into(),
            endpoint: "http://memory/".into(),
            applied_tag_keys: vec![],
        }
    }

    #[test]
    fn a_repository_synced_before_keeps_its_endpoint_for_token_refreshes() {
        let o = obj(serde_json::json!({}));
        let d = desired::desired(&o, "us-west-2", "c").unwrap();
        let arn = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/web";
        assert_eq!(
            known_endpoint(&o, Some(&remote(arn)), &d).as_deref(),
            Some("http://memory/")
        );
        let restarted =
            obj(serde_json::json!({"repositoryArn": arn, "repositoryEndpoint": "http://status/"}));
        assert_eq!(
            known_endpoint(&restarted, None, &d).as_deref(),
            Some("http://status/")
        );
    }

    #[test]
    fn a_repository_never_synced_gets_no_token_before_it_exists() {
        let o = obj(serde_json::json!({}));
        let d = desired::desired(&o, "us-west-2", "c").unwrap();
        assert_eq!(known_endpoint(&o, None, &d), None);
        let other = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/elsewhere";
        assert_eq!(known_endpoint(&o, Some(&remote(other)), &d), None);
        let stale =
            obj(serde_json::json!({"repositoryArn": other, "repositoryEndpoint": "http://old/"}));
        assert_eq!(known_endpoint(&stale, None, &d), None);
    }
}
