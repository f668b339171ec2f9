//! What every reconcile shares: the controller's settings, its clients,
//! the token cache, per-object state and strict tenancy's caches.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};

use super::backoff::BackoffConfig;
use super::backoff::until;
use super::state::{States, Uid};
use super::tenancy::{self, Admission};
use crate::aws::{Clients, Domain};
use crate::config::Tenancy;
use crate::crd::{CodeArtifactDomain, PypiRepository};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::token::TokenCache;

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
    /// At most this many reconciles run at once in the whole operator,
    /// whatever the number of watched namespaces (0: no limit).
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
    /// Publishes Events on PypiRepositories. It keeps each Event for six
    /// minutes, so that a repeated one (a retried failure) becomes a series
    /// instead of a new Event.
    pub recorder: Recorder,
    /// Settings.
    pub config: ControllerConfig,
    /// What the controller remembers of each object.
    pub states: States,
    /// Domains known to exist, by name and spec owner.
    pub domains: Mutex<HashMap<(String, Option<String>), DomainSlot>>,
    /// Strict tenancy's caches, set once the watches start.
    pub caches: std::sync::OnceLock<TenancyCaches>,
    /// The operator-wide reconcile slots (`None`: no limit). Each watched
    /// namespace has its own kube-runtime Controller, whose own limit would
    /// multiply with the number of namespaces; every reconcile takes a slot
    /// here, so memory and sockets stay bounded by one figure.
    slots: Slots,
}

/// Reconcile slots shared by the whole operator (`None`: no limit).
pub struct Slots(Option<tokio::sync::Semaphore>);

impl Slots {
    /// `limit` slots; 0 means no limit.
    pub fn new(limit: u16) -> Self {
        Self((limit > 0).then(|| tokio::sync::Semaphore::new(usize::from(limit))))
    }

    /// Waits for a free slot; it is held until the permit is dropped.
    pub async fn take(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so acquiring cannot fail.
        self.0.as_ref()?.acquire().await.ok()
    }
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
            states: States::default(),
            domains: Mutex::new(HashMap::new()),
            caches: std::sync::OnceLock::new(),
            slots: Slots::new(config.concurrency),
            config,
        }
    }

    /// Waits for one of the operator-wide reconcile slots; it is held until
    /// the returned permit is dropped.
    pub async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.slots.take().await
    }

    /// A recorder for an Event that happens once per object (created,
    /// deleted, retained): nothing to aggregate, so it is not kept. The
    /// shared recorder keeps every Event it published for six minutes and
    /// scans them all on each publish, which for a drain of thousands of
    /// objects costs memory and time for nothing.
    pub fn one_off_recorder(&self) -> Recorder {
        let reporter = Reporter {
            controller: self.config.reporter.clone(),
            instance: self.config.instance.clone(),
        };
        Recorder::new(self.client.clone(), reporter)
    }

    /// Records when the token in `uid`'s Secret must next be replaced.
    pub fn note_token_due(&self, uid: &Uid, at: DateTime<Utc>) {
        self.states.update(uid, |s| s.token_due = Some(at));
    }

    /// How long until the token in `uid`'s Secret must be replaced, if that is still ahead.
    pub(super) fn until_token_due(&self, uid: &Uid, now: DateTime<Utc>) -> Option<Duration> {
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
            .newer_status(&Uid::of(obj.as_ref()), obj.status.as_ref());
        match written {
            Some(status) => {
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

    /// Forgets per-object state of a PypiRepository that is gone.
    pub fn forget(&self, obj: &PypiRepository) {
        self.states.forget(&Uid::of(obj));
        self.metrics
            .forget(&obj.namespace().unwrap_or_default(), &obj.name_any());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_limit_holds_across_every_namespace() {
        let slots = Arc::new(Slots::new(2));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // Three namespaces' controllers, each trying four reconciles at once.
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    let _slot = slots.take().await;
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert!(Slots::new(0).take().await.is_none(), "0: no limit");
    }
}
