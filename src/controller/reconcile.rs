//! The reconcile entry point: time it, and hand the object to kube-runtime's
//! finalizer helper, which dispatches to apply or cleanup.

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, ResourceExt};

use super::{Context, apply, cleanup};
use crate::crd::{FINALIZER, PypiRepository};
use crate::error::{Error, Result};

/// Reconciles one PypiRepository.
#[tracing::instrument(skip_all, fields(namespace = obj.namespace().unwrap_or_default(), name = %obj.name_any()))]
pub async fn reconcile(obj: Arc<PypiRepository>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_started();
    let namespace = obj
        .namespace()
        .ok_or_else(|| Error::InvalidSpec("a PypiRepository must be namespaced".into()))?;
    let uid = obj.uid().unwrap_or_default();
    let api: Api<PypiRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    let obj = ctx.with_latest_status(obj);
    let action = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Event::Apply(o) => apply::apply(o, ctx.clone()).await,
            Event::Cleanup(o) => cleanup::cleanup(o, ctx.clone()).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))?;
    ctx.attempts.succeeded(&uid);
    Ok(action)
}
