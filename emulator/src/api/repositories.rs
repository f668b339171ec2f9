//! CreateRepository, DescribeRepository, UpdateRepository, DeleteRepository and
//! ListRepositoriesInDomain, with the upstream rules (same domain, at most 10, no cycles).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::domains::{TagIn, tag_map};
use super::output::{repository_description, repository_summary};
use super::request::{Call, paginate};
use crate::clock::real_now;
use crate::context::Context;
use crate::error::ApiError;
use crate::state::{Domain, Repository};
use crate::validate;

/// Direct upstreams allowed per repository (not adjustable in AWS).
pub const MAX_UPSTREAMS: usize = 10;
/// Repositories per domain (AWS default quota).
const MAX_REPOSITORIES: usize = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpstreamIn {
    repository_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryBody {
    description: Option<String>,
    upstreams: Option<Vec<UpstreamIn>>,
    #[serde(default)]
    tags: Vec<TagIn>,
}

fn upstream_names(body: &RepositoryBody) -> Result<Option<Vec<String>>, ApiError> {
    let Some(ups) = &body.upstreams else {
        return Ok(None);
    };
    let names: Vec<String> = ups.iter().map(|u| u.repository_name.clone()).collect();
    for n in &names {
        validate::repository_name("upstreams.member.repositoryName", n)?;
    }
    Ok(Some(names))
}

/// Whether `target` is reachable from `from` by following upstream links.
fn reaches(domain: &Domain, from: &str, target: &str) -> bool {
    let mut stack = vec![from.to_string()];
    let mut seen = HashSet::new();
    while let Some(name) = stack.pop() {
        if name == target {
            return true;
        }
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Ok(r) = domain.repository(&name) {
            stack.extend(r.upstreams.iter().cloned());
        }
    }
    false
}

/// Check a new upstream list for `repo` against the domain.
fn check_upstreams(domain: &Domain, repo: &str, ups: &[String]) -> Result<(), ApiError> {
    if ups.len() > MAX_UPSTREAMS {
        return Err(ApiError::QuotaExceeded {
            message: format!(
                "A repository can have at most {MAX_UPSTREAMS} upstream repositories; {} were given",
                ups.len()
            ),
            resource_id: repo.to_string(),
            resource_type: "repository",
        });
    }
    let mut seen = HashSet::new();
    for u in ups {
        if u == repo {
            return Err(ApiError::other(format!(
                "Repository '{repo}' cannot be an upstream of itself"
            )));
        }
        if !seen.insert(u) {
            return Err(ApiError::other(format!(
                "Upstream repository '{u}' is listed more than once"
            )));
        }
        domain.repository(u)?;
        if reaches(domain, u, repo) {
            return Err(ApiError::other(format!(
                "Adding upstream '{u}' to repository '{repo}' would create a cycle"
            )));
        }
    }
    Ok(())
}

/// CreateRepository.
pub fn create(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, name) = call.repository_path()?;
    let body: RepositoryBody = call.body()?;
    if let Some(d) = &body.description {
        validate::description("description", d)?;
    }
    let ups = upstream_names(&body)?.unwrap_or_default();
    let tags = tag_map(&body.tags)?;
    let region = &ctx.config.region;
    ctx.mutate(|s| {
        let d = s.domain_mut(&owner, domain)?;
        if d.repository(name).is_ok() {
            return Err(ApiError::conflict(
                "repository",
                name,
                format!("Repository '{name}' already exists in domain '{domain}'"),
            ));
        }
        if d.repositories.len() >= MAX_REPOSITORIES {
            return Err(ApiError::QuotaExceeded {
                message: format!("Domain '{domain}' already has {MAX_REPOSITORIES} repositories"),
                resource_id: domain.to_string(),
                resource_type: "domain",
            });
        }
        check_upstreams(d, name, &ups)?;
        let repo = Repository {
            name: name.to_string(),
            description: body.description.clone(),
            upstreams: ups.clone(),
            external_connections: Vec::new(),
            created: real_now(),
            tags: tags.clone(),
            policy: None,
            packages: BTreeMap::new(),
        };
        let out = repository_description(region, d, &repo);
        d.repositories.push(Arc::new(repo));
        Ok(json!({ "repository": out }))
    })
}

/// DescribeRepository.
pub fn describe(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, name) = call.repository_path()?;
    ctx.read(|s| {
        let d = s.domain(&owner, domain)?;
        let r = d.repository(name)?;
        Ok(json!({ "repository": repository_description(&ctx.config.region, d, r) }))
    })
}

/// UpdateRepository: an absent member keeps its value; `"upstreams": []` removes all.
pub fn update(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, name) = call.repository_path()?;
    let body: RepositoryBody = call.body()?;
    if let Some(d) = &body.description {
        validate::description("description", d)?;
    }
    let ups = upstream_names(&body)?;
    ctx.mutate(|s| {
        let d = s.domain_mut(&owner, domain)?;
        d.repository(name)?;
        if let Some(ups) = &ups {
            check_upstreams(d, name, ups)?;
        }
        let r = d.repository_mut(name)?;
        if let Some(desc) = &body.description {
            r.description = Some(desc.clone());
        }
        if let Some(ups) = ups {
            r.upstreams = ups;
        }
        let d = s.domain(&owner, domain)?;
        let out = repository_description(&ctx.config.region, d, d.repository(name)?);
        Ok(json!({ "repository": out }))
    })
}

/// DeleteRepository: also drops it from other repositories' upstream lists.
pub fn delete(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, name) = call.repository_path()?;
    ctx.mutate(|s| {
        let d = s.domain_mut(&owner, domain)?;
        let out = repository_description(&ctx.config.region, d, d.repository(name)?);
        d.repositories.retain(|r| r.name != name);
        // Only the repositories that named it are copied (copy on write).
        for r in d
            .repositories
            .iter_mut()
            .filter(|r| r.upstreams.iter().any(|u| u == name))
        {
            Arc::make_mut(r).upstreams.retain(|u| u != name);
        }
        Ok(json!({ "repository": out }))
    })
}

/// ListRepositoriesInDomain.
pub fn list(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let admin = call.opt("administrator-account");
    if let Some(a) = admin {
        validate::account_id("administrator-account", a)?;
    }
    let prefix = call.opt("repository-prefix");
    if let Some(p) = prefix {
        validate::repository_prefix("repository-prefix", p)?;
    }
    let max = call.max_results()?;
    let mut repos: Vec<Value> = ctx.read(|s| {
        let d = s.domain(&owner, domain)?;
        // Every repository of a domain is administered by the domain owner's account.
        let admin_matches = admin.is_none_or(|a| a == d.owner);
        Ok::<_, ApiError>(
            d.repositories
                .iter()
                .filter(|_| admin_matches)
                .filter(|r| prefix.is_none_or(|p| r.name.starts_with(p)))
                .map(|r| repository_summary(&ctx.config.region, d, r))
                .collect(),
        )
    })?;
    let key = |r: &Value| r["name"].as_str().unwrap_or_default().to_string();
    repos.sort_by_key(key);
    let (page, next) = paginate(repos, key, max, call.opt("next-token"))?;
    let mut out = json!({ "repositories": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}
