//! The PypiRepository controller: shared context, the watch set-up, and the
//! error policy. The reconcile steps live in the submodules.

mod apply;
pub mod backoff;
mod cleanup;
mod credentials;
mod desired;
pub mod ownership;
mod reconcile;
mod report;
mod repository;
mod status;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

use crate::aws::{CodeArtifact, Domain};
use crate::crd::{PypiRepository, PypiRepositoryStatus};
use crate::error::{Error, RetryClass};
use crate::metrics::Metrics;
use crate::token::TokenCache;
use backoff::{Attempts, BackoffConfig};

pub use reconcile::reconcile;

/// Settings of the controller, validated at start-up.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Written into ownership tags: which cluster's operator created a resource.
    pub cluster_name: String,
    /// How often every object is compared with CodeArtifact even without changes.
    pub resync: Duration,
    /// Retry delays.
    pub backoff: BackoffConfig,
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// Name used as the Events' reporting controller.
    pub reporter: String,
    /// Pod name or host name, to tell replicas apart in Events.
    pub instance: Option<String>,
    /// At most this many reconciles run at once (0: no limit).
    pub concurrency: u16,
}

/// A domain known to exist, shared by the reconciles of its repositories.
pub type DomainSlot = Arc<tokio::sync::Mutex<Option<Domain>>>;

/// Everything a reconcile needs.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// CodeArtifact client.
    pub aws: CodeArtifact,
    /// Domain tokens shared between PypiRepositories.
    pub tokens: TokenCache,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on PypiRepositories.
    pub recorder: Recorder,
    /// Settings.
    pub config: ControllerConfig,
    /// Failures per object, for backoff.
    pub attempts: Attempts,
    /// The last full comparison with CodeArtifact of each object (by uid).
    /// Kept in memory because the object in the watch cache can lag behind
    /// the status the operator just wrote.
    pub synced: Mutex<HashMap<String, repository::SyncRecord>>,
    /// Domains known to exist, by name and spec owner.
    pub domains: Mutex<HashMap<(String, Option<String>), DomainSlot>>,
    /// When the token in each object's Secret must next be replaced (by uid),
    /// so that an object whose reconciles fail is still retried in time.
    pub token_due: Mutex<HashMap<String, DateTime<Utc>>>,
    /// The status the operator last wrote for each object (by uid). The
    /// operator is the only writer of status, so this is the newest one even
    /// when the watch cache has not caught up; reconciles start from it,
    /// which avoids repeating writes and resetting transition times.
    pub written: Mutex<HashMap<String, PypiRepositoryStatus>>,
}

impl Context {
    /// Builds the context.
    pub fn new(
        client: Client,
        aws: CodeArtifact,
        metrics: Arc<Metrics>,
        config: ControllerConfig,
    ) -> Self {
        let reporter = Reporter {
            controller: config.reporter.clone(),
            instance: config.instance.clone(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            aws,
            tokens: TokenCache::default(),
            metrics,
            config,
            attempts: Attempts::default(),
            synced: Mutex::new(HashMap::new()),
            domains: Mutex::new(HashMap::new()),
            token_due: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Records when the token in `uid`'s Secret must next be replaced.
    pub fn note_token_due(&self, uid: &str, at: DateTime<Utc>) {
        self.token_due
            .lock()
            .expect("token due lock")
            .insert(uid.to_string(), at);
    }

    /// How long until the token in `uid`'s Secret must be replaced, if that is still ahead.
    fn until_token_due(&self, uid: &str, now: DateTime<Utc>) -> Option<Duration> {
        let due = *self.token_due.lock().expect("token due lock").get(uid)?;
        until(due, now)
    }

    /// The cache slot of a domain; holding its lock serialises lookups of that domain.
    pub fn domain_slot(&self, name: &str, owner: Option<&str>) -> DomainSlot {
        let key = (name.to_string(), owner.map(str::to_string));
        self.domains
            .lock()
            .expect("domain cache lock")
            .entry(key)
            .or_default()
            .clone()
    }

    /// The object with the newest status this operator wrote for it.
    pub fn with_latest_status(&self, obj: Arc<PypiRepository>) -> Arc<PypiRepository> {
        let uid = obj.uid().unwrap_or_default();
        let written = self
            .written
            .lock()
            .expect("written lock")
            .get(&uid)
            .cloned();
        match written {
            Some(status) if obj.status.as_ref() != Some(&status) => {
                let mut newer = (*obj).clone();
                newer.status = Some(status);
                Arc::new(newer)
            }
            _ => obj,
        }
    }

    /// Forgets that a domain exists, after it was deleted or went missing.
    pub fn forget_domain(&self, name: &str, owner: Option<&str>) {
        self.domains
            .lock()
            .expect("domain cache lock")
            .remove(&(name.to_string(), owner.map(str::to_string)));
    }
}

/// What a status-only change must not trigger: only spec, deletion and
/// finalizer changes wake the controller (plus owned Secrets, requeues and
/// retries), so writing status never causes another reconcile.
fn spec_or_lifecycle_change(obj: &PypiRepository) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.metadata.generation.hash(&mut h);
    obj.metadata.deletion_timestamp.is_some().hash(&mut h);
    obj.finalizers().hash(&mut h);
    Some(h.finish())
}

/// Runs the controller until shutdown. `ready` turns true once every watched
/// namespace's cache has synced.
pub async fn run(ctx: Arc<Context>, ready: watch::Sender<bool>) {
    let namespaces: Vec<Option<String>> = if ctx.config.namespaces.is_empty() {
        vec![None]
    } else {
        ctx.config.namespaces.iter().cloned().map(Some).collect()
    };
    let mut controllers = Vec::new();
    let mut stores = Vec::new();
    for ns in namespaces {
        let (api, secrets): (Api<PypiRepository>, Api<PartialObjectMeta<Secret>>) = match &ns {
            Some(ns) => (
                Api::namespaced(ctx.client.clone(), ns),
                Api::namespaced(ctx.client.clone(), ns),
            ),
            None => (Api::all(ctx.client.clone()), Api::all(ctx.client.clone())),
        };
        let (reader, writer) = reflector::store();
        let trigger = watcher(api, watcher::Config::default().any_semantic())
            .default_backoff()
            .reflect(writer)
            .applied_objects()
            .predicate_filter(spec_or_lifecycle_change, Default::default());
        stores.push(reader.clone());
        // Only the operator's own Secrets matter, and only their owner references:
        // a label-selected metadata watch never holds token data in memory.
        let secret_watch =
            watcher::Config::default().labels("app.kubernetes.io/managed-by=codeartifact-operator");
        let secret_events = watcher(secrets, secret_watch)
            .default_backoff()
            .touched_objects();
        let controller = Controller::for_stream(trigger, reader)
            .owns_stream(secret_events)
            .with_config(controller::Config::default().concurrency(ctx.config.concurrency))
            .shutdown_on_signal()
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|res| async move {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "reconcile loop reported an error");
                }
            });
        controllers.push(controller);
    }
    tokio::spawn(async move {
        for store in stores {
            // NB: the store's readiness signal wakes only the last task that
            // polled it, and the controller's applier waits on it too; polling
            // again every 200 ms picks the result up once it is there.
            while tokio::time::timeout(Duration::from_millis(200), store.wait_until_ready())
                .await
                .is_err()
            {}
        }
        let _ = ready.send(true);
        tracing::info!("caches synced; controller ready");
    });
    futures::future::join_all(controllers).await;
}

