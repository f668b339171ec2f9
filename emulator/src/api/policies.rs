//! Put/Get/Delete DomainPermissionsPolicy and RepositoryPermissionsPolicy, with the policy
//! revision as an optimistic lock (a mismatch is a ConflictException).

use serde::Deserialize;
use serde_json::{Value, json};

use super::output::{self, domain_arn, repository_arn};
use super::request::{Call, owner_or_caller};
use crate::context::Context;
use crate::error::ApiError;
use crate::state::{Policy, State, new_revision};
use crate::validate;

/// Where a policy lives.
enum Target<'a> {
    Domain(String, &'a str),
    Repository(String, &'a str, &'a str),
}

impl Target<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Target::Domain(..) => "domain",
            Target::Repository(..) => "repository",
        }
    }

    fn arn(&self, region: &str) -> String {
        match self {
            Target::Domain(o, d) => domain_arn(region, o, d),
            Target::Repository(o, d, r) => repository_arn(region, o, d, r),
        }
    }

    fn slot<'s>(&self, s: &'s mut State) -> Result<&'s mut Option<Policy>, ApiError> {
        match self {
            Target::Domain(o, d) => Ok(&mut s.domain_mut(o, d)?.policy),
            Target::Repository(o, d, r) => Ok(&mut s.repository_mut(o, d, r)?.policy),
        }
    }

    fn current<'s>(&self, s: &'s State) -> Result<&'s Option<Policy>, ApiError> {
        match self {
            Target::Domain(o, d) => Ok(&s.domain(o, d)?.policy),
            Target::Repository(o, d, r) => Ok(&s.repository(o, d, r)?.policy),
        }
    }

    fn no_policy(&self, region: &str) -> ApiError {
        let (kind, id) = match self {
            Target::Domain(_, d) => ("domain", *d),
            Target::Repository(_, _, r) => ("repository", *r),
        };
        ApiError::not_found(
            kind,
            id,
            format!("No resource policy is set on {}", self.arn(region)),
        )
    }
}

fn check_document(doc: &str) -> Result<(), ApiError> {
    validate::policy_document("policyDocument", doc)?;
    match serde_json::from_str::<Value>(doc) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(ApiError::field(
            "The policy document is not a valid JSON policy",
        )),
    }
}

fn put(
    ctx: &Context,
    target: &Target<'_>,
    revision: Option<&str>,
    doc: &str,
) -> Result<Value, ApiError> {
    if let Some(r) = revision {
        validate::non_space("policyRevision", r, 100)?;
    }
    check_document(doc)?;
    let region = &ctx.config.region;
    ctx.mutate(|s| {
        let slot = target.slot(s)?;
        let current = slot.as_ref().map(|p| p.revision.as_str());
        if revision.is_some() && revision != current {
            return Err(ApiError::conflict(
                target.kind(),
                target.arn(region),
                "The policy revision does not match the current revision",
            ));
        }
        let policy = Policy {
            revision: new_revision(),
            document: doc.to_string(),
        };
        let out = output::policy(&target.arn(region), &policy);
        *slot = Some(policy);
        Ok(json!({ "policy": out }))
    })
}

fn get(ctx: &Context, target: &Target<'_>) -> Result<Value, ApiError> {
    let region = &ctx.config.region;
    ctx.read(|s| {
        let p = target
            .current(s)?
            .as_ref()
            .ok_or_else(|| target.no_policy(region))?;
        Ok(json!({ "policy": output::policy(&target.arn(region), p) }))
    })
}

fn delete(ctx: &Context, target: &Target<'_>, revision: Option<&str>) -> Result<Value, ApiError> {
    if let Some(r) = revision {
        validate::non_space("policy-revision", r, 100)?;
    }
    let region = &ctx.config.region;
    ctx.mutate(|s| {
        let slot = target.slot(s)?;
        let p = slot.as_ref().ok_or_else(|| target.no_policy(region))?;
        if revision.is_some_and(|r| r != p.revision) {
            return Err(ApiError::conflict(
                target.kind(),
                target.arn(region),
                "The policy revision does not match the current revision",
            ));
        }
        let out = output::policy(&target.arn(region), p);
        *slot = None;
        Ok(json!({ "policy": out }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DomainPolicyBody {
    domain: Option<String>,
    domain_owner: Option<String>,
    policy_revision: Option<String>,
    policy_document: Option<String>,
}

/// PutDomainPermissionsPolicy: the only operation with `domain`/`domainOwner` in the body.
pub fn put_domain(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let body: DomainPolicyBody = call.body()?;
    let domain = body
        .domain
        .as_deref()
        .ok_or_else(|| validate::missing("domain"))?;
    validate::domain_name("domain", domain)?;
    let owner = owner_or_caller(body.domain_owner.as_deref(), "domainOwner", &call.caller)?;
    let doc = body
        .policy_document
        .as_deref()
        .ok_or_else(|| validate::missing("policyDocument"))?;
    let target = Target::Domain(owner, domain);
    put(ctx, &target, body.policy_revision.as_deref(), doc)
}

/// GetDomainPermissionsPolicy.
pub fn get_domain(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    get(ctx, &Target::Domain(call.owner()?, call.domain()?))
}

/// DeleteDomainPermissionsPolicy.
pub fn delete_domain(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let target = Target::Domain(call.owner()?, call.domain()?);
    delete(ctx, &target, call.opt("policy-revision"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryPolicyBody {
    policy_revision: Option<String>,
    policy_document: Option<String>,
}

fn repository_target<'a>(call: &'a Call) -> Result<Target<'a>, ApiError> {
    Ok(Target::Repository(
        call.owner()?,
        call.domain()?,
        call.repository("repository")?,
    ))
}

/// PutRepositoryPermissionsPolicy.
pub fn put_repository(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let target = repository_target(call)?;
    let body: RepositoryPolicyBody = call.body()?;
    let doc = body
        .policy_document
        .as_deref()
        .ok_or_else(|| validate::missing("policyDocument"))?;
    put(ctx, &target, body.policy_revision.as_deref(), doc)
}

/// GetRepositoryPermissionsPolicy.
pub fn get_repository(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    get(ctx, &repository_target(call)?)
}

/// DeleteRepositoryPermissionsPolicy (path `/policies`, plural).
pub fn delete_repository(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    delete(ctx, &repository_target(call)?, call.opt("policy-revision"))
}
