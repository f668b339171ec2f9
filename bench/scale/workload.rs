//! The PypiRepositories under test: which ones (the fleet), creating and
//! deleting them, and watches that timestamp when each became Ready, which
//! token its Secret holds, and when it was gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};

use codeartifact_operator::crd::PypiRepository;
use codeartifact_operator::secret::ANNOTATION_EXPIRES_AT as EXPIRES_AT;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;

use crate::cluster::BENCH_LABEL;

/// Creates and deletes in flight at once: like a few `kubectl apply`
/// pipelines, without letting the client side set the pace.
pub const CLIENT_CONCURRENCY: usize = 8;

/// One PypiRepository: `pkg-<namespace index>-<index>` in `bench-<namespace index>`.
#[derive(Clone, Debug)]
pub struct Item {
    pub namespace: String,
    pub name: String,
    pub domain: String,
}

impl Item {
    /// `namespace/name`, the tracker's key.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Every PypiRepository of the run: `namespaces` × `per_namespace`, the
/// domains assigned round-robin so each gets the same share. Names are
/// unique across namespaces because a domain's repositories must be.
pub struct Fleet {
    pub items: Vec<Item>,
    pub namespaces: Vec<String>,
    pub domains: Vec<String>,
    /// The domains whose tokens are repository-scoped (IAM mode: every
    /// second one), minted through a role.
    pub scoped: Vec<String>,
}

impl Fleet {
    pub fn new(namespaces: usize, per_namespace: usize, domains: usize, iam: bool) -> Self {
        let ns_names: Vec<String> = (0..namespaces).map(|i| format!("bench-{i:03}")).collect();
        let domains: Vec<String> = (0..domains).map(|i| format!("bench-dom-{i:02}")).collect();
        let items = (0..namespaces * per_namespace)
            .map(|k| Item {
                namespace: ns_names[k / per_namespace].clone(),
                name: format!("pkg-{:03}-{:02}", k / per_namespace, k % per_namespace),
                domain: domains[k % domains.len()].clone(),
            })
            .collect();
        let scoped = if iam {
            domains.iter().skip(1).step_by(2).cloned().collect()
        } else {
            Vec::new()
        };
        Self {
            items,
            namespaces: ns_names,
            domains,
            scoped,
        }
    }

