//! Between the SDK's types and this module's: owners, tags, upstreams,
//! descriptions, and the answers that mean "not found" or "malformed".

use aws_sdk_codeartifact::types::{Tag, UpstreamRepository};
use std::collections::BTreeMap;

use super::error::{AwsError, AwsErrorKind};
use super::types::{Domain, Repository};

type Result<T> = std::result::Result<T, AwsError>;

pub(super) fn own(owner: Option<&str>) -> Option<String> {
    owner.map(str::to_string)
}

/// Turns "not found" into `None`: for describe calls an answer, for deletes success.
pub(super) fn not_found_is_none<T>(result: Result<Option<T>>) -> Result<Option<T>> {
    match result {
        Err(e) if e.kind == AwsErrorKind::NotFound => Ok(None),
        other => other,
    }
}

pub(super) fn malformed(operation: &'static str, what: &str) -> AwsError {
    AwsError {
        operation,
        kind: AwsErrorKind::Other,
        message: format!("malformed response: {what}"),
    }
}

pub(super) fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

pub(super) fn to_upstreams(names: &[String]) -> Vec<UpstreamRepository> {
    names
        .iter()
        .filter_map(|n| {
            UpstreamRepository::builder()
                .repository_name(n)
                .build()
                .ok()
        })
        .collect()
}

pub(super) fn domain_from(d: &aws_sdk_codeartifact::types::DomainDescription) -> Domain {
    Domain {
        name: d.name().unwrap_or_default().to_string(),
        owner: d.owner().unwrap_or_default().to_string(),
        arn: d.arn().unwrap_or_default().to_string(),
        repository_count: d.repository_count(),
    }
}

pub(super) fn repository_from(
    r: &aws_sdk_codeartifact::types::RepositoryDescription,
) -> Repository {
    Repository {
        name: r.name().unwrap_or_default().to_string(),
        arn: r.arn().unwrap_or_default().to_string(),
        description: r.description().unwrap_or_default().to_string(),
        upstreams: r
            .upstreams()
            .iter()
            .filter_map(|u| u.repository_name().map(str::to_string))
            .collect(),
        external_connections: r
            .external_connections()
            .iter()
            .filter_map(|c| c.external_connection_name().map(str::to_string))
            .collect(),
    }
}
