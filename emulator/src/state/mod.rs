//! The emulated resources (domains, repositories, packages, tokens) and lookups over them.
//!
//! Everything lives in one [`State`] value behind one mutex, which serialises concurrent
//! conflicting writes; `persist` writes it to the `--state` file after each mutation.
//! Domains, repositories and tokens are shared (`Arc`) between a state and its copies,
//! so the copy each mutation works on costs a pointer per domain, per token and per
//! repository of the domain it changes, not a deep copy of everything (which made N
//! creates cost O(N²)).

pub mod base64_bytes;
pub mod group_pattern;
mod names;
pub mod package_groups;
pub mod persist;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::roles::Grant;
pub use names::normalize;
use package_groups::{Groups, PackageGroup};

/// All emulated resources.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Domains of every account; changed through [`State::domain_mut`] (copy on write).
    pub domains: Vec<Arc<Domain>>,
    /// Every token ever issued (expired ones included, for leak scans); shared
    /// with the state's copies like domains (a token never changes once issued).
    pub tokens: Vec<Arc<Token>>,
}

/// A domain.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub name: String,
    pub owner: String,
    pub created: f64,
    pub encryption_key: String,
    pub tags: BTreeMap<String, String>,
    pub policy: Option<Policy>,
    /// Changed through [`Domain::repository_mut`] (copy on write).
    pub repositories: Vec<Arc<Repository>>,
    /// Package groups, the root `/*` included.
    #[serde(default = "package_groups::root_only")]
    pub package_groups: Vec<PackageGroup>,
}

/// A repository inside a domain.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    pub name: String,
    pub description: Option<String>,
    /// Direct upstreams in priority order.
    pub upstreams: Vec<String>,
    pub external_connections: Vec<String>,
    pub created: f64,
    pub tags: BTreeMap<String, String>,
    pub policy: Option<Policy>,
    /// Packages keyed by [`package_key`].
    pub packages: BTreeMap<String, Package>,
}

/// A resource policy and its revision (the optimistic-lock token).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub revision: String,
    pub document: String,
}

/// A package in one repository.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub format: String,
    pub namespace: Option<String>,
    /// For PyPI the normalised name.
    pub name: String,
    pub origin: Restrictions,
    pub versions: BTreeMap<String, Version>,
}

/// Package origin controls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restrictions {
    pub publish: String,
    pub upstream: String,
}

impl Restrictions {
    /// AWS's default for a package first published directly: publishing allowed, upstream blocked.
    pub fn published() -> Self {
        Restrictions {
            publish: "ALLOW".into(),
            upstream: "BLOCK".into(),
        }
    }

    /// AWS's default for a package first ingested from an upstream or external connection.
    pub fn ingested() -> Self {
        Restrictions {
            publish: "BLOCK".into(),
            upstream: "ALLOW".into(),
        }
    }
}

/// One version of a package.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version: String,
    pub revision: String,
    /// A PackageVersionStatus value.
    pub status: String,
    pub published: f64,
    /// INTERNAL or EXTERNAL.
    pub origin_type: String,
    /// Where the version entered the domain.
    pub entry: EntryPoint,
    pub files: Vec<DistFile>,
}

/// `DomainEntryPoint`: a repository (published) or an external connection (ingested).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryPoint {
    pub repository_name: Option<String>,
    pub external_connection_name: Option<String>,
}

/// A distribution file (wheel or sdist).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DistFile {
    pub filename: String,
    pub sha256: String,
    pub requires_python: Option<String>,
    #[serde(with = "base64_bytes")]
    pub content: Bytes,
}

/// An issued authorization token.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub token: String,
    pub domain: String,
    pub owner: String,
    pub access_key_id: String,
    /// Expiry in emulated epoch seconds.
    pub expires: f64,
    /// For a token minted by a role session: the permissions it carries (role policy and
    /// session policy), checked on every PyPI request. `None`: minted by a long-term key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
}

/// Upstream repositories searched when resolving a package (AWS quota, not adjustable),
/// counting the repository asked first.
pub const MAX_SEARCHED: usize = 25;

/// The map key of a package: format, namespace and name cannot contain `/`.
pub fn package_key(format: &str, namespace: Option<&str>, name: &str) -> String {
    format!("{format}/{}/{name}", namespace.unwrap_or(""))
}

/// A fresh opaque revision string (package versions and policies).
pub fn new_revision() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut b = [0u8; 30];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn domain_missing(owner: &str, name: &str) -> ApiError {
    ApiError::not_found(
        "domain",
        name,
        format!("Domain not found. Domain '{name}' owned by account '{owner}' does not exist."),
    )
}