    /// GetAuthorizationToken calls one refresh cycle needs: one per
    /// domain-scoped domain, one per object of a repository-scoped domain.
    pub fn tokens_per_cycle(&self) -> u64 {
        let repository_scoped = self
            .items
            .iter()
            .filter(|i| self.scoped.contains(&i.domain))
            .count();
        (self.domains.len() - self.scoped.len() + repository_scoped) as u64
    }
}

fn manifest(item: &Item, token_seconds: i64) -> Result<PypiRepository> {
    let spec = serde_json::from_value(serde_json::json!({
        "domain": { "name": item.domain },
        "deletionPolicy": "Delete",
        "token": { "durationSeconds": token_seconds },
    }))?;
    let mut obj = PypiRepository::new(&item.name, spec);
    obj.metadata.namespace = Some(item.namespace.clone());
    obj.metadata.labels = Some([(BENCH_LABEL.0.to_string(), BENCH_LABEL.1.to_string())].into());
    Ok(obj)
}

/// Creates every item; returns when each create request was sent.
pub async fn create_all(
    client: &Client,
    fleet: &Fleet,
    token_seconds: i64,
) -> Result<HashMap<String, Instant>> {
    futures::stream::iter(&fleet.items)
        .map(|item| async move {
            let api: Api<PypiRepository> = Api::namespaced(client.clone(), &item.namespace);
            let obj = manifest(item, token_seconds)?;
            let sent = Instant::now();
            api.create(&PostParams::default(), &obj)
                .await
                .with_context(|| format!("creating {}", item.key()))?;
            Ok::<_, anyhow::Error>((item.key(), sent))
        })
        .buffer_unordered(CLIENT_CONCURRENCY)
        .try_collect()
        .await
}

/// Deletes every item (the finalizer then holds each until the operator is done).
pub async fn delete_all(client: &Client, fleet: &Fleet) -> Result<()> {
    futures::stream::iter(&fleet.items)
        .map(|item| async move {
            let api: Api<PypiRepository> = Api::namespaced(client.clone(), &item.namespace);
            api.delete(&item.name, &DeleteParams::default())
                .await
                .with_context(|| format!("deleting {}", item.key()))?;
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(CLIENT_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// What the watch saw of one PypiRepository.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// First moment with Ready=True for the current generation.
    pub ready_at: Option<Instant>,
    /// The expiry of the token in its Secret (annotation), as last seen.
    pub token_expires_at: Option<String>,
    /// When the watch reported it deleted.
    pub gone_at: Option<Instant>,
}

/// A watch on every benchmark PypiRepository, recording [`Seen`] per key.
pub struct Tracker {
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for Tracker {
    /// Stops the watches before the control plane goes away.
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Tracker {
    /// Starts watching; objects created from now on are seen.
    pub fn spawn(client: Client) -> Self {
        let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
        let secrets = tokio::spawn(watch_secrets(client.clone(), seen.clone()));
        let state = seen.clone();
        let api: Api<PypiRepository> = Api::all(client);
        let selector = format!("{}={}", BENCH_LABEL.0, BENCH_LABEL.1);
        let task = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default().labels(&selector))
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                let now = Instant::now();
                let mut seen = state.lock().expect("tracker lock");
                match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        observe(&mut seen, &o, now)
                    }
                    Ok(watcher::Event::Delete(o)) => {
                        seen.entry(key_of(&o))
                            .or_default()
                            .gone_at
                            .get_or_insert(now);
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("bench: watch error (retrying): {e}"),
                }
            }
        });
        Self {
            seen,
            tasks: [task, secrets],
        }
    }

    /// A copy of what was seen so far.
    pub fn snapshot(&self) -> HashMap<String, Seen> {
        self.seen.lock().expect("tracker lock").clone()
    }

    /// Waits until `done(key, seen)` holds for every item; returns when it
    /// first held. Fails after `timeout`, naming how many were still missing.
    pub async fn wait(
        &self,
        fleet: &Fleet,
        timeout: Duration,
        what: &str,
        done: impl Fn(&str, &Seen) -> bool,
    ) -> Result<Instant> {
        let started = Instant::now();
        loop {
            let missing = {
                let seen = self.seen.lock().expect("tracker lock");
                fleet
                    .items
                    .iter()
                    .filter(|i| !seen.get(&i.key()).is_some_and(|s| done(&i.key(), s)))
                    .count()
            };
            if missing == 0 {
                return Ok(Instant::now());
            }
            if started.elapsed() > timeout {
                bail!(
                    "{missing} of {} PypiRepositories were not {what} after {timeout:?}",
                    fleet.items.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn key_of(o: &PypiRepository) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

fn observe(seen: &mut HashMap<String, Seen>, o: &PypiRepository, now: Instant) {
    let entry = seen.entry(key_of(o)).or_default();
    let Some(status) = &o.status else { return };
    let ready = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    if ready && status.observed_generation == o.metadata.generation {
        entry.ready_at.get_or_insert(now);
    }
}

/// The token's expiry is in the Secret (`<name>-pypi`), not in status: a
/// metadata watch on the operator's Secrets records it per PypiRepository.
async fn watch_secrets(client: Client, seen: Arc<Mutex<HashMap<String, Seen>>>) {
    let api: Api<PartialObjectMeta<Secret>> = Api::all(client);
    let managed = watcher::Config::default().labels(MANAGED_BY);
    let mut events = watcher(api, managed).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) = event else {
            continue;
        };
        let name = s.name_any();
        let Some(owner) = name.strip_suffix("-pypi") else {
            continue;
        };
        let key = format!("{}/{owner}", s.namespace().unwrap_or_default());
        let expires = s.annotations().get(EXPIRES_AT).cloned();
        seen.lock()
            .expect("tracker lock")
            .entry(key)
            .or_default()
            .token_expires_at = expires;
    }
}

/// The label on every Secret the operator writes.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by=codeartifact-operator";
