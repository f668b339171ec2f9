//! Step 2 of a reconcile: make CodeArtifact match the spec. Creates what is
//! missing, adopts what exists, and corrects drift; between resyncs it trusts
//! the status and makes no AWS call at all.

use std::time::Instant;

use kube::ResourceExt;

use super::desired::Desired;
use super::ownership::{domain_marker, owns_repository, repository_marker, tag_changes};
use super::{Context, report};
use crate::aws::{AwsError, AwsErrorKind, Domain, PUBLIC_PYPI, Repository, RepositorySettings};
use crate::crd::PypiRepository;
use crate::error::{Error, Result};

/// What CodeArtifact holds for one PypiRepository, as status reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Remote {
    /// Domain ARN.
    pub domain_arn: String,
    /// Domain owner account.
    pub domain_owner: String,
    /// Repository ARN.
    pub repository_arn: String,
    /// PyPI endpoint of the repository.
    pub endpoint: String,
    /// Keys of spec.tags applied to the repository.
    pub applied_tag_keys: Vec<String>,
}

/// The outcome of the last full sync of one object.
#[derive(Clone, Debug)]
pub struct SyncRecord {
    /// The generation that was synced.
    pub generation: i64,
    /// When.
    pub at: Instant,
    /// What CodeArtifact held afterwards.
    pub remote: Remote,
}

/// Brings CodeArtifact in line with `d`, or returns the status's record of
/// it when nothing changed since the last full sync.
pub async fn sync(obj: &PypiRepository, ctx: &Context, d: &Desired) -> Result<Remote> {
    let last = ctx
        .synced
        .lock()
        .expect("synced lock")
        .get(&obj.uid().unwrap_or_default())
        .cloned();
    if let Some(remote) = recent(obj, ctx, d, last.as_ref()) {
        return Ok(remote);
    }
    let domain = ensure_domain(obj, ctx, d).await?;
    let owner = d.owner.as_deref();
    let (repo, created) = ensure_repository(obj, ctx, d, last.is_some()).await?;
    let applied_tag_keys = d.tags.keys().cloned().collect();
    if !created {
        correct_settings(ctx, d, &repo).await?;
        correct_tags(obj, ctx, d, &repo).await?;
    }
    let has_public = repo.external_connections.iter().any(|c| c == PUBLIC_PYPI);
    match (d.external_connection, has_public) {
        (true, false) => {
            ctx.aws
                .associate_public_pypi(&d.domain, owner, &d.repository)
                .await?
        }
        (false, true) => {
            ctx.aws
                .disassociate_public_pypi(&d.domain, owner, &d.repository)
                .await?
        }
        _ => {}
    }
    let known = last
        .as_ref()
        .filter(|l| l.remote.repository_arn == repo.arn)
        .map(|l| l.remote.endpoint.clone())
        .or_else(|| {
            let s = obj.status.as_ref()?;
            (s.repository_name.as_deref() == Some(d.repository.as_str()))
                .then(|| s.repository_endpoint.clone())
                .flatten()
        });
    let endpoint = match known {
        Some(e) => e,
        None => {
            ctx.aws
                .get_pypi_endpoint(&d.domain, owner, &d.repository)
                .await?
        }
    };
    let remote = Remote {
        domain_arn: domain.arn,
        domain_owner: domain.owner,
        repository_arn: repo.arn,
        endpoint,
        applied_tag_keys,
    };
    let record = SyncRecord {
        generation: obj.metadata.generation.unwrap_or_default(),
        at: Instant::now(),
        remote: remote.clone(),
    };
    ctx.synced
        .lock()
        .expect("synced lock")
        .insert(obj.uid().unwrap_or_default(), record);
    Ok(remote)
}

/// The last sync's outcome, if it was for this generation and is younger than the resync period.
fn recent(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    last: Option<&SyncRecord>,
) -> Option<Remote> {
    let last = last?;
    // 0.9: a requeue scheduled for exactly one resync period must count as due.
    let fresh = last.generation == obj.metadata.generation.unwrap_or_default()
        && last.at.elapsed() < ctx.config.resync.mul_f64(0.9);
    let same_repo = last
        .remote
        .repository_arn
        .ends_with(&format!("/{}/{}", d.domain, d.repository));
    (fresh && same_repo).then(|| last.remote.clone())
}

/// The domain, created in the operator's account when it does not exist.
/// Domains are shared, so a found domain is remembered, and concurrent
/// reconciles of one domain wait for a single lookup: a thousand
/// PypiRepositories on ten domains cost ten DescribeDomain calls and no
/// duplicate CreateDomain.
async fn ensure_domain(obj: &PypiRepository, ctx: &Context, d: &Desired) -> Result<Domain> {
    let slot = ctx.domain_slot(&d.domain, d.owner.as_deref());
    let mut known = slot.lock().await;
    if let Some(domain) = known.as_ref() {
        return Ok(domain.clone());
    }
    let domain = find_or_create_domain(obj, ctx, d).await?;
    *known = Some(domain.clone());
    Ok(domain)
}