fn repository_missing(domain: &Domain, name: &str) -> ApiError {
    ApiError::not_found(
        "repository",
        name,
        format!(
            "Repository not found. Repository '{name}' in domain '{}' owned by account '{}' does not exist.",
            domain.name, domain.owner
        ),
    )
}

impl State {
    /// The domain `name` owned by `owner`.
    pub fn domain(&self, owner: &str, name: &str) -> Result<&Domain, ApiError> {
        self.domains
            .iter()
            .find(|d| d.owner == owner && d.name == name)
            .map(Arc::as_ref)
            .ok_or_else(|| domain_missing(owner, name))
    }

    /// Mutable [`State::domain`]; unshares that domain (not its repositories) from
    /// the states this one was copied from.
    pub fn domain_mut(&mut self, owner: &str, name: &str) -> Result<&mut Domain, ApiError> {
        self.domains
            .iter_mut()
            .find(|d| d.owner == owner && d.name == name)
            .map(Arc::make_mut)
            .ok_or_else(|| domain_missing(owner, name))
    }

    /// The repository `repo` in domain `name` owned by `owner`.
    pub fn repository(&self, owner: &str, name: &str, repo: &str) -> Result<&Repository, ApiError> {
        self.domain(owner, name)?.repository(repo)
    }

    /// Mutable [`State::repository`].
    pub fn repository_mut(
        &mut self,
        owner: &str,
        name: &str,
        repo: &str,
    ) -> Result<&mut Repository, ApiError> {
        self.domain_mut(owner, name)?.repository_mut(repo)
    }
}

fn group_missing(d: &Domain, pattern: &str) -> ApiError {
    ApiError::not_found(
        "package-group",
        pattern,
        format!(
            "Package group '{pattern}' not found in domain '{}' owned by account '{}'.",
            d.name, d.owner
        ),
    )
}

impl Domain {
    /// The package groups, for the questions asked of them.
    pub fn groups(&self) -> Groups<'_> {
        Groups(&self.package_groups)
    }

    /// The package group with exactly this pattern.
    pub fn group(&self, pattern: &str) -> Result<&PackageGroup, ApiError> {
        self.groups()
            .get(pattern)
            .ok_or_else(|| group_missing(self, pattern))
    }

    /// Mutable [`Domain::group`].
    pub fn group_mut(&mut self, pattern: &str) -> Result<&mut PackageGroup, ApiError> {
        let missing = group_missing(self, pattern);
        self.package_groups
            .iter_mut()
            .find(|g| g.pattern == pattern)
            .ok_or(missing)
    }

    /// The repository `name` in this domain.
    pub fn repository(&self, name: &str) -> Result<&Repository, ApiError> {
        self.repositories
            .iter()
            .find(|r| r.name == name)
            .map(Arc::as_ref)
            .ok_or_else(|| repository_missing(self, name))
    }

    /// Mutable [`Domain::repository`]; unshares that repository only.
    pub fn repository_mut(&mut self, name: &str) -> Result<&mut Repository, ApiError> {
        match self.repositories.iter().position(|r| r.name == name) {
            Some(i) => Ok(Arc::make_mut(&mut self.repositories[i])),
            None => Err(repository_missing(self, name)),
        }
    }

    /// Repositories searched when resolving a package from `start`: `start` first, then its
    /// upstreams in priority order, depth first, each once, at most [`MAX_SEARCHED`] in all.
    pub fn search_order(&self, start: &str) -> Vec<&Repository> {
        self.search_order_with(start, |_| true)
    }

    /// [`Domain::search_order`], descending from a repository only where `descend` allows it
    /// (a package whose origin controls block upstreams stops the search there).
    pub fn search_order_with(
        &self,
        start: &str,
        descend: impl Fn(&Repository) -> bool,
    ) -> Vec<&Repository> {
        let mut order: Vec<&Repository> = Vec::new();
        let mut stack = vec![start];
        while let Some(name) = stack.pop() {
            if order.len() >= MAX_SEARCHED {
                break;
            }
            if order.iter().any(|r| r.name == name) {
                continue;
            }
            if let Ok(r) = self.repository(name) {
                order.push(r);
                if descend(r) {
                    stack.extend(r.upstreams.iter().rev().map(String::as_str));
                }
            }
        }
        order
    }

    /// Total bytes of all stored files in the domain.
    pub fn asset_size(&self) -> u64 {
        self.repositories
            .iter()
            .flat_map(|r| r.packages.values())
            .flat_map(|p| p.versions.values())
            .flat_map(|v| v.files.iter())
            .map(|f| f.content.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests;
