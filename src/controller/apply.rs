//! The apply side of a reconcile, as named steps:
//! access → desired state → CodeArtifact → Secret → retention → status →
//! next requeue.
//! When CodeArtifact cannot be brought in line with the spec, the Secret of a
//! repository that exists is still kept fresh; when access is refused, the
//! Secret loses its credentials.

use std::sync::Arc;

use chrono::Utc;
use kube::runtime::controller::Action;

use super::context::Context;
use super::credentials::RepositoryRef;
use super::desired::Desired;
use super::remote::{Note, Remote, is_repository_arn};
use super::state::Uid;
use super::{credentials, desired, prepopulate, report, repository, retention, status};
use crate::crd::PypiRepository;
use crate::error::Result;
use crate::token::next_requeue;

/// Reconciles a live PypiRepository; failures are reported on the object
/// before they are returned to the error policy.
pub async fn apply(obj: Arc<PypiRepository>, ctx: Arc<Context>) -> Result<Action> {
    let mut synced = None;
    let mut notes = Vec::new();
    match steps(&obj, &ctx, &mut synced, &mut notes).await {
        // A successful run published its notes before its status.
        Ok(action) => Ok(action),
        Err(e) => {
            // What the steps did before one failed, ahead of the failure.
            report::notes(&ctx, &obj, notes).await;
            if e.revokes_access() {
                revoke(&obj, &ctx).await;
            } else if synced.is_none() {
                keep_token_fresh(&obj, &ctx).await;
            }
            report::failure(&ctx, &obj, &e, synced.as_ref()).await;
            Err(e)
        }
    }
}

/// `synced` receives CodeArtifact's state as soon as step 2 succeeds, so a
/// later failure still reports it.
async fn steps(
    obj: &PypiRepository,
    ctx: &Context,
    synced: &mut Option<Remote>,
    notes: &mut Vec<Note>,
) -> Result<Action> {
    let now = Utc::now();
    // 0. Strict tenancy: may this namespace have what the spec asks (caches only)?
    let admission = ctx.admission(obj)?;
    // 1. What the spec asks for (pure, no network).
    let d = desired::desired(
        obj,
        ctx.aws.region(),
        &ctx.config.cluster_name,
        admission.as_ref(),
    )?;
    // 2. CodeArtifact: domain, repository, connection, upstreams, tags (skipped between resyncs).
    let remote = synced.insert(repository::sync(obj, ctx, &d, notes).await?);
    // 3. The Secret holds a fresh token (shared per domain and identity).
    let repository = RepositoryRef {
        endpoint: &remote.endpoint,
        arn: &remote.repository_arn,
    };
    let due = credentials::ensure_secret(obj, ctx, &d, &repository, now).await?;
    ctx.note_token_due(&Uid::of(obj), due);
    // 3b. spec.prepopulate: a bounded slice of fetching through the endpoint, when due.
    let prepopulated = prepopulate::step(obj, ctx, &d, &repository, now).await;
    // 4. Retention: a page of a run when one is due; its failures stay in its condition.
    let retention = retention::step(obj, ctx, &d, now).await;
    let retention_due = retention.requeue;
    // 5. Events, then the status that reflects them (written only when it
    //    changed; a token refresh does not change it): whoever sees the
    //    condition finds the Event that explains it.
    let mut st = status::ready(obj, remote, d.token_key.duration_seconds, now);
    retention.apply_to(&mut st, obj.metadata.generation, now);
    prepopulated.apply(&mut st, obj.metadata.generation, now);
    report::notes(ctx, obj, std::mem::take(notes)).await;
    prepopulated.report(ctx, obj).await;
    report::write_status(ctx, obj, st).await?;
    // 6. Back before the token needs replacing, at the next resync, or sooner
    //    for retention's next page or prepopulate's next slice.
    let requeue = next_requeue(due, now, ctx.config.resync);
    Ok(Action::requeue(
        [retention_due, prepopulated.requeue]
            .into_iter()
            .flatten()
            .fold(requeue, std::cmp::min),
    ))
}

