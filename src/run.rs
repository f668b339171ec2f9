//! `codeartifact-operator run`: builds the clients, optionally waits for
//! leadership, and runs the controller next to the HTTP endpoints.

use std::sync::Arc;

use kube::api::ListParams;
use kube::{Api, Client};
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;

use crate::aws::Clients;
use crate::config::{RunArgs, Tenancy};
use crate::controller::backoff::BackoffConfig;
use crate::controller::{self, Context, ControllerConfig};
use crate::crd::{CodeArtifactDomain, PypiRepository};
use crate::metrics::Metrics;

/// Why the operator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot reach Kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// The CRD is missing or not readable with the operator's RBAC.
    #[error(
        "cannot list PypiRepositories ({0}); is the CRD installed (`codeartifact-operator crd | kubectl apply -f -`) and does the operator's RBAC allow it?"
    )]
    CrdMissing(kube::Error),
    /// Strict tenancy needs the CodeArtifactDomain CRD and cluster-wide read access to it and to Namespaces.
    #[error(
        "cannot list {what} ({source}); --tenancy=strict needs the CodeArtifactDomain CRD and RBAC to get/list/watch codeartifactdomains and namespaces (the chart grants both)"
    )]
    TenancyCaches {
        /// What could not be listed.
        what: &'static str,
        /// Why.
        source: kube::Error,
    },
    /// No AWS region.
    #[error(transparent)]
    Aws(#[from] crate::aws::MissingRegion),
    /// Leader election failed.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    /// The HTTP endpoints could not be served.
    #[error("HTTP endpoints: {0}")]
    Http(#[from] std::io::Error),
    /// Leadership was lost; the process exits so a restart rejoins the election cleanly.
    #[error("lost the leader Lease")]
    LostLease,
}

/// Runs until a signal or a fatal error.
pub async fn run(args: RunArgs) -> Result<(), StartError> {
    let client = Client::try_default().await?;
    let metrics = Arc::new(Metrics::new());
    let (ready_tx, ready_rx) = watch::channel(false);
    let http = tokio::spawn(crate::http::serve(args.listen, metrics.clone(), ready_rx));
    check_crd(&client, &args).await?;
    let domains = check_tenancy(&client, args.tenancy).await?;
    let aws = Clients::from_env(args.codeartifact_endpoint.as_deref(), metrics.clone()).await?;
    tracing::info!(region = aws.region(), cluster = %args.cluster_name, namespaces = ?args.namespaces(), "starting controller");
    let config = ControllerConfig {
        cluster_name: args.cluster_name.clone(),
        resync: args.resync_interval,
        backoff: BackoffConfig {
            base: args.backoff_base,
            max: args.backoff_max,
        },
        namespaces: args.namespaces(),
        reporter: "codeartifact-operator".into(),
        instance: args.instance.clone(),
        concurrency: args.max_concurrent_reconciles,
        tenancy: args.tenancy,
        domain_selector: args.domain_selector.clone(),
    };
    let ctx = Arc::new(Context::new(client.clone(), aws, metrics, config));
    let leadership = if args.leader_elect {
        // A standby is Ready: healthy and in the election. Otherwise a
        // Deployment with a standby never counts as available and a rolling
        // update never proceeds. Once leading, Ready waits for the caches.
        ready_tx.send_replace(true);
        let lease = acquire_lease(&client, &args).await?;
        ready_tx.send_replace(false);
        Some(lease)
    } else {
        None
    };
    if domains {
        tokio::spawn(crate::domain::run(ctx.clone()));
    }
    tokio::select! {
        () = controller::run(ctx, ready_tx) => Ok(()),
        res = http => Err(StartError::Http(res.unwrap_or_else(|e| Err(std::io::Error::other(e))).err().unwrap_or_else(|| std::io::Error::other("HTTP server stopped")))),
        () = lost(leadership) => Err(StartError::LostLease),
    }
}

async fn check_crd(client: &Client, args: &RunArgs) -> Result<(), StartError> {
    let namespaces = args.namespaces();
    let api: Api<PypiRepository> = match namespaces.first() {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    api.list_metadata(&ListParams::default().limit(1))
        .await
        .map_err(StartError::CrdMissing)?;
    Ok(())
}

/// Strict tenancy needs the CodeArtifactDomain and Namespace caches; open
/// tenancy runs the CodeArtifactDomain controller only when its CRD is
/// there. Returns whether to run it.
async fn check_tenancy(client: &Client, tenancy: Tenancy) -> Result<bool, StartError> {
    let domains: Api<CodeArtifactDomain> = Api::all(client.clone());
    let listed = domains.list_metadata(&ListParams::default().limit(1)).await;
    match tenancy {
        Tenancy::Strict => {
            listed.map_err(|source| StartError::TenancyCaches {
                what: "CodeArtifactDomains",
                source,
            })?;
            let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
            namespaces
                .list_metadata(&ListParams::default().limit(1))
                .await
                .map_err(|source| StartError::TenancyCaches {
                    what: "Namespaces",
                    source,
                })?;
            Ok(true)
        }
        Tenancy::Open => {
            tracing::warn!(
                "--tenancy=open: every namespace that can create a PypiRepository may create domains and adopt or change any repository, and shares tokens with everyone; use it only on single-team clusters"
            );
            if let Err(e) = &listed {
                tracing::warn!(error = %e, "CodeArtifactDomains are not available; their controller does not run");
            }
            Ok(listed.is_ok())
        }
    }
}

/// Blocks until this replica holds the Lease; returns the channel that tells when it stops holding it.
async fn acquire_lease(
    client: &Client,
    args: &RunArgs,
) -> Result<watch::Receiver<bool>, StartError> {
    let identity = args
        .instance
        .clone()
        .unwrap_or_else(|| format!("codeartifact-operator-{}", std::process::id()));
    let duration = args.lease_duration_seconds.max(2);
    let manager = LeaseManagerBuilder::new(client.clone(), &args.lease_name)
        .with_namespace(&args.lease_namespace)
        .with_identity(&identity)
        .with_duration(duration)
        // Renew well before expiry so a slow API server does not cost the lease.
        .with_grace((duration / 3).max(1))
        .build()
        .await?;
    let (mut leader, _task) = manager.watch().await;
    tracing::info!(lease = %args.lease_name, identity, "waiting to become leader");
    while !*leader.borrow_and_update() {
        if leader.changed().await.is_err() {
            return Err(StartError::LostLease);
        }
    }
    tracing::info!(identity, "became leader");
    Ok(leader)
}

/// Completes when leadership is lost; never, without leader election.
async fn lost(leadership: Option<watch::Receiver<bool>>) {
    let Some(mut leader) = leadership else {
        return std::future::pending().await;
    };
    while *leader.borrow_and_update() {
        if leader.changed().await.is_err() {
            break;
        }
    }
    tracing::error!("lost leadership; exiting");
}
