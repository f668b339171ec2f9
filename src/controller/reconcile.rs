//! The reconcile entry point: time it, and run apply or cleanup, through a
//! finalizer only when deletion has work to do in AWS.

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event;
use kube::{Api, ResourceExt};

use super::context::Context;
use super::state::Uid;
use super::{apply, cleanup, finalize};
use crate::crd::PypiRepository;
use crate::error::{Error, Result};

/// Reconciles one PypiRepository.
#[tracing::instrument(skip_all, fields(namespace = obj.namespace().unwrap_or_default(), name = %obj.name_any()))]
pub async fn reconcile(obj: Arc<PypiRepository>, ctx: Arc<Context>) -> Result<Action> {
    let _slot = ctx.slot().await;
    let _timer = ctx.metrics.reconcile_started();
    let namespace = obj
        .namespace()
        .ok_or_else(|| Error::InvalidSpec("a PypiRepository must be namespaced".into()))?;
    let uid = Uid::of(obj.as_ref());
    let api: Api<PypiRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    let obj = ctx.with_latest_status(obj);
    let needed = finalize::needs_finalizer(&obj);
    let action = finalize::with_finalizer_if(&api, obj, needed, |event| async {
        match event {
            Event::Apply(o) => apply::apply(o, ctx.clone()).await,
            Event::Cleanup(o) => cleanup::cleanup(o, ctx.clone()).await,
        }
    })
    .await?;
    ctx.states.succeeded(&uid);
    Ok(action)
}