/// Decides when a failed object is retried: transient errors back off
/// quickly, errors that need a fix back off slowly, and a spec that cannot
/// work waits for a change. Either way the object comes back no later than
/// its Secret's token is due, since a failing reconcile still refreshes the
/// token of a repository that exists. Status and the Warning Event were
/// already written by the reconcile itself.
pub fn error_policy(obj: Arc<PypiRepository>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(err.category());
    let class = err.retry_class();
    let key = obj.uid().unwrap_or_default();
    let attempt = ctx.attempts.failed(&key);
    let token_due = ctx.until_token_due(&key, Utc::now());
    if class == RetryClass::Permanent {
        tracing::warn!(object = %obj.name_any(), namespace = obj.namespace().unwrap_or_default(), error = %err.report(), "waiting for a spec change");
        return retry(None, token_due);
    }
    let delay = backoff::jitter(
        backoff::delay(ctx.config.backoff, class, attempt),
        rand::random::<f64>(),
    );
    let delay = token_due.map_or(delay, |due| delay.min(due));
    tracing::warn!(
        object = %obj.name_any(),
        namespace = obj.namespace().unwrap_or_default(),
        error = %err.report(),
        attempt,
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// How long until `due`: at least a second, so that a token due right now
/// cannot cause a busy loop; `None` once it has passed.
fn until(due: DateTime<Utc>, now: DateTime<Utc>) -> Option<Duration> {
    (due - now)
        .to_std()
        .ok()
        .map(|d| d.max(Duration::from_secs(1)))
}

/// After `backoff` (`None`: wait for a spec change), but never later than
/// the Secret's token is due.
fn retry(backoff: Option<Duration>, token_due: Option<Duration>) -> Action {
    match (backoff, token_due) {
        (Some(b), Some(t)) => Action::requeue(b.min(t)),
        (Some(d), None) | (None, Some(d)) => Action::requeue(d),
        (None, None) => Action::await_change(),
    }
}

/// Forgets per-object state of a PypiRepository that is gone.
fn forget(ctx: &Context, obj: &PypiRepository) {
    let uid = obj.uid().unwrap_or_default();
    ctx.attempts.succeeded(&uid);
    ctx.synced.lock().expect("synced lock").remove(&uid);
    ctx.token_due.lock().expect("token due lock").remove(&uid);
    ctx.written.lock().expect("written lock").remove(&uid);
    ctx.metrics
        .forget(&obj.namespace().unwrap_or_default(), &obj.name_any());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_object_is_retried_no_later_than_its_token_is_due() {
        let (s, min) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(
            retry(None, None),
            Action::await_change(),
            "nothing due: wait for a spec change"
        );
        assert_eq!(
            retry(None, Some(min)),
            Action::requeue(min),
            "a spec error still comes back for the token"
        );
        assert_eq!(
            retry(Some(5 * min), Some(min)),
            Action::requeue(min),
            "a long backoff is cut short"
        );
        assert_eq!(retry(Some(s), Some(min)), Action::requeue(s));
    }

    #[test]
    fn a_token_due_now_waits_a_second_and_a_past_one_does_not_count() {
        let now = Utc::now();
        assert_eq!(
            until(now + chrono::TimeDelta::milliseconds(100), now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            until(now + chrono::TimeDelta::minutes(10), now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(until(now - chrono::TimeDelta::seconds(1), now), None);
    }
}
