//! Finalizers only where deletion has work to do in AWS: a `Delete` policy
//! on something the operator manages. `Retain` objects and consumers carry
//! none, so deleting them (or their namespace) never waits for the operator;
//! a finalizer left from an earlier `Delete` is removed when the policy
//! changes. Generic over the kind, used by both controllers.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crd::{DeletionPolicy, FINALIZER, PypiRepository, RepositoryMode};
use crate::error::{Error, Result};

/// Whether deleting this PypiRepository has work to do in CodeArtifact.
pub fn needs_finalizer(obj: &PypiRepository) -> bool {
    obj.spec.deletion_policy == DeletionPolicy::Delete && obj.spec.mode == RepositoryMode::Manage
}

/// Runs `reconcile` through kube-runtime's finalizer helper when `needed`
/// (or when the object is being deleted with the finalizer still on it);
/// otherwise drops a leftover finalizer and applies without one.
pub async fn with_finalizer_if<K, F, Fut>(
    api: &Api<K>,
    obj: Arc<K>,
    needed: bool,
    reconcile: F,
) -> Result<Action>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<Action>>,
{
    let has = obj.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = obj.meta().deletion_timestamp.is_some();
    if needed || (has && deleting) {
        return match finalizer(api, FINALIZER, obj, reconcile).await {
            // A second cleanup woken from a cache that had not yet seen the
            // object go (its Secret's garbage collection wakes it): the
            // first one already removed the finalizer, and the object is gone.
            Err(kube::runtime::finalizer::Error::RemoveFinalizer(kube::Error::Api(s)))
                if s.code == 404 =>
            {
                Ok(Action::await_change())
            }
            other => other.map_err(|e| Error::Finalizer(Box::new(e))),
        };
    }
    if deleting {
        // Someone else's finalizer holds it; nothing for this operator to do.
        return Ok(Action::await_change());
    }
    if has {
        release(api, &obj).await?;
    }
    reconcile(Event::Apply(obj)).await
}

/// Removes this operator's finalizer, only if the object did not change meanwhile.
async fn release<K>(api: &Api<K>, obj: &K) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let rest: Vec<&String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .collect();
    let patch = serde_json::json!({
        "metadata": {"finalizers": rest, "resourceVersion": obj.resource_version()}
    });
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    tracing::info!(object = %obj.name_any(), "removed the finalizer: deletion has nothing to do in AWS");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(spec: serde_json::Value) -> PypiRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
            "metadata": {"name": "r", "namespace": "n"}, "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn only_a_managed_delete_needs_a_finalizer() {
        assert!(!needs_finalizer(&obj(
            serde_json::json!({"domain": {"name": "d"}})
        )));
        assert!(needs_finalizer(&obj(
            serde_json::json!({"domain": {"name": "d"}, "deletionPolicy": "Delete"})
        )));
        assert!(!needs_finalizer(&obj(
            serde_json::json!({"domain": {"name": "d"}, "mode": "Consume"})
        )));
    }
}
