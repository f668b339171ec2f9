//! The PypiRepository controller: shared context, the watch set-up, and the
//! error policy. The reconcile steps live in the submodules.

mod apply;
pub mod backoff;
mod cleanup;
mod credentials;
mod desired;
mod domains;
pub mod finalize;
pub mod ownership;
mod reconcile;
pub mod remote;
mod report;
mod repository;
pub mod state;
mod status;
pub mod tenancy;
mod watches;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};

use crate::aws::{Clients, Domain};
use crate::config::Tenancy;
use crate::crd::{CodeArtifactDomain, PypiRepository};
use crate::error::{Error, Result, RetryClass};
use crate::metrics::Metrics;
use crate::token::TokenCache;
use backoff::BackoffConfig;
use state::{States, Uid};
use tenancy::Admission;

pub use watches::run;

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
    /// Strict (access rules decide) or open (anything goes, single team).
    pub tenancy: Tenancy,
    /// Label selector for the CodeArtifactDomains this operator serves; empty: all.
    pub domain_selector: String,
}

impl ControllerConfig {
    /// The watch configuration for CodeArtifactDomains.
    pub fn domain_watch(&self) -> kube::runtime::watcher::Config {
        let config = kube::runtime::watcher::Config::default();
        if self.domain_selector.is_empty() {
            config
        } else {
            config.labels(&self.domain_selector)
        }
    }
}

/// A domain known to exist, shared by the reconciles of its repositories.
pub type DomainSlot = Arc<tokio::sync::Mutex<Option<Domain>>>;

/// The caches strict tenancy decides from, filled by the watches.
pub struct TenancyCaches {
    /// Every CodeArtifactDomain.
    pub domains: Store<CodeArtifactDomain>,
    /// Every Namespace's metadata (for labels).
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
}

/// Everything a reconcile needs.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// CodeArtifact clients, one per identity (the operator's own or a role).
    pub aws: Clients,
    /// Domain tokens shared between PypiRepositories.
    pub tokens: TokenCache,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on PypiRepositories.
    pub recorder: Recorder,
    /// Settings.
    pub config: ControllerConfig,
    /// What the controller remembers of each object.
    pub states: States,
    /// Domains known to exist, by name and spec owner.
    pub domains: Mutex<HashMap<(String, Option<String>), DomainSlot>>,
    /// Strict tenancy's caches, set once the watches start.
    pub caches: std::sync::OnceLock<TenancyCaches>,
}

impl Context {
    /// Builds the context.
    pub fn new(
        client: Client,
        aws: Clients,
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
            states: States::default(),
            domains: Mutex::new(HashMap::new()),
            caches: std::sync::OnceLock::new(),
        }
    }

    /// Records when the token in `uid`'s Secret must next be replaced.
    pub fn note_token_due(&self, uid: &Uid, at: DateTime<Utc>) {
        self.states.update(uid, |s| s.token_due = Some(at));
    }

    /// How long until the token in `uid`'s Secret must be replaced, if that is still ahead.
    fn until_token_due(&self, uid: &Uid, now: DateTime<Utc>) -> Option<Duration> {
        until(self.states.read(uid, |s| s.token_due)?, now)
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
        let written = self
            .states
            .read(&Uid::of(obj.as_ref()), |s| s.written.clone());
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

    /// Strict tenancy's verdict on `obj` (`None` with `--tenancy=open`), from
    /// the watch caches only.
    pub fn admission(&self, obj: &PypiRepository) -> Result<Option<Admission>> {
        if self.config.tenancy == Tenancy::Open {
            return Ok(None);
        }
        let Some(caches) = self.caches.get() else {
            return Err(Error::NotPermitted(
                "the operator has not loaded CodeArtifactDomains yet".into(),
            ));
        };
        let namespace = obj.namespace().unwrap_or_default();
        let labels: BTreeMap<String, String> = caches
            .namespaces
            .get(&ObjectRef::new(&namespace))
            .map(|n| n.labels().clone())
            .unwrap_or_default();
        tenancy::admit(obj, &caches.domains.state(), &labels).map(Some)
    }
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
    let key = Uid::of(obj.as_ref());
    let attempt = ctx.states.update(&key, |s| {
        s.attempts += 1;
        s.attempts
    });
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
    ctx.states.forget(&Uid::of(obj));
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
