//! Resource policies (permissions policies) of domains and repositories:
//! Get, Put and Delete, with the policy revision as CodeArtifact's
//! optimistic lock.

use aws_sdk_codeartifact::types::ResourcePolicy;

use super::client::{CodeArtifact, Result};
use super::convert::{malformed, not_found_is_none, own};

/// What a policy is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyOn<'a> {
    /// A domain: name and owner (`None`: the caller's account).
    Domain(&'a str, Option<&'a str>),
    /// A repository: domain, owner and repository name.
    Repository(&'a str, Option<&'a str>, &'a str),
}

/// A policy as CodeArtifact holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldPolicy {
    /// Its revision, the lock of Put and Delete.
    pub revision: String,
    /// The document text.
    pub document: String,
}

fn held(op: &'static str, p: Option<&ResourcePolicy>) -> Result<HeldPolicy> {
    let p = p.ok_or_else(|| malformed(op, "no policy"))?;
    Ok(HeldPolicy {
        revision: p
            .revision()
            .ok_or_else(|| malformed(op, "no policy revision"))?
            .to_string(),
        document: p.document().unwrap_or_default().to_string(),
    })
}

impl CodeArtifact {
    /// Get*PermissionsPolicy; `None` when there is none (or no such resource).
    pub async fn get_policy(&self, on: PolicyOn<'_>) -> Result<Option<HeldPolicy>> {
        let out = match on {
            PolicyOn::Domain(domain, owner) => {
                let op = "GetDomainPermissionsPolicy";
                let req = self.client.get_domain_permissions_policy().domain(domain);
                let out = self.call(op, req.set_domain_owner(own(owner)).send()).await;
                out.and_then(|o| held(op, o.policy()).map(Some))
            }
            PolicyOn::Repository(domain, owner, repo) => {
                let op = "GetRepositoryPermissionsPolicy";
                let req = self.client.get_repository_permissions_policy();
                let req = req.domain(domain).set_domain_owner(own(owner));
                let out = self.call(op, req.repository(repo).send()).await;
                out.and_then(|o| held(op, o.policy()).map(Some))
            }
        };
        not_found_is_none(out)
    }

    /// Put*PermissionsPolicy; `revision` must be the held one (`None` when
    /// there is none), otherwise CodeArtifact answers with a conflict.
    pub async fn put_policy(
        &self,
        on: PolicyOn<'_>,
        revision: Option<&str>,
        document: &str,
    ) -> Result<HeldPolicy> {
        let revision = revision.map(str::to_string);
        match on {
            PolicyOn::Domain(domain, owner) => {
                let op = "PutDomainPermissionsPolicy";
                let req = self.client.put_domain_permissions_policy().domain(domain);
                let req = req
                    .set_domain_owner(own(owner))
                    .set_policy_revision(revision);
                let out = self.call(op, req.policy_document(document).send()).await?;
                held(op, out.policy())
            }
            PolicyOn::Repository(domain, owner, repo) => {
                let op = "PutRepositoryPermissionsPolicy";
                let req = self.client.put_repository_permissions_policy();
                let req = req.domain(domain).set_domain_owner(own(owner));
                let req = req.repository(repo).set_policy_revision(revision);
                let out = self.call(op, req.policy_document(document).send()).await?;
                held(op, out.policy())
            }
        }
    }

    /// Delete*PermissionsPolicy at `revision`; a policy already gone counts as deleted.
    pub async fn delete_policy(&self, on: PolicyOn<'_>, revision: &str) -> Result<()> {
        let out = match on {
            PolicyOn::Domain(domain, owner) => {
                let req = self
                    .client
                    .delete_domain_permissions_policy()
                    .domain(domain);
                let req = req.set_domain_owner(own(owner)).policy_revision(revision);
                self.call("DeleteDomainPermissionsPolicy", req.send())
                    .await
                    .map(|_| Some(()))
            }
            PolicyOn::Repository(domain, owner, repo) => {
                let req = self.client.delete_repository_permissions_policy();
                let req = req.domain(domain).set_domain_owner(own(owner));
                let req = req.repository(repo).policy_revision(revision);
                self.call("DeleteRepositoryPermissionsPolicy", req.send())
                    .await
                    .map(|_| Some(()))
            }
        };
        not_found_is_none(out).map(|_| ())
    }
}
