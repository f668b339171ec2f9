//! Writing what the controllers found to the Kubernetes API, for both kinds:
//! Events (notes cut to what the Event API accepts; best effort, a lost
//! Event is logged, never returned) and status (a merge patch, skipped when
//! it would change nothing). Event reasons are [`crate::crd::EventReason`]s.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{NOTE_MAX_BYTES, Result, truncate};

/// Publishes one Event on `obj`.
pub async fn event<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    obj: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        // The Event API refuses longer notes, which would lose the Event.
        note: Some(truncate(note, NOTE_MAX_BYTES)),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(kind = %K::kind(&()), object = %obj.name_any(), error = %e, "could not publish Event");
    }
}

/// Writes `status` on `obj` unless `current` already is that; whether it wrote.
pub async fn status<K, S>(api: &Api<K>, obj: &K, current: Option<&S>, status: &S) -> Result<bool>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let patch = serde_json::json!({ "status": status });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(true)
}
