//! The CodeArtifactDomain controller: creates or uses the domain per its
//! mode, keeps its tags, reports it in status, and deletes it only as its
//! policy allows (empty, and created by this cluster). It shares the
//! PypiRepository controller's clients and settings.

mod group_plan;
mod package_groups;
mod report;
mod sync;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::Event;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};

use crate::controller::Context;
use crate::controller::backoff::{self, Attempts};
use crate::controller::finalize::with_finalizer_if;
use crate::crd::{CodeArtifactDomain, DeletionPolicy, DomainMode};
use crate::error::{Error, Result, RetryClass};
use report::{report_failure, write_status};

/// What the domain reconciles share.
pub struct DomainContext {
    /// The operator's context (clients, settings).
    pub ctx: Arc<Context>,
    /// Failures per CodeArtifactDomain, for backoff.
    pub attempts: Attempts,
}

/// Whether deleting the object has work to do in AWS.
pub fn needs_finalizer(cad: &CodeArtifactDomain) -> bool {
    cad.spec.mode == DomainMode::Manage && cad.spec.deletion_policy == DeletionPolicy::Delete
}

fn spec_or_lifecycle_change(obj: &CodeArtifactDomain) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.metadata.generation.hash(&mut h);
    obj.metadata.deletion_timestamp.is_some().hash(&mut h);
    obj.finalizers().hash(&mut h);
    Some(h.finish())
}

/// Runs the CodeArtifactDomain controller until shutdown.
pub async fn run(ctx: Arc<Context>) {
    let api: Api<CodeArtifactDomain> = Api::all(ctx.client.clone());
    let (reader, writer) = reflector::store();
    let trigger = watcher(api, ctx.config.domain_watch().any_semantic())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_lifecycle_change, Default::default());
    let dctx = Arc::new(DomainContext {
        ctx,
        attempts: Attempts::default(),
    });
    Controller::for_stream(trigger, reader)
        .shutdown_on_signal()
        .run(reconcile, error_policy, dctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "domain reconcile loop reported an error");
            }
        })
        .await;
}

/// Reconciles one CodeArtifactDomain.
#[tracing::instrument(skip_all, fields(cadomain = %obj.name_any()))]
pub async fn reconcile(obj: Arc<CodeArtifactDomain>, dctx: Arc<DomainContext>) -> Result<Action> {
    let api: Api<CodeArtifactDomain> = Api::all(dctx.ctx.client.clone());
    let needed = needs_finalizer(&obj);
    let key = obj.uid().unwrap_or_default();
    let action = with_finalizer_if(&api, obj, needed, |event| async {
        let (o, result) = match event {
            Event::Apply(o) => {
                let r = sync::apply(&o, &dctx.ctx).await;
                (o, r)
            }
            Event::Cleanup(o) => {
                let r = sync::cleanup(&o, &dctx.ctx).await;
                (o, r)
            }
        };
        match result {
            Ok((status, action)) => {
                write_status(&dctx.ctx, &o, status).await?;
                Ok(action)
            }
            Err(e) => {
                report_failure(&dctx.ctx, &o, &e).await;
                Err(e)
            }
        }
    })
    .await?;
    dctx.attempts.succeeded(&key);
    Ok(action)
}

fn error_policy(obj: Arc<CodeArtifactDomain>, err: &Error, dctx: Arc<DomainContext>) -> Action {
    let class = err.retry_class();
    if class == RetryClass::Permanent {
        return Action::await_change();
    }
    let attempt = dctx.attempts.failed(&obj.uid().unwrap_or_default());
    let delay = backoff::jitter(
        backoff::delay(dctx.ctx.config.backoff, class, attempt),
        rand::random::<f64>(),
    );
    tracing::warn!(cadomain = %obj.name_any(), error = %err.report(), attempt, "domain reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn cad(spec: serde_json::Value) -> CodeArtifactDomain {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "CodeArtifactDomain",
            "metadata": {"name": "acme", "generation": 2}, "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn only_a_managed_delete_holds_a_finalizer() {
        assert!(!needs_finalizer(&cad(serde_json::json!({}))));
        assert!(needs_finalizer(&cad(
            serde_json::json!({"deletionPolicy": "Delete"})
        )));
        assert!(!needs_finalizer(&cad(serde_json::json!({"mode": "Use"}))));
    }

    #[test]
    fn ready_status_reports_arn_owner_and_count() {
        let domain = crate::aws::Domain {
            name: "acme".into(),
            owner: "111122223333".into(),
            arn: "arn:aws:codeartifact:us-west-2:111122223333:domain/acme".into(),
            repository_count: 3,
        };
        let o = cad(serde_json::json!({"tags": {"team": "platform"}}));
        let st = report::ready_status(&o, &domain, true, Utc::now());
        assert_eq!(st.repository_count, Some(3));
        assert_eq!(st.owner.as_deref(), Some("111122223333"));
        assert_eq!(st.applied_tag_keys, vec!["team".to_string()]);
        assert_eq!(st.observed_generation, Some(2));
        assert_eq!(st.conditions[0].status, "True");
        let mut with_groups = st.clone();
        let group = crate::crd::PackageGroupStatus {
            pattern: "/pypi//acme~".into(),
            arn: "arn:aws:codeartifact:us-west-2:111122223333:package-group/acme/pypi//acme~"
                .into(),
            created_by_operator: true,
        };
        report::with_package_groups(&mut with_groups, &o, vec![group], Utc::now());
        assert_eq!(with_groups.package_groups.len(), 1);
        assert!(
            with_groups.conditions[0]
                .message
                .contains("1 package groups are as declared")
        );
        let used = cad(serde_json::json!({"mode": "Use"}));
        assert!(
            report::ready_status(&used, &domain, false, Utc::now())
                .applied_tag_keys
                .is_empty()
        );
    }
}
