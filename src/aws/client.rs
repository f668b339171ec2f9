//! The CodeArtifact client: each method is one API call, counted in metrics
//! by operation and outcome, with its error classified.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_codeartifact::Client;
use aws_sdk_codeartifact::types::{PackageFormat, Tag, UpstreamRepository};
use chrono::{DateTime, Utc};

use super::{
    AuthToken, AwsError, AwsErrorKind, Domain, IssuedToken, MissingRegion, PUBLIC_PYPI, Repository,
    RepositorySettings,
};
use crate::metrics::Metrics;

/// A CodeArtifact client for one region and one set of credentials.
#[derive(Clone)]
pub struct CodeArtifact {
    client: Client,
    region: String,
    metrics: Arc<Metrics>,
}

type Result<T> = std::result::Result<T, AwsError>;

impl CodeArtifact {
    /// Wraps an SDK client.
    pub fn new(client: Client, region: String, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            region,
            metrics,
        }
    }

    /// Builds a client from the default AWS chain (environment, profile, web
    /// identity, EKS Pod Identity, IMDS), with an optional endpoint override.
    pub async fn from_env(
        endpoint: Option<&str>,
        metrics: Arc<Metrics>,
    ) -> std::result::Result<Self, MissingRegion> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let conf = loader.load().await;
        let region = conf.region().map(|r| r.to_string()).ok_or(MissingRegion)?;
        Ok(Self::new(Client::new(&conf), region, metrics))
    }

    /// The AWS region the client talks to.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn record<T>(
        &self,
        operation: &'static str,
        result: std::result::Result<T, AwsError>,
    ) -> Result<T> {
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.kind.label(),
        };
        self.metrics.aws_call(operation, outcome);
        result
    }

    /// DescribeDomain; `None` when the domain does not exist.
    pub async fn describe_domain(&self, name: &str, owner: Option<&str>) -> Result<Option<Domain>> {
        let res = self
            .client
            .describe_domain()
            .domain(name)
            .set_domain_owner(owner.map(str::to_string))
            .send()
            .await;
        let res = res.map_err(|e| AwsError::from_sdk("DescribeDomain", e));
        match self.record("DescribeDomain", res) {
            Ok(out) => Ok(out.domain().map(domain_from)),
            Err(e) if e.kind == AwsErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// CreateDomain in the caller's account.
    pub async fn create_domain(
        &self,
        name: &str,
        encryption_key: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<Domain> {
        let res = self
            .client
            .create_domain()
            .domain(name)
            .set_encryption_key(encryption_key.map(str::to_string))
            .set_tags(Some(to_tags(tags)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateDomain", e));
        let out = self.record("CreateDomain", res)?;
        Ok(out.domain().map(domain_from).unwrap_or_else(|| Domain {
            name: name.to_string(),
            owner: String::new(),
            arn: String::new(),
            repository_count: 0,
        }))
    }

    /// DeleteDomain; a domain that is already gone counts as deleted.
    pub async fn delete_domain(&self, name: &str, owner: Option<&str>) -> Result<()> {
        let res = self
            .client
            .delete_domain()
            .domain(name)
            .set_domain_owner(owner.map(str::to_string))
            .send()
            .await;
        match self.record(
            "DeleteDomain",
            res.map_err(|e| AwsError::from_sdk("DeleteDomain", e)),
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.kind == AwsErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// DescribeRepository; `None` when it does not exist.
    pub async fn describe_repository(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<Option<Repository>> {
        let res = self
            .client
            .describe_repository()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .repository(repo)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeRepository", e));
        match self.record("DescribeRepository", res) {
            Ok(out) => Ok(out.repository().map(repository_from)),
            Err(e) if e.kind == AwsErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// CreateRepository with its description, upstreams and tags in one call.
    pub async fn create_repository(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
        settings: &RepositorySettings,
    ) -> Result<Repository> {
        let res = self
            .client
            .create_repository()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .repository(repo)
            .set_description(
                (!settings.description.is_empty()).then(|| settings.description.clone()),
            )
            .set_upstreams(Some(to_upstreams(&settings.upstreams)))
            .set_tags(Some(to_tags(&settings.tags)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateRepository", e));
        let out = self.record("CreateRepository", res)?;
        Ok(out
            .repository()
            .map(repository_from)
            .unwrap_or_else(|| Repository {
                name: repo.to_string(),
                arn: String::new(),
                description: settings.description.clone(),
                upstreams: settings.upstreams.clone(),
                external_connections: vec![],
            }))
    }

    /// UpdateRepository: description and the complete upstream list.
    pub async fn update_repository(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
        description: &str,
        upstreams: &[String],
    ) -> Result<()> {
        let res = self
            .client
            .update_repository()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .repository(repo)
            .description(description)
            .set_upstreams(Some(to_upstreams(upstreams)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateRepository", e));
        self.record("UpdateRepository", res).map(|_| ())
    }

    /// DeleteRepository; a repository that is already gone counts as deleted.
    pub async fn delete_repository(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<()> {
        let res = self
            .client
            .delete_repository()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .repository(repo)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteRepository", e));
        match self.record("DeleteRepository", res) {
            Ok(_) => Ok(()),
            Err(e) if e.kind == AwsErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Connects the repository to public PyPI.
    pub async fn associate_public_pypi(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<()> {
        let res = self
            .client
            .associate_external_connection()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .repository(repo)
            .external_connection(PUBLIC_PYPI)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AssociateExternalConnection", e));
        self.record("AssociateExternalConnection", res).map(|_| ())
    }

    /// Disconnects the repository from public PyPI.
    pub async fn disassociate_public_pypi(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<()> {
        let res = self
            .client
            .disassociate_external_connection()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .repository(repo)
            .external_connection(PUBLIC_PYPI)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DisassociateExternalConnection", e));
        self.record("DisassociateExternalConnection", res)
            .map(|_| ())
    }

    /// GetAuthorizationToken for a domain. `duration_seconds` 0 ties the token to the caller's session.
    pub async fn get_authorization_token(
        &self,
        domain: &str,
        owner: Option<&str>,
        duration_seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken> {
        let res = self
            .client
            .get_authorization_token()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .duration_seconds(duration_seconds)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetAuthorizationToken", e));
        let out = self.record("GetAuthorizationToken", res)?;
        let token = out
            .authorization_token()
            .ok_or_else(|| malformed("GetAuthorizationToken", "no authorizationToken"))?;
        let expires_at = out
            .expiration()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
            .ok_or_else(|| malformed("GetAuthorizationToken", "no expiration"))?;
        Ok(IssuedToken {
            token: AuthToken::new(token),
            issued_at: now,
            expires_at,
        })
    }

    /// GetRepositoryEndpoint for the PyPI format.
    pub async fn get_pypi_endpoint(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<String> {
        let res = self
            .client
            .get_repository_endpoint()
            .domain(domain)
            .set_domain_owner(owner.map(str::to_string))
            .repository(repo)
            .format(PackageFormat::Pypi)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetRepositoryEndpoint", e));
        let out = self.record("GetRepositoryEndpoint", res)?;
        out.repository_endpoint()
            .map(str::to_string)
            .ok_or_else(|| malformed("GetRepositoryEndpoint", "no repositoryEndpoint"))
    }

    /// ListTagsForResource.
    pub async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        let res = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListTagsForResource", e));
        let out = self.record("ListTagsForResource", res)?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    /// TagResource: adds or overwrites these tags.
    pub async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let res = self
            .client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(to_tags(tags)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagResource", e));
        self.record("TagResource", res).map(|_| ())
    }

    /// UntagResource: removes these tag keys.
    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<()> {
        let res = self
            .client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UntagResource", e));
        self.record("UntagResource", res).map(|_| ())
    }
}

fn malformed(operation: &'static str, what: &str) -> AwsError {
    AwsError {
        operation,
        kind: AwsErrorKind::Other,
        message: format!("malformed response: {what}"),
    }
}

fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn to_upstreams(names: &[String]) -> Vec<UpstreamRepository> {
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

fn domain_from(d: &aws_sdk_codeartifact::types::DomainDescription) -> Domain {
    Domain {
        name: d.name().unwrap_or_default().to_string(),
        owner: d.owner().unwrap_or_default().to_string(),
        arn: d.arn().unwrap_or_default().to_string(),
        repository_count: d.repository_count(),
    }
}

fn repository_from(r: &aws_sdk_codeartifact::types::RepositoryDescription) -> Repository {
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
