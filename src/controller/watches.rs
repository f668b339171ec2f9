//! What wakes the PypiRepository controller: its objects (spec, deletion and
//! finalizer changes only), changes to its Secrets by others, and, under strict tenancy, changes to
//! CodeArtifactDomains (only what their PypiRepositories depend on, see
//! `wake`) and to namespace labels, which requeue exactly the objects they
//! affect. The tenancy caches are written before a change is
//! passed on, so a reconcile it wakes always sees the new rules.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::{broadcast, mpsc, watch};

use super::context::{Context, TenancyCaches};
use super::reconcile::reconcile;
use super::retry::error_policy;
use super::wake::DomainWakes;
use super::{finalize, report, status};
use crate::config::Tenancy;
use crate::crd::{CodeArtifactDomain, EventReason, PypiRepository, RepositoryMode};

/// A change that may alter what some PypiRepositories are allowed.
#[derive(Clone, Debug)]
enum Change {
    /// A CodeArtifactDomain for this CodeArtifact domain name changed or went.
    Domain(String),
    /// This namespace's labels changed.
    Namespace(String),
    /// Changes were missed: look at everything.
    All,
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

/// What the caches never need, dropped before an object enters them:
/// `managedFields` (per field manager, a tree of every field it set: the
/// largest part of a small object) and kubectl's copy of the whole last
/// applied object.
fn slim(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

/// kubectl's client-side apply annotation.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Runs the controller until shutdown. `ready` turns true once every watched
/// namespace's cache (and, under strict tenancy, the tenancy caches) synced.
pub async fn run(ctx: Arc<Context>, ready: watch::Sender<bool>) {
    let namespaces: Vec<Option<String>> = if ctx.config.namespaces.is_empty() {
        vec![None]
    } else {
        ctx.config.namespaces.iter().cloned().map(Some).collect()
    };
    let (changes, _) = broadcast::channel::<Change>(4096);
    let strict = ctx.config.tenancy == Tenancy::Strict;
    let mut ready_checks: Vec<BoxFuture<'static, ()>> = Vec::new();
    if strict {
        // No reconcile may run on empty tenancy caches: it would find no rule
        // and strip every Secret of its credentials after a restart.
        let caches = tenancy_caches(&ctx, changes.clone());
        wait_ready(&caches.domains).await;
        wait_ready(&caches.namespaces).await;
        let _ = ctx.caches.set(caches);
        tracing::info!("CodeArtifactDomain and Namespace caches synced");
    }
    let mut controllers = Vec::new();
    for ns in namespaces {
        let (controller, synced) = controller_for(&ctx, ns.as_deref(), strict.then_some(&changes));
        controllers.push(controller);
        ready_checks.push(synced);
    }
    tokio::spawn(async move {
        for check in ready_checks {
            check.await;
        }
        let _ = ready.send(true);
        tracing::info!("caches synced; controller ready");
    });
    futures::future::join_all(controllers).await;
}

/// The controller of one namespace (`None`: the whole cluster), and a future
/// that resolves once its cache has synced. `changes` (strict tenancy only)
/// wakes the objects a CodeArtifactDomain or Namespace change affects.
fn controller_for(
    ctx: &Arc<Context>,
    ns: Option<&str>,
    changes: Option<&broadcast::Sender<Change>>,
) -> (BoxFuture<'static, ()>, BoxFuture<'static, ()>) {
    let (api, secrets): (Api<PypiRepository>, Api<PartialObjectMeta<Secret>>) = match ns {
        Some(ns) => (
            Api::namespaced(ctx.client.clone(), ns),
            Api::namespaced(ctx.client.clone(), ns),
        ),
        None => (Api::all(ctx.client.clone()), Api::all(ctx.client.clone())),
    };
    let (reader, writer) = reflector::store();
    let (gone_tx, gone_rx) = mpsc::unbounded_channel();
    let trigger = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(|o: &mut PypiRepository| {
            slim(&mut o.metadata);
            if let Some(st) = o.status.as_mut() {
                status::slim(st);
            }
        })
        .reflect(writer)
        .inspect(move |ev| {
            if let Ok(watcher::Event::Delete(obj)) = ev {
                let _ = gone_tx.send(obj.clone());
            }
        })
        .applied_objects()
        .predicate_filter(spec_or_lifecycle_change, Default::default());
    tokio::spawn(released(ctx.clone(), gone_rx));
    let store = reader.clone();
    let synced: BoxFuture<'static, ()> = Box::pin(async move { wait_ready(&store).await });
    // Only the operator's own Secrets matter, and only their owner references:
    // a label-selected metadata watch never holds token data in memory.
    let secret_watch =
        watcher::Config::default().labels("app.kubernetes.io/managed-by=codeartifact-operator");
    let echo = ctx.clone();
    let relist = ctx.clone();
    let secret_events = watcher(secrets, secret_watch)
        .default_backoff()
        .inspect(move |ev| {
            if let Ok(watcher::Event::Init) = ev {
                relist.states.secrets_relisted();
            }
        })
        .touched_objects()
        .try_filter(move |s| futures::future::ready(!echo.states.secret_event(s)));
    let mut controller = Controller::for_stream(trigger, reader.clone())
        .owns_stream(secret_events)
        .with_config(controller::Config::default().concurrency(ctx.config.concurrency));
    if let Some(changes) = changes {
        controller = controller.reconcile_on(affected(changes.subscribe(), reader));
    }
    let controller = controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "reconcile loop reported an error");
            }
        });
    (Box::pin(controller), synced)
}

