//! CreateDomain, DescribeDomain, DeleteDomain and ListDomains.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::output::{domain_description, domain_summary};
use super::request::{Call, paginate};
use crate::clock::real_now;
use crate::context::Context;
use crate::error::ApiError;
use crate::state::Domain;
use crate::state::package_groups::{PackageGroup, ROOT};
use crate::validate;

/// A `Tag` input member.
#[derive(Deserialize)]
pub struct TagIn {
    pub key: String,
    pub value: String,
}

/// Validate a `TagList` and turn it into a map (a repeated key keeps the last value).
pub fn tag_map(tags: &[TagIn]) -> Result<BTreeMap<String, String>, ApiError> {
    if tags.len() > 200 {
        return Err(ApiError::field(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200",
        ));
    }
    let mut out = BTreeMap::new();
    for t in tags {
        validate::tag_key("tags.member.key", &t.key)?;
        validate::tag_value("tags.member.value", &t.value)?;
        out.insert(t.key.clone(), t.value.clone());
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    encryption_key: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
}

/// The key ARN shown for `encryptionKey` (AWS resolves ids and aliases to ARNs).
fn key_arn(region: &str, account: &str, given: Option<&str>) -> String {
    match given {
        Some(k) if k.starts_with("arn:") => k.to_string(),
        Some(k) if k.starts_with("alias/") => format!("arn:aws:kms:{region}:{account}:{k}"),
        Some(k) => format!("arn:aws:kms:{region}:{account}:key/{k}"),
        // Stands in for the AWS-managed key `aws/codeartifact`.
        None => format!("arn:aws:kms:{region}:{account}:key/aws-codeartifact-managed"),
    }
}

/// CreateDomain: always in the caller's account.
pub fn create(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let name = call.domain()?;
    let body: CreateBody = call.body()?;
    if let Some(k) = &body.encryption_key {
        validate::non_space("encryptionKey", k, 1011)?;
    }
    let tags = tag_map(&body.tags)?;
    let owner = call.caller.account_id.clone();
    let region = &ctx.config.region;
    ctx.mutate(|s| {
        if s.domain(&owner, name).is_ok() {
            return Err(ApiError::conflict(
                "domain",
                name,
                format!("Domain '{name}' already exists in account '{owner}'"),
            ));
        }
        let created = real_now();
        let domain = Domain {
            name: name.to_string(),
            owner: owner.clone(),
            created,
            encryption_key: key_arn(region, &owner, body.encryption_key.as_deref()),
            tags,
            policy: None,
            repositories: Vec::new(),
            package_groups: vec![PackageGroup::new(ROOT, created)],
        };
        let out = domain_description(region, &domain);
        s.domains.push(Arc::new(domain));
        Ok(json!({ "domain": out }))
    })
}

/// DescribeDomain.
pub fn describe(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (name, owner) = (call.domain()?, call.owner()?);
    ctx.read(|s| {
        let d = s.domain(&owner, name)?;
        Ok(json!({ "domain": domain_description(&ctx.config.region, d) }))
    })
}

/// DeleteDomain: refused while the domain holds repositories.
pub fn delete(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (name, owner) = (call.domain()?, call.owner()?);
    ctx.mutate(|s| {
        let d = s.domain(&owner, name)?;
        if !d.repositories.is_empty() {
            return Err(ApiError::conflict(
                "domain",
                name,
                format!(
                    "Domain '{name}' contains {} repositories and cannot be deleted. Delete the repositories first.",
                    d.repositories.len()
                ),
            ));
        }
        let mut out = domain_description(&ctx.config.region, d);
        out["status"] = json!("Deleted");
        s.domains.retain(|d| !(d.owner == owner && d.name == name));
        Ok(json!({ "domain": out }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListBody {
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// ListDomains: the caller account's domains, sorted by name.
pub fn list(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let body: ListBody = call.body()?;
    let max = body
        .max_results
        .map(|n| validate::int_range("maxResults", &n.to_string(), 1, 1000).map(|n| n as usize))
        .transpose()?;
    let owner = &call.caller.account_id;
    let region = &ctx.config.region;
    let mut domains: Vec<Value> = ctx.read(|s| {
        s.domains
            .iter()
            .filter(|d| &d.owner == owner)
            .map(|d| domain_summary(region, d))
            .collect()
    });
    domains.sort_by_key(|d| d["name"].as_str().unwrap_or_default().to_string());
    let key = |d: &Value| d["name"].as_str().unwrap_or_default().to_string();
    let (page, next) = paginate(domains, key, max, body.next_token.as_deref())?;
    let mut out = json!({ "domains": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}
