//! Telling users what happened: Events on the PypiRepository and status
//! writes. Both are best effort for failures (a failed report must not hide
//! the error being reported) and skip writes that would change nothing.

use chrono::Utc;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::context::Context;
use super::remote::{Note, Remote};
use super::state::Uid;
use super::status;
use crate::crd::{EventReason, PypiRepository, PypiRepositoryStatus};
use crate::error::{Error, Result};

/// Publishes a Normal Event.
pub async fn normal(
    ctx: &Context,
    obj: &PypiRepository,
    reason: EventReason,
    action: &str,
    note: String,
) {
    publish(ctx, obj, EventType::Normal, reason.as_str(), action, note).await;
}

/// Publishes a Warning Event (repeats are aggregated into a series).
pub async fn warning(
    ctx: &Context,
    obj: &PypiRepository,
    reason: EventReason,
    action: &str,
    note: String,
) {
    publish(ctx, obj, EventType::Warning, reason.as_str(), action, note).await;
}

/// Publishes what a step did, as Normal Events in order.
pub async fn notes(ctx: &Context, obj: &PypiRepository, notes: Vec<Note>) {
    for n in notes {
        normal(ctx, obj, n.reason, n.action, n.message).await;
    }
}

async fn publish(
    ctx: &Context,
    obj: &PypiRepository,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    // Warnings repeat while a failure is retried and are aggregated into a
    // series by the shared recorder; Normal Events happen once.
    let recorder = match type_ {
        EventType::Warning => ctx.recorder.clone(),
        EventType::Normal => ctx.one_off_recorder(),
    };
    crate::publish::event(&recorder, obj, type_, reason, action, note).await;
}

/// Writes `status` when it differs from what the object has.
/// The copy kept until the cache catches up is in the cache's form.
pub async fn write_status(
    ctx: &Context,
    obj: &PypiRepository,
    status: PypiRepositoryStatus,
) -> Result<()> {
    let api: Api<PypiRepository> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    // The cache holds statuses without secretUsage (see status::cached_form),
    // which changes only with the spec, and so with the conditions' generation.
    let cached = status::cached_form(&status);
    if obj.status.as_ref() == Some(&cached) {
        return Ok(());
    }
    crate::publish::status(&api, obj, None, &status).await?;
    ctx.states
        .update(&Uid::of(obj), |s| s.written = Some(Box::new(cached)));
    Ok(())
}

/// Reports a failed reconcile: one Warning Event, then Ready=False with the
/// reason in status (so whoever sees the condition finds the Event). Errors
/// while reporting are logged, not returned.
pub async fn failure(ctx: &Context, obj: &PypiRepository, err: &Error, synced: Option<&Remote>) {
    let reason = failure_reason(err).as_str();
    publish(
        ctx,
        obj,
        EventType::Warning,
        reason,
        "Reconcile",
        err.report(),
    )
    .await;
    let st = status::failed(obj, err, synced, Utc::now());
    if let Err(e) = write_status(ctx, obj, st).await {
        tracing::warn!(object = %obj.name_any(), error = %e, "could not write failure status");
    }
}

/// The reason of a failed reconcile's Warning Event. Pure.
pub fn failure_reason(err: &Error) -> EventReason {
    if status::is_token_failure(err) {
        EventReason::TokenRefreshFailed
    } else {
        EventReason::Failed(err.reason())
    }
}
