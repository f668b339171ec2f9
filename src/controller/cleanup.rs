//! The delete side: with `Delete`, the repository goes when this object
//! created it; with `--tenancy=open` then also the domain, if this cluster's
//! operator created it and it is empty (under strict tenancy domains belong
//! to their CodeArtifactDomain). With `Retain`, for consumers, and when the
//! access rules no longer allow `delete`, nothing in AWS is touched.
//! Idempotent: what is already gone counts as deleted. The Secret is left to
//! garbage collection through its owner reference.

use std::sync::Arc;

use chrono::Utc;
use kube::runtime::controller::Action;

use super::context::Context;
use super::desired::Desired;
use super::ownership::{owns_domain, owns_repository};
use super::{desired, report, status};
use crate::aws::AwsErrorKind;
use crate::crd::{DeletionPolicy, PypiRepository, RepositoryMode};
use crate::error::Result;

/// Runs the deletion steps the policy allows; failures keep the finalizer
/// and are reported like any other.
pub async fn cleanup(obj: Arc<PypiRepository>, ctx: Arc<Context>) -> Result<Action> {
    if let Err(e) = report::write_status(&ctx, &obj, status::deleting(&obj, Utc::now())).await {
        tracing::debug!(error = %e, "could not mark the object as deleting");
    }
    let result = match (obj.spec.deletion_policy, obj.spec.mode) {
        (DeletionPolicy::Retain, _) | (_, RepositoryMode::Consume) => {
            let note = format!(
                "deletionPolicy Retain: repository {} and domain {} stay in CodeArtifact",
                obj.repository_name(),
                obj.spec.domain.name
            );
            report::normal(&ctx, &obj, "Retained", "Delete", note).await;
            Ok(())
        }
        (DeletionPolicy::Delete, RepositoryMode::Manage) => delete_remote(&obj, &ctx).await,
    };
    match result {
        Ok(()) => {
            ctx.forget(&obj);
            Ok(Action::await_change())
        }
        Err(e) => {
            report::failure(&ctx, &obj, &e, None).await;
            Err(e)
        }
    }
}

async fn delete_remote(obj: &PypiRepository, ctx: &Context) -> Result<()> {
    let admission = match ctx.admission(obj) {
        Ok(a) => a,
        Err(e) => {
            let note = format!(
                "Repository {} is kept in CodeArtifact: {}",
                obj.repository_name(),
                e.report()
            );
            report::normal(ctx, obj, "RepositoryKept", "Delete", note).await;
            return Ok(());
        }
    };
    if admission.as_ref().is_some_and(|a| !a.grant.delete) {
        let note = format!(
            "Repository {} is kept: the CodeArtifactDomain's access rules no longer allow this namespace to delete",
            obj.repository_name()
        );
        report::normal(ctx, obj, "RepositoryKept", "Delete", note).await;
        return Ok(());
    }
    let d = desired::desired(
        obj,
        ctx.aws.region(),
        &ctx.config.cluster_name,
        admission.as_ref(),
    )?;
    delete_repository(obj, ctx, &d).await?;
    if admission.is_some() {
        return Ok(());
    }
    delete_domain_if_empty(obj, ctx, &d).await
}

async fn delete_repository(obj: &PypiRepository, ctx: &Context, d: &Desired) -> Result<()> {
    let owner = d.owner.as_deref();
    let Some(repo) = ctx
        .aws
        .describe_repository(&d.domain, owner, &d.repository)
        .await?
    else {
        return Ok(());
    };
    let tags = ctx.aws.list_tags(&repo.arn).await?;
    if !owns_repository(&tags, &d.owner_marker) {
        let note = format!(
            "Repository {} was not created by this PypiRepository, so it is kept",
            d.repository
        );
        report::normal(ctx, obj, "RepositoryKept", "Delete", note).await;
        return Ok(());
    }
    ctx.aws
        .delete_repository(&d.domain, owner, &d.repository)
        .await?;
    report::normal(
        ctx,
        obj,
        "RepositoryDeleted",
        "Delete",
        format!("Deleted CodeArtifact repository {}", d.repository),
    )
    .await;
    Ok(())
}

/// The last PypiRepository out deletes the domain; earlier ones leave it.
async fn delete_domain_if_empty(obj: &PypiRepository, ctx: &Context, d: &Desired) -> Result<()> {
    let owner = d.owner.as_deref();
    let Some(domain) = ctx.aws.describe_domain(&d.domain, owner).await? else {
        ctx.forget_domain(&d.domain, owner);
        return Ok(());
    };
    // A domain that still holds repositories stays whoever made it; checking
    // that first spares every PypiRepository but the last a ListTags call.
    if domain.repository_count > 0 {
        let note = format!(
            "Domain {} still holds {} repositories, so it is kept",
            d.domain, domain.repository_count
        );
        report::normal(ctx, obj, "DomainKept", "Delete", note).await;
        return Ok(());
    }
    let tags = ctx.aws.list_tags(&domain.arn).await?;
    if !owns_domain(&tags, &d.owner_marker) {
        return Ok(());
    }
    match ctx.aws.delete_domain(&d.domain, owner).await {
        Ok(()) => {
            ctx.forget_domain(&d.domain, owner);
            report::normal(
                ctx,
                obj,
                "DomainDeleted",
                "Delete",
                format!("Deleted empty CodeArtifact domain {}", d.domain),
            )
            .await;
            Ok(())
        }
        // A repository appeared since DescribeDomain: someone still uses the domain.
        Err(e) if e.kind == AwsErrorKind::Conflict => {
            report::normal(
                ctx,
                obj,
                "DomainKept",
                "Delete",
                format!("Domain {} is in use again, so it is kept", d.domain),
            )
            .await;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
