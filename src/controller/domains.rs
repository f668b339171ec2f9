//! The domain a PypiRepository lives in. Domains are shared, so a found
//! domain is remembered, and concurrent reconciles of one domain wait for a
//! single lookup: a thousand PypiRepositories on ten domains cost ten
//! DescribeDomain calls. Under strict tenancy a PypiRepository never creates
//! a domain (its CodeArtifactDomain does); with `--tenancy=open` it creates
//! a missing one in the operator's account, as before.

use kube::ResourceExt;

use super::context::Context;
use super::desired::{Desired, role_session};
use super::ownership::domain_marker;
use super::remote::Note;
use crate::aws::{AwsErrorKind, CodeArtifact, Domain};
use crate::crd::{CodeArtifactDomain, EventReason, PypiRepository};
use crate::error::{Error, Result};

impl Context {
    /// The client for a PypiRepository's calls: its access rule's role, else
    /// its domain's role, else the operator's own identity.
    pub async fn aws_for(&self, d: &Desired) -> CodeArtifact {
        self.aws.get(&d.identity()).await
    }

    /// The client for a CodeArtifactDomain's own calls: its role, else the
    /// operator's own identity.
    pub async fn aws_for_domain(&self, cad: &CodeArtifactDomain) -> CodeArtifact {
        let identity = cad.spec.role.as_ref().map(|r| role_session(r, None));
        self.aws.get(&identity).await
    }
}

/// The domain, from memory or CodeArtifact; created only with `--tenancy=open`.
pub async fn ensure_domain(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    notes: &mut Vec<Note>,
) -> Result<Domain> {
    let slot = ctx.domain_slot(&d.domain, d.owner.as_deref());
    let mut known = slot.lock().await;
    if let Some(domain) = known.as_ref() {
        return Ok(domain.clone());
    }
    let domain = find_or_create(obj, ctx, d, notes).await?;
    *known = Some(domain.clone());
    Ok(domain)
}

async fn find_or_create(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    notes: &mut Vec<Note>,
) -> Result<Domain> {
    if let Some(found) = ctx
        .aws_for(d)
        .await
        .describe_domain(&d.domain, d.owner.as_deref())
        .await?
    {
        return Ok(found);
    }
    if d.grant.is_some() {
        return Err(Error::DomainMissing {
            domain: d.domain.clone(),
        });
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
        .aws_for(d)
        .await
        .create_domain(&d.domain, obj.spec.domain.encryption_key.as_deref(), &tags)
        .await
    {
        Ok(created) => {
            notes.push(Note::new(
                EventReason::DomainCreated,
                "CreateDomain",
                format!("Created CodeArtifact domain {}", d.domain),
            ));
            tracing::info!(domain = %d.domain, object = %obj.name_any(), "created domain");
            Ok(created)
        }
        // Another PypiRepository created it a moment ago.
        Err(e) if e.kind == AwsErrorKind::Conflict => ctx
            .aws_for(d)
            .await
            .describe_domain(&d.domain, None)
            .await?
            .ok_or_else(|| Error::Aws(e)),
        Err(e) => Err(e.into()),
    }
}
