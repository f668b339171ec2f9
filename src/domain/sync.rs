//! A CodeArtifactDomain against CodeArtifact: create (mode Manage) or find
//! (mode Use) the domain, keep its tags (Manage only), and delete it only
//! when it is empty and this cluster created it.

use chrono::Utc;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::package_groups;
use super::report::{publish, ready_status, with_package_groups};
use crate::aws::{AwsErrorKind, Domain, PolicyOn};
use crate::controller::Context;
use crate::controller::ownership::{
    TAG_CLUSTER, TAG_OWNER, TAG_UID, created_by_cluster, tag_changes,
};
use crate::controller::policy::{Change, sync_policy};
use crate::crd::{CodeArtifactDomain, CodeArtifactDomainStatus, DomainMode, EventReason};
use crate::error::{Error, Result};

/// Marker tags for a domain a CodeArtifactDomain creates.
fn marker(ctx: &Context, obj: &CodeArtifactDomain) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([
        (TAG_CLUSTER.to_string(), ctx.config.cluster_name.clone()),
        (
            TAG_OWNER.to_string(),
            format!("CodeArtifactDomain/{}", obj.name_any()),
        ),
        (TAG_UID.to_string(), obj.uid().unwrap_or_default()),
    ])
}

fn ours(ctx: &Context, tags: &std::collections::BTreeMap<String, String>) -> bool {
    created_by_cluster(tags, &ctx.config.cluster_name)
}

/// Creates or finds the domain, corrects its tags, and returns the status to write.
pub async fn apply(
    obj: &CodeArtifactDomain,
    ctx: &Context,
) -> Result<(CodeArtifactDomainStatus, Action)> {
    let name = obj.domain_name();
    let owner = obj.spec.owner.as_deref();
    let domain = match ctx
        .aws_for_domain(obj)
        .await
        .describe_domain(&name, owner)
        .await?
    {
        Some(d) => d,
        None => create(obj, ctx, &name).await?,
    };
    let tags = ctx.aws_for_domain(obj).await.list_tags(&domain.arn).await?;
    let created = ours(ctx, &tags);
    let mut policy_revision = None;
    let mut groups = Vec::new();
    if obj.spec.mode == DomainMode::Manage {
        correct_tags(obj, ctx, &domain, &tags, created).await?;
        policy_revision = domain_policy(obj, ctx, &name, owner).await?;
        groups = package_groups::sync(obj, ctx, &domain, &marker(ctx, obj)).await?;
    }
    let mut status = ready_status(obj, &domain, created, Utc::now());
    status.policy_revision = policy_revision;
    with_package_groups(&mut status, obj, groups, Utc::now());
    Ok((status, Action::requeue(ctx.config.resync)))
}

/// spec.permissionsPolicy on the domain; the revision the operator holds.
async fn domain_policy(
    obj: &CodeArtifactDomain,
    ctx: &Context,
    name: &str,
    owner: Option<&str>,
) -> Result<Option<String>> {
    let want = obj.spec.permissions_policy.as_ref();
    let ours = obj.status.as_ref().and_then(|s| s.policy_revision.as_ref());
    let aws = ctx.aws_for_domain(obj).await;
    let on = PolicyOn::Domain(name, owner);
    let applied = sync_policy(&aws, on, want, ours.is_some(), "spec.permissionsPolicy").await?;
    let (reason, note) = match applied.change {
        Some(Change::Put) => (
            EventReason::PermissionsPolicyApplied,
            format!("Put spec.permissionsPolicy on domain {name}"),
        ),
        Some(Change::Deleted) => (
            EventReason::PermissionsPolicyDeleted,
            format!(
                "Deleted the permissions policy of domain {name}: the spec no longer states one"
            ),
        ),
        None => return Ok(applied.revision),
    };
    publish(ctx, obj, EventType::Normal, reason, note).await;
    Ok(applied.revision)
}

async fn create(obj: &CodeArtifactDomain, ctx: &Context, name: &str) -> Result<Domain> {
    if obj.spec.mode == DomainMode::Use {
        return Err(Error::DomainMissing {
            domain: name.to_string(),
        });
    }
    if let Some(owner) = &obj.spec.owner {
        return Err(Error::DomainNotFound {
            domain: name.to_string(),
            owner: owner.clone(),
        });
    }
    let mut tags = obj.spec.tags.clone();
    tags.extend(marker(ctx, obj));
    match ctx
        .aws_for_domain(obj)
        .await
        .create_domain(name, obj.spec.encryption_key.as_deref(), &tags)
        .await
    {
        Ok(d) => {
            let note = format!("Created CodeArtifact domain {name}");
            publish(
                ctx,
                obj,
                EventType::Normal,
                EventReason::DomainCreated,
                note,
            )
            .await;
            Ok(d)
        }
        Err(e) if e.kind == AwsErrorKind::Conflict => ctx
            .aws_for_domain(obj)
            .await
            .describe_domain(name, None)
            .await?
            .ok_or_else(|| Error::Aws(e)),
        Err(e) => Err(e.into()),
    }
}

async fn correct_tags(
    obj: &CodeArtifactDomain,
    ctx: &Context,
    domain: &Domain,
    current: &std::collections::BTreeMap<String, String>,
    created: bool,
) -> Result<()> {
    let mut desired = obj.spec.tags.clone();
    if created {
        // Keep the marker as it is (it may name an earlier creator).
        for k in [TAG_CLUSTER, TAG_OWNER, TAG_UID] {
            if let Some(v) = current.get(k) {
                desired.insert(k.to_string(), v.clone());
            }
        }
    }
    let applied = obj.status.as_ref().map(|s| s.applied_tag_keys.as_slice());
    let (set, remove) = tag_changes(current, &desired, applied.unwrap_or_default());
    ctx.aws_for_domain(obj)
        .await
        .retag(&domain.arn, &set, &remove)
        .await?;
    Ok(())
}

/// Deletes the domain when it is empty and this cluster created it.
pub async fn cleanup(
    obj: &CodeArtifactDomain,
    ctx: &Context,
) -> Result<(CodeArtifactDomainStatus, Action)> {
    let name = obj.domain_name();
    let owner = obj.spec.owner.as_deref();
    let status = obj.status.clone().unwrap_or_default();
    let Some(domain) = ctx
        .aws_for_domain(obj)
        .await
        .describe_domain(&name, owner)
        .await?
    else {
        ctx.forget_domain(&name, owner);
        return Ok((status, Action::await_change()));
    };
    if domain.repository_count > 0 {
        return Err(Error::DomainNotEmpty {
            domain: name,
            count: domain.repository_count,
        });
    }
    let tags = ctx.aws_for_domain(obj).await.list_tags(&domain.arn).await?;
    if !ours(ctx, &tags) {
        let note =
            format!("Domain {name} was not created by this cluster's operator, so it is kept");
        publish(ctx, obj, EventType::Normal, EventReason::DomainKept, note).await;
        return Ok((status, Action::await_change()));
    }
    match ctx
        .aws_for_domain(obj)
        .await
        .delete_domain(&name, owner)
        .await
    {
        Ok(()) => {
            ctx.forget_domain(&name, owner);
            let note = format!("Deleted empty CodeArtifact domain {name}");
            publish(
                ctx,
                obj,
                EventType::Normal,
                EventReason::DomainDeleted,
                note,
            )
            .await;
            Ok((status, Action::await_change()))
        }
        Err(e) if e.kind == AwsErrorKind::Conflict => Err(Error::DomainNotEmpty {
            domain: name,
            count: 1,
        }),
        Err(e) => Err(e.into()),
    }
}
