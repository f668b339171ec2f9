//! The delete side: with `Delete`, the repository goes when this object
//! created it; with `--tenancy=open` then also the domain, if this cluster's
//! operator created it and it is empty (under strict tenancy domains belong
//! to their CodeArtifactDomain). With `Retain`, for consumers, and when the
//! access rules no longer allow `delete`, nothing in AWS is touched.
//! Idempotent: what is already gone counts as deleted. The Secret is left to
//! garbage collection through its owner reference. What was done comes back
//! as [`Note`]s, reported by [`cleanup`].

use std::sync::Arc;

use kube::runtime::controller::Action;

use super::context::Context;
use super::desired::Desired;
use super::ownership::{owns_domain, owns_repository};
use super::remote::Note;
use super::tenancy::Admission;
use super::{desired, report};
use crate::aws::AwsErrorKind;
use crate::crd::{DeletionPolicy, EventReason, PypiRepository, RepositoryMode};
use crate::error::Result;

/// Runs the deletion steps the policy allows; failures keep the finalizer
/// and are reported like any other. No status is written first: a deletion
/// that succeeds ends with the object gone, so a "Deleting" status would be
/// one more write per object that nobody reads (issue 17); a deletion that
/// fails says why in the status, as any failed reconcile does.
pub async fn cleanup(obj: Arc<PypiRepository>, ctx: Arc<Context>) -> Result<Action> {
    let mut notes = Vec::new();
    let result = delete(&obj, &ctx, &mut notes).await;
    report::notes(&ctx, &obj, notes).await;
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

/// The deletion steps, without Kubernetes: the policy, then the access rules
/// (from the watch caches), then CodeArtifact.
pub async fn delete(obj: &PypiRepository, ctx: &Context, notes: &mut Vec<Note>) -> Result<()> {
    if obj.spec.deletion_policy == DeletionPolicy::Retain
        || obj.spec.mode == RepositoryMode::Consume
    {
        let message = format!(
            "deletionPolicy Retain: repository {} and domain {} stay in CodeArtifact",
            obj.repository_name(),
            obj.spec.domain.name
        );
        notes.push(Note::new(EventReason::Retained, "Delete", message));
        return Ok(());
    }
    match ctx.admission(obj) {
        Ok(admission) => delete_remote(obj, ctx, admission.as_ref(), notes).await,
        Err(e) => {
            notes.push(kept(format!(
                "Repository {} is kept in CodeArtifact: {}",
                obj.repository_name(),
                e.report()
            )));
            Ok(())
        }
    }
}

/// `Delete` on a managed object, as far as `admission` (`None`: open
/// tenancy) allows.
pub async fn delete_remote(
    obj: &PypiRepository,
    ctx: &Context,
    admission: Option<&Admission>,
    notes: &mut Vec<Note>,
) -> Result<()> {
    if admission.is_some_and(|a| !a.grant.delete) {
        notes.push(kept(format!(
            "Repository {} is kept: the CodeArtifactDomain's access rules no longer allow this namespace to delete",
            obj.repository_name()
        )));
        return Ok(());
    }
    let d = desired::desired(obj, ctx.aws.region(), &ctx.config.cluster_name, admission)?;
    delete_repository(ctx, &d, notes).await?;
    if admission.is_some() {
        return Ok(());
    }
    delete_domain_if_empty(ctx, &d, notes).await
}

fn kept(message: String) -> Note {
    Note::new(EventReason::RepositoryKept, "Delete", message)
}

async fn delete_repository(ctx: &Context, d: &Desired, notes: &mut Vec<Note>) -> Result<()> {
    let owner = d.owner.as_deref();
    let Some(repo) = ctx
        .aws_for(d)
        .await
        .describe_repository(&d.domain, owner, &d.repository)
        .await?
    else {
        return Ok(());
    };
    let tags = ctx.aws_for(d).await.list_tags(&repo.arn).await?;
    if !owns_repository(&tags, &d.owner_marker) {
        notes.push(kept(format!(
            "Repository {} was not created by this PypiRepository, so it is kept",
            d.repository
        )));
        return Ok(());
    }
    ctx.aws_for(d)
        .await
        .delete_repository(&d.domain, owner, &d.repository)
        .await?;
    notes.push(Note::new(
        EventReason::RepositoryDeleted,
        "Delete",
        format!("Deleted CodeArtifact repository {}", d.repository),
    ));
    Ok(())
}

/// The last PypiRepository out deletes the domain; earlier ones leave it.
async fn delete_domain_if_empty(ctx: &Context, d: &Desired, notes: &mut Vec<Note>) -> Result<()> {
    let owner = d.owner.as_deref();
    let Some(domain) = ctx
        .aws_for(d)
        .await
        .describe_domain(&d.domain, owner)
        .await?
    else {
        ctx.forget_domain(&d.domain, owner);
        return Ok(());
    };
    let domain_kept = |message| Note::new(EventReason::DomainKept, "Delete", message);
    // A domain that still holds repositories stays whoever made it; checking
    // that first spares every PypiRepository but the last a ListTags call.
    if domain.repository_count > 0 {
        notes.push(domain_kept(format!(
            "Domain {} still holds {} repositories, so it is kept",
            d.domain, domain.repository_count
        )));
        return Ok(());
    }
    let tags = ctx.aws_for(d).await.list_tags(&domain.arn).await?;
    if !owns_domain(&tags, &d.owner_marker) {
        return Ok(());
    }
    match ctx.aws_for(d).await.delete_domain(&d.domain, owner).await {
        Ok(()) => {
            ctx.forget_domain(&d.domain, owner);
            notes.push(Note::new(
                EventReason::DomainDeleted,
                "Delete",
                format!("Deleted empty CodeArtifact domain {}", d.domain),
            ));
            Ok(())
        }
        // A repository appeared since DescribeDomain: someone still uses the domain.
        Err(e) if e.kind == AwsErrorKind::Conflict => {
            notes.push(domain_kept(format!(
                "Domain {} is in use again, so it is kept",
                d.domain
            )));
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[path = "cleanup_tests.rs"]
mod tests;
