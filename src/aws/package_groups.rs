//! Package group calls: one method per CodeArtifact operation, in this module's own types
//! (restriction types and modes as CodeArtifact's names: `PUBLISH`, `BLOCK`, ...).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_codeartifact::types::{
    PackageGroupAllowedRepository, PackageGroupOriginRestrictionMode as Mode,
    PackageGroupOriginRestrictionType as Kind, PackageGroupSummary,
};

use super::client::CodeArtifact;
use super::convert::{malformed, not_found_is_none, own, to_tags};
use super::error::AwsError;

type Result<T> = std::result::Result<T, AwsError>;

/// A package group as ListPackageGroups reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageGroup {
    pub pattern: String,
    pub arn: String,
    pub description: Option<String>,
    pub contact_info: Option<String>,
    /// Restriction type → the group's own mode.
    pub modes: BTreeMap<String, String>,
    /// Restriction type → how many repositories its allowed list holds.
    pub repository_counts: BTreeMap<String, i64>,
}

/// One entry of an allowed-repository list: restriction type and repository.
pub type Allowed = (String, String);

/// What one UpdatePackageGroupOriginConfiguration sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginUpdate {
    /// Restriction type → mode to set.
    pub modes: BTreeMap<String, String>,
    pub add: Vec<Allowed>,
    pub remove: Vec<Allowed>,
}

fn group_from(g: &PackageGroupSummary) -> PackageGroup {
    let restrictions = g
        .origin_configuration()
        .and_then(|o| o.restrictions())
        .cloned()
        .unwrap_or_default();
    PackageGroup {
        pattern: g.pattern().unwrap_or_default().to_string(),
        arn: g.arn().unwrap_or_default().to_string(),
        description: g.description().map(str::to_string),
        contact_info: g.contact_info().map(str::to_string),
        modes: restrictions
            .iter()
            .filter_map(|(k, r)| Some((k.as_str().to_string(), r.mode()?.as_str().to_string())))
            .collect(),
        repository_counts: restrictions
            .iter()
            .map(|(k, r)| (k.as_str().to_string(), r.repositories_count().unwrap_or(0)))
            .collect(),
    }
}

fn allowed(list: &[Allowed]) -> Vec<PackageGroupAllowedRepository> {
    list.iter()
        .map(|(kind, repo)| {
            PackageGroupAllowedRepository::builder()
                .repository_name(repo)
                .origin_restriction_type(Kind::from(kind.as_str()))
                .build()
        })
        .collect()
}

impl CodeArtifact {
    /// ListPackageGroups, every page.
    pub async fn list_package_groups(
        &self,
        domain: &str,
        owner: Option<&str>,
    ) -> Result<Vec<PackageGroup>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = self
                .sdk()
                .list_package_groups()
                .domain(domain)
                .set_domain_owner(own(owner))
                .set_next_token(token.take());
            let page = self.call("ListPackageGroups", req.send()).await?;
            out.extend(page.package_groups().iter().map(group_from));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// ListAllowedRepositoriesForGroup for one restriction type, every page.
    pub async fn allowed_repositories(
        &self,
        domain: &str,
        owner: Option<&str>,
        pattern: &str,
        kind: &str,
    ) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let req = self
                .sdk()
                .list_allowed_repositories_for_group()
                .domain(domain)
                .set_domain_owner(own(owner))
                .package_group(pattern)
                .origin_restriction_type(Kind::from(kind))
                .set_next_token(token.take());
            let page = self
                .call("ListAllowedRepositoriesForGroup", req.send())
                .await?;
            out.extend(page.allowed_repositories().iter().cloned());
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// CreatePackageGroup with these tags; returns the new group's ARN.
    pub async fn create_package_group(
        &self,
        domain: &str,
        owner: Option<&str>,
        pattern: &str,
        texts: (&str, &str),
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let (description, contact) = texts;
        let req = self
            .sdk()
            .create_package_group()
            .domain(domain)
            .set_domain_owner(own(owner))
            .package_group(pattern)
            .set_description((!description.is_empty()).then(|| description.to_string()))
            .set_contact_info((!contact.is_empty()).then(|| contact.to_string()))
            .set_tags(Some(to_tags(tags)));
        let out = self.call("CreatePackageGroup", req.send()).await?;
        out.package_group()
            .and_then(|g| g.arn())
            .map(str::to_string)
            .ok_or_else(|| malformed("CreatePackageGroup", "no package group"))
    }

    /// UpdatePackageGroup: description and contact info (empty clears).
    pub async fn update_package_group(
        &self,
        domain: &str,
        owner: Option<&str>,
        pattern: &str,
        texts: (&str, &str),
    ) -> Result<()> {
        let req = self
            .sdk()
            .update_package_group()
            .domain(domain)
            .set_domain_owner(own(owner))
            .package_group(pattern)
            .description(texts.0)
            .contact_info(texts.1);
        self.call("UpdatePackageGroup", req.send())
            .await
            .map(|_| ())
    }

    /// UpdatePackageGroupOriginConfiguration.
    pub async fn update_package_group_origin(
        &self,
        domain: &str,
        owner: Option<&str>,
        pattern: &str,
        update: &OriginUpdate,
    ) -> Result<()> {
        let mut req = self
            .sdk()
            .update_package_group_origin_configuration()
            .domain(domain)
            .set_domain_owner(own(owner))
            .package_group(pattern);
        for (kind, mode) in &update.modes {
            req = req.restrictions(Kind::from(kind.as_str()), Mode::from(mode.as_str()));
        }
        if !update.add.is_empty() {
            req = req.set_add_allowed_repositories(Some(allowed(&update.add)));
        }
        if !update.remove.is_empty() {
            req = req.set_remove_allowed_repositories(Some(allowed(&update.remove)));
        }
        self.call("UpdatePackageGroupOriginConfiguration", req.send())
            .await
            .map(|_| ())
    }

    /// DeletePackageGroup; a group already gone counts as deleted.
    pub async fn delete_package_group(
        &self,
        domain: &str,
        owner: Option<&str>,
        pattern: &str,
    ) -> Result<()> {
        let req = self
            .sdk()
            .delete_package_group()
            .domain(domain)
            .set_domain_owner(own(owner))
            .package_group(pattern);
        let out = self.call("DeletePackageGroup", req.send()).await;
        not_found_is_none(out.map(|_| Some(()))).map(|_| ())
    }
}
