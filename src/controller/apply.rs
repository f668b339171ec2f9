//! The apply side of a reconcile, as named steps:
//! desired state → CodeArtifact → Secret → status → next requeue.

use std::sync::Arc;

use chrono::Utc;
use kube::runtime::controller::Action;

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
            report::failure(&ctx, &obj, &e, synced.as_ref()).await;
            Err(e)
        }
    }
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
    // 4. Status, written only when it changed.
    report::write_status(ctx, obj, status::ready(obj, remote, &token, now)).await?;
    // 5. Back before the token needs replacing, or at the next resync.
    Ok(Action::requeue(next_requeue(
        refresh_at(&token, d.refresh_before),
        now,
        ctx.config.resync,
    )))
}
