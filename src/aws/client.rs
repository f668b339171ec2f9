//! The CodeArtifact client: each method is one API call, counted in metrics
//! by operation and outcome, with its error classified.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_codeartifact::Client;
use aws_sdk_codeartifact::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codeartifact::types::PackageFormat;
use chrono::{DateTime, SubsecRound, Utc};

use super::convert::{
    domain_from, malformed, not_found_is_none, own, repository_from, to_tags, to_upstreams,
};
use super::error::AwsError;
use super::types::{AuthToken, Domain, IssuedToken, PUBLIC_PYPI, Repository, RepositorySettings};
use crate::metrics::Metrics;

/// A CodeArtifact client for one region and one set of credentials.
#[derive(Clone)]
pub struct CodeArtifact {
    client: Client,
    region: String,
    metrics: Arc<Metrics>,
    /// The role its credentials come from, for messages when assuming it fails.
    role: Option<String>,
}

type Result<T> = std::result::Result<T, AwsError>;

impl CodeArtifact {
    /// Wraps an SDK client that uses the operator's own identity.
    pub fn new(client: Client, region: String, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            region,
            metrics,
            role: None,
        }
    }

    /// Another SDK client in the same region, with credentials of `role`.
    pub fn with_client(&self, client: Client, role: Option<String>) -> Self {
        Self {
            client,
            region: self.region.clone(),
            metrics: self.metrics.clone(),
            role,
        }
    }

    /// The AWS region the client talks to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The SDK client (for this module's other files).
    pub(super) fn sdk(&self) -> &Client {
        &self.client
    }

    /// Awaits one SDK call, classifies its error and counts it by outcome.
    pub(super) async fn call<T, E, R>(
        &self,
        operation: &'static str,
        request: impl Future<Output = std::result::Result<T, SdkError<E, R>>>,
    ) -> Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let result = request.await.map_err(|e| match &self.role {
            Some(role) => AwsError::from_sdk_as_role(operation, e, role),
            None => AwsError::from_sdk(operation, e),
        });
        let outcome = result
            .as_ref()
            .map_or_else(|e| e.kind.label(), |_| "success");
        self.metrics.aws_call(operation, outcome);
        result
    }

    /// DescribeDomain; `None` when the domain does not exist.
    pub async fn describe_domain(&self, name: &str, owner: Option<&str>) -> Result<Option<Domain>> {
        let req = self
            .client
            .describe_domain()
            .domain(name)
            .set_domain_owner(own(owner));
        let out = self.call("DescribeDomain", req.send()).await;
        not_found_is_none(out.map(|o| o.domain().map(domain_from)))
    }

    /// CreateDomain in the caller's account.
    pub async fn create_domain(
        &self,
        name: &str,
        encryption_key: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<Domain> {
        let req = self.client.create_domain().domain(name);
        let req = req
            .set_encryption_key(encryption_key.map(str::to_string))
            .set_tags(Some(to_tags(tags)));
        let out = self.call("CreateDomain", req.send()).await?;
        out.domain()
            .map(domain_from)
            .ok_or_else(|| malformed("CreateDomain", "no domain"))
    }

    /// DeleteDomain; a domain that is already gone counts as deleted.
    pub async fn delete_domain(&self, name: &str, owner: Option<&str>) -> Result<()> {
        let req = self
            .client
            .delete_domain()
            .domain(name)
            .set_domain_owner(own(owner));
        not_found_is_none(
            self.call("DeleteDomain", req.send())
                .await
                .map(|_| Some(())),
        )
        .map(|_| ())
    }

    /// DescribeRepository; `None` when it does not exist.
    pub async fn describe_repository(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<Option<Repository>> {
        let req = self
            .client
            .describe_repository()
            .domain(domain)
            .set_domain_owner(own(owner));
        let out = self
            .call("DescribeRepository", req.repository(repo).send())
            .await;
        not_found_is_none(out.map(|o| o.repository().map(repository_from)))
    }

    /// CreateRepository with its description, upstreams and tags in one call.
    pub async fn create_repository(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
        settings: &RepositorySettings,
    ) -> Result<Repository> {
        let description = (!settings.description.is_empty()).then(|| settings.description.clone());
        let req = self
            .client
            .create_repository()
            .domain(domain)
            .set_domain_owner(own(owner))
            .repository(repo);
        let req = req
            .set_description(description)
            .set_upstreams(Some(to_upstreams(&settings.upstreams)))
            .set_tags(Some(to_tags(&settings.tags)));
        let out = self.call("CreateRepository", req.send()).await?;
        out.repository()
            .map(repository_from)
            .ok_or_else(|| malformed("CreateRepository", "no repository"))
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
        let req = self
            .client
            .update_repository()
            .domain(domain)
            .set_domain_owner(own(owner))
            .repository(repo);
        let req = req
            .description(description)
            .set_upstreams(Some(to_upstreams(upstreams)));
        self.call("UpdateRepository", req.send()).await.map(|_| ())
    }

    /// DeleteRepository; a repository that is already gone counts as deleted.
    pub async fn delete_repository(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<()> {
        let req = self
            .client
            .delete_repository()
            .domain(domain)
            .set_domain_owner(own(owner))
            .repository(repo);
        not_found_is_none(
            self.call("DeleteRepository", req.send())
                .await
                .map(|_| Some(())),
        )
        .map(|_| ())
    }

    /// Connects the repository to public PyPI.
    pub async fn associate_public_pypi(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<()> {
        let req = self
            .client
            .associate_external_connection()
            .domain(domain)
            .set_domain_owner(own(owner));
        let req = req.repository(repo).external_connection(PUBLIC_PYPI);
        self.call("AssociateExternalConnection", req.send())
            .await
            .map(|_| ())
    }

    /// Disconnects the repository from public PyPI.
    pub async fn disassociate_public_pypi(
        &self,
        domain: &str,
        owner: Option<&str>,
        repo: &str,
    ) -> Result<()> {
        let req = self
            .client
            .disassociate_external_connection()
            .domain(domain)
            .set_domain_owner(own(owner));
        let req = req.repository(repo).external_connection(PUBLIC_PYPI);
        self.call("DisassociateExternalConnection", req.send())
            .await
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
        let op = "GetAuthorizationToken";
        let req = self
            .client
            .get_authorization_token()
            .domain(domain)
            .set_domain_owner(own(owner));
        let out = self
            .call(op, req.duration_seconds(duration_seconds).send())
            .await?;
        let token = out
            .authorization_token()
            .ok_or_else(|| malformed(op, "no authorizationToken"))?;
        // Whole seconds, as the Secret's annotations keep them: a token read
        // back from its Secret is then due at exactly the moment the one in
        // memory is. With sub-second times the Secret's copy came due up to a
        // second earlier, which woke objects once more per refresh for nothing
        // (`make bench`: about 300 spare reconciles per 1,000 objects).
        let expires_at = out
            .expiration()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), 0))
            .ok_or_else(|| malformed(op, "no expiration"))?;
        Ok(IssuedToken {
            token: AuthToken::new(token),
            issued_at: now.trunc_subsecs(0),
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
        let op = "GetRepositoryEndpoint";
        let req = self
            .client
            .get_repository_endpoint()
            .domain(domain)
            .set_domain_owner(own(owner));
        let out = self
            .call(op, req.repository(repo).format(PackageFormat::Pypi).send())
            .await?;
        out.repository_endpoint()
            .map(str::to_string)
            .ok_or_else(|| malformed(op, "no repositoryEndpoint"))
    }

    /// ListTagsForResource.
    pub async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        let req = self.client.list_tags_for_resource().resource_arn(arn);
        let out = self.call("ListTagsForResource", req.send()).await?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    /// TagResource: adds or overwrites these tags.
    pub async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let req = self
            .client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(to_tags(tags)));
        self.call("TagResource", req.send()).await.map(|_| ())
    }

    /// UntagResource: removes these tag keys.
    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<()> {
        let req = self
            .client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()));
        self.call("UntagResource", req.send()).await.map(|_| ())
    }

    /// Sets `set` and removes `remove` on `arn`, skipping a call with nothing to do.
    pub async fn retag(
        &self,
        arn: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<()> {
        if !set.is_empty() {
            self.tag_resource(arn, set).await?;
        }
        if !remove.is_empty() {
            self.untag_resource(arn, remove).await?;
        }
        Ok(())
    }
}
