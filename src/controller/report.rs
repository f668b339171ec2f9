//! Telling users what happened: Events on the PypiRepository and status
//! writes. Both are best effort for failures (a failed report must not hide
//! the error being reported) and skip writes that would change nothing.

use chrono::Utc;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};

use super::context::Context;
use super::remote::Remote;
use super::state::Uid;
use super::status;
use crate::crd::{PypiRepository, PypiRepositoryStatus};
use crate::error::{Error, NOTE_MAX_BYTES, Result, truncate};

/// Publishes a Normal Event.
pub async fn normal(ctx: &Context, obj: &PypiRepository, reason: &str, action: &str, note: String) {
    publish(ctx, obj, EventType::Normal, reason, action, note).await;
}

/// Publishes a Warning Event.
pub async fn warning(
    ctx: &Context,
    obj: &PypiRepository,
    reason: &str,
    action: &str,
    note: String,
) {
    publish(ctx, obj, EventType::Warning, reason, action, note).await;
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
    let event = Event {
        type_,
        reason: reason.to_string(),
        // The Event API refuses longer notes, which would lose the Event.
        note: Some(truncate(note, NOTE_MAX_BYTES)),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(object = %obj.name_any(), error = %e, "could not publish Event");
    }
}

/// Writes `status` when it differs from what the object has.
pub async fn write_status(
    ctx: &Context,
    obj: &PypiRepository,
    status: PypiRepositoryStatus,
) -> Result<()> {
    if obj.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<PypiRepository> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let patch = serde_json::json!({ "status": status });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.states
        .update(&Uid::of(obj), |s| s.written = Some(status));
    Ok(())
}

/// Reports a failed reconcile: Ready=False with the reason in status, and
/// one Warning Event. Errors while reporting are logged, not returned.
pub async fn failure(ctx: &Context, obj: &PypiRepository, err: &Error, synced: Option<&Remote>) {
    let st = status::failed(obj, err, synced, Utc::now());
    if let Err(e) = write_status(ctx, obj, st).await {
        tracing::warn!(object = %obj.name_any(), error = %e, "could not write failure status");
    }
    let reason = if status::is_token_failure(err) {
        "TokenRefreshFailed"
    } else {
        err.reason().as_str()
    };
    warning(ctx, obj, reason, "Reconcile", err.report()).await;
}
