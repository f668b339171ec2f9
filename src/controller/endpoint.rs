//! The repository endpoint that status and the Secret name: on an interface
//! VPC endpoint (computed, no AWS call), or GetRepositoryEndpoint with the
//! spec's endpointType, remembered while the spec's endpoint settings stay.

use super::context::Context;
use super::desired::Desired;
use super::remote::SyncRecord;
use crate::aws::Repository;
use crate::crd::{EndpointSpec, PypiRepository, vpc_endpoint_url};
use crate::error::Result;

/// The PyPI endpoint of `repo` in the domain owned by `owner`.
pub async fn endpoint(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    last: Option<&SyncRecord>,
    repo: &Repository,
    owner: &str,
) -> Result<String> {
    let spec = obj.spec.endpoint.clone().unwrap_or_default();
    if let Some(vpce) = &spec.vpc_endpoint_dns_name {
        return Ok(vpc_endpoint_url(vpce, &d.domain, owner, &d.repository));
    }
    if let Some(known) = known(obj, last, repo, &spec) {
        return Ok(known);
    }
    let endpoint_type = spec.endpoint_type.map(|t| t.as_str());
    Ok(ctx
        .aws_for(d)
        .await
        .get_pypi_endpoint(&d.domain, d.owner.as_deref(), &d.repository, endpoint_type)
        .await?)
}

/// The endpoint from memory (synced with the same endpoint settings) or from
/// status (written for this generation), when either names this repository.
fn known(
    obj: &PypiRepository,
    last: Option<&SyncRecord>,
    repo: &Repository,
    spec: &EndpointSpec,
) -> Option<String> {
    let remembered = last
        .filter(|l| l.remote.repository_arn == repo.arn && l.endpoint == *spec)
        .map(|l| l.remote.endpoint.clone());
    remembered.or_else(|| {
        let s = obj.status.as_ref()?;
        let current = s.observed_generation == obj.metadata.generation;
        (current && s.repository_arn.as_deref() == Some(repo.arn.as_str()))
            .then(|| s.repository_endpoint.clone())
            .flatten()
    })
}