/// Access was refused or the repository is not this object's: no more
/// token refreshes, and the credentials leave the Secret. Nothing in AWS
/// is touched.
async fn revoke(obj: &PypiRepository, ctx: &Context) {
    ctx.states.update(&Uid::of(obj), |s| {
        s.token_due = None;
        s.synced = None;
        s.secret_memo = None;
    });
    if let Err(e) = credentials::remove_credentials(obj, ctx).await {
        tracing::warn!(error = %e.report(), "could not remove the credentials of a refused object");
    }
}

/// After step 2 failed, gives the Secret of a repository that already exists
/// a fresh token all the same: a settings mistake (a missing upstream, a tag
/// CodeArtifact refuses) or a denied call must not cut workloads off once
/// the old token expires. Best effort: the step 2 error is what is reported.
async fn keep_token_fresh(obj: &PypiRepository, ctx: &Context) {
    let Ok(admission) = ctx.admission(obj) else {
        return;
    };
    let Ok(d) = desired::desired(
        obj,
        ctx.aws.region(),
        &ctx.config.cluster_name,
        admission.as_ref(),
    ) else {
        return;
    };
    let uid = Uid::of(obj);
    let last = ctx
        .states
        .read(&uid, |s| s.synced.as_ref().map(|r| r.remote.clone()));
    let Some((endpoint, arn)) = known_endpoint(obj, last.as_ref(), &d) else {
        return;
    };
    let repository = RepositoryRef {
        endpoint: &endpoint,
        arn: &arn,
    };
    match credentials::ensure_secret(obj, ctx, &d, &repository, Utc::now()).await {
        Ok(due) => ctx.note_token_due(&uid, due),
        Err(e) => {
            tracing::debug!(error = %e.report(), "could not refresh the token of a failing object")
        }
    }
}

/// The repository's endpoint and ARN when it is known to exist: from the
/// last full sync in memory, or from status (after a restart).
fn known_endpoint(
    obj: &PypiRepository,
    last: Option<&Remote>,
    d: &Desired,
) -> Option<(String, String)> {
    if let Some(last) = last.filter(|l| l.is_repository(&d.domain, &d.repository)) {
        return Some((last.endpoint.clone(), last.repository_arn.clone()));
    }
    let st = obj.status.as_ref()?;
    let arn = st
        .repository_arn
        .clone()
        .filter(|arn| is_repository_arn(arn, &d.domain, &d.repository))?;
    Some((st.repository_endpoint.clone()?, arn))
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
            policy_revision: None,
        }
    }

    #[test]
    fn a_repository_synced_before_keeps_its_endpoint_for_token_refreshes() {
        let o = obj(serde_json::json!({}));
        let d = desired::desired(&o, "us-west-2", "c", None).unwrap();
        let arn = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/web";
        assert_eq!(
            known_endpoint(&o, Some(&remote(arn)), &d),
            Some(("http://memory/".into(), arn.into()))
        );
        let restarted =
            obj(serde_json::json!({"repositoryArn": arn, "repositoryEndpoint": "http://status/"}));
        assert_eq!(
            known_endpoint(&restarted, None, &d),
            Some(("http://status/".into(), arn.into()))
        );
    }

    #[test]
    fn a_repository_never_synced_gets_no_token_before_it_exists() {
        let o = obj(serde_json::json!({}));
        let d = desired::desired(&o, "us-west-2", "c", None).unwrap();
        assert_eq!(known_endpoint(&o, None, &d), None);
        let other = "arn:aws:codeartifact:us-west-2:111122223333:repository/dom/elsewhere";
        assert_eq!(known_endpoint(&o, Some(&remote(other)), &d), None);
        let stale =
            obj(serde_json::json!({"repositoryArn": other, "repositoryEndpoint": "http://old/"}));
        assert_eq!(known_endpoint(&stale, None, &d), None);
    }
}