/// Waits until a store has its first full list.
async fn wait_ready<K>(store: &Store<K>)
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    // NB: the store's readiness signal wakes only the last task that
    // polled it, and the controller's applier waits on it too; polling
    // again every 200 ms picks the result up once it is there.
    while tokio::time::timeout(Duration::from_millis(200), store.wait_until_ready())
        .await
        .is_err()
    {}
}

/// Starts the CodeArtifactDomain and Namespace watches that strict tenancy
/// decides from; each change is announced after the cache holds it.
fn tenancy_caches(ctx: &Context, changes: broadcast::Sender<Change>) -> TenancyCaches {
    let (domains, domain_writer) = reflector::store::<CodeArtifactDomain>();
    let api: Api<CodeArtifactDomain> = Api::all(ctx.client.clone());
    let tx = changes.clone();
    let mut wakes = DomainWakes::default();
    let domain_events = watcher(api, ctx.config.domain_watch())
        .default_backoff()
        .modify(|d: &mut CodeArtifactDomain| slim(&mut d.metadata))
        .reflect(domain_writer)
        .for_each(move |ev| {
            match ev {
                Ok(watcher::Event::Apply(d)) if wakes.applied(&d) => {
                    let _ = tx.send(Change::Domain(d.domain_name()));
                }
                Ok(watcher::Event::Delete(d)) => {
                    wakes.deleted(&d);
                    let _ = tx.send(Change::Domain(d.domain_name()));
                }
                Ok(watcher::Event::InitApply(d)) => wakes.seen(&d),
                Ok(watcher::Event::InitDone) => {
                    let _ = tx.send(Change::All);
                }
                _ => {}
            }
            futures::future::ready(())
        });
    tokio::spawn(domain_events);
    let (namespaces, ns_writer) = reflector::store::<PartialObjectMeta<Namespace>>();
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(ctx.client.clone());
    let mut seen: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let ns_events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|n: &mut PartialObjectMeta<Namespace>| {
            slim(&mut n.metadata);
            // Only labels decide admission.
            n.metadata.annotations = None;
        })
        .reflect(ns_writer)
        .for_each(move |ev| {
            if let Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) = &ev {
                let name = n.name_any();
                let labels = n.labels().clone();
                if seen.get(&name) != Some(&labels) {
                    seen.insert(name.clone(), labels);
                    let _ = changes.send(Change::Namespace(name));
                }
            }
            futures::future::ready(())
        });
    tokio::spawn(ns_events);
    TenancyCaches {
        domains,
        namespaces,
    }
}

/// The PypiRepositories in `store` that a change may affect.
fn affected(
    rx: broadcast::Receiver<Change>,
    store: Store<PypiRepository>,
) -> impl Stream<Item = ObjectRef<PypiRepository>> + Send + 'static {
    let changes = stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(c) => Some((c, rx)),
            Err(broadcast::error::RecvError::Lagged(_)) => Some((Change::All, rx)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    changes.flat_map(move |change| {
        let refs: Vec<ObjectRef<PypiRepository>> = store
            .state()
            .iter()
            .filter(|o| match &change {
                Change::Domain(name) => o.spec.domain.name == *name,
                Change::Namespace(ns) => o.namespace().as_deref() == Some(ns.as_str()),
                Change::All => true,
            })
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect();
        stream::iter(refs)
    })
}

/// Objects deleted without the finalizer never reach a reconcile: forget
/// them here, and say what happened in CodeArtifact (nothing).
async fn released(ctx: Arc<Context>, mut gone: mpsc::UnboundedReceiver<PypiRepository>) {
    while let Some(obj) = gone.recv().await {
        ctx.forget(&obj);
        // The deleted object's last state has no finalizers left, so the
        // policy tells whether the finalizer (and its Events) handled it.
        if finalize::needs_finalizer(&obj) {
            continue;
        }
        let (reason, note) = match obj.spec.mode {
            RepositoryMode::Consume => (
                EventReason::Released,
                format!(
                    "Consumer deleted; repository {} in CodeArtifact is untouched",
                    obj.repository_name()
                ),
            ),
            RepositoryMode::Manage => (
                EventReason::Retained,
                format!(
                    "deletionPolicy Retain: repository {} and domain {} stay in CodeArtifact",
                    obj.repository_name(),
                    obj.spec.domain.name
                ),
            ),
        };
        report::normal(&ctx, &obj, reason, "Delete", note).await;
    }
}