async fn find_or_create_domain(obj: &PypiRepository, ctx: &Context, d: &Desired) -> Result<Domain> {
    if let Some(found) = ctx
        .aws
        .describe_domain(&d.domain, d.owner.as_deref())
        .await?
    {
        return Ok(found);
    }
    if let Some(owner) = &d.owner {
        return Err(Error::DomainNotFound {
            domain: d.domain.clone(),
            owner: owner.clone(),
        });
    }
    let mut tags = obj.spec.domain.tags.clone();
    tags.extend(domain_marker(&d.owner_marker));
    match ctx
        .aws
        .create_domain(&d.domain, obj.spec.domain.encryption_key.as_deref(), &tags)
        .await
    {
        Ok(created) => {
            report::normal(
                ctx,
                obj,
                "DomainCreated",
                "CreateDomain",
                format!("Created CodeArtifact domain {}", d.domain),
            )
            .await;
            Ok(created)
        }
        // Another PypiRepository created it a moment ago.
        Err(e) if e.kind == AwsErrorKind::Conflict => ctx
            .aws
            .describe_domain(&d.domain, None)
            .await?
            .ok_or_else(|| Error::Aws(e)),
        Err(e) => Err(e.into()),
    }
}

/// The repository and whether this call created it.
async fn ensure_repository(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    synced_before: bool,
) -> Result<(Repository, bool)> {
    let owner = d.owner.as_deref();
    let known = synced_before
        || obj
            .status
            .as_ref()
            .and_then(|s| s.repository_arn.as_ref())
            .is_some();
    if known
        && let Some(repo) = ctx
            .aws
            .describe_repository(&d.domain, owner, &d.repository)
            .await?
    {
        return Ok((repo, false));
    }
    let mut tags = d.tags.clone();
    tags.extend(repository_marker(&d.owner_marker));
    let settings = RepositorySettings {
        description: d.description.clone(),
        upstreams: d.upstreams.clone(),
        tags,
    };
    match ctx
        .aws
        .create_repository(&d.domain, owner, &d.repository, &settings)
        .await
    {
        Ok(repo) => {
            let verb = if known {
                "Recreated missing"
            } else {
                "Created"
            };
            report::normal(
                ctx,
                obj,
                "RepositoryCreated",
                "CreateRepository",
                format!(
                    "{verb} CodeArtifact repository {} in domain {}",
                    d.repository, d.domain
                ),
            )
            .await;
            Ok((repo, true))
        }
        Err(e) if e.kind == AwsErrorKind::Conflict => adopt(obj, ctx, d).await.map(|r| (r, false)),
        Err(e) if e.kind == AwsErrorKind::NotFound && !d.upstreams.is_empty() => {
            Err(Error::UpstreamNotFound {
                domain: d.domain.clone(),
                source: e,
            })
        }
        Err(e) => {
            if e.kind == AwsErrorKind::NotFound {
                // The domain may have been deleted behind our back: look again next time.
                ctx.forget_domain(&d.domain, d.owner.as_deref());
            }
            Err(e.into())
        }
    }
}

/// Takes over a repository that already exists under this name.
async fn adopt(obj: &PypiRepository, ctx: &Context, d: &Desired) -> Result<Repository> {
    let repo = ctx
        .aws
        .describe_repository(&d.domain, d.owner.as_deref(), &d.repository)
        .await?
        .ok_or_else(|| AwsError {
            operation: "DescribeRepository",
            kind: AwsErrorKind::Conflict,
            message: "repository vanished while being adopted".into(),
        })?;
    let tags = ctx.aws.list_tags(&repo.arn).await?;
    if !owns_repository(&tags, &d.owner_marker) {
        let note = format!(
            "Adopted existing CodeArtifact repository {}; the operator manages its settings but will never delete it",
            d.repository
        );
        report::normal(ctx, obj, "RepositoryAdopted", "Adopt", note).await;
    }
    Ok(repo)
}

/// Description and upstreams.
async fn correct_settings(ctx: &Context, d: &Desired, repo: &Repository) -> Result<()> {
    if repo.description == d.description && repo.upstreams == d.upstreams {
        return Ok(());
    }
    match ctx
        .aws
        .update_repository(
            &d.domain,
            d.owner.as_deref(),
            &d.repository,
            &d.description,
            &d.upstreams,
        )
        .await
    {
        Err(e) if e.kind == AwsErrorKind::NotFound => Err(Error::UpstreamNotFound {
            domain: d.domain.clone(),
            source: e,
        }),
        other => Ok(other?),
    }
}

/// spec.tags, plus the ownership marker on repositories this object created.
async fn correct_tags(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    repo: &Repository,
) -> Result<()> {
    let current = ctx.aws.list_tags(&repo.arn).await?;
    let mut desired = d.tags.clone();
    if owns_repository(&current, &d.owner_marker) {
        desired.extend(repository_marker(&d.owner_marker));
    }
    let managed = obj
        .status
        .as_ref()
        .map(|s| s.applied_tag_keys.clone())
        .unwrap_or_default();
    let (set, remove) = tag_changes(&current, &desired, &managed);
    if !set.is_empty() {
        ctx.aws.tag_resource(&repo.arn, &set).await?;
    }
    if !remove.is_empty() {
        ctx.aws.untag_resource(&repo.arn, &remove).await?;
    }
    Ok(())
}
