//! TagResource, UntagResource and ListTagsForResource, addressed by domain, repository or
//! package group ARN.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::domains::{TagIn, tag_map};
use super::output;
use super::request::Call;
use crate::context::Context;
use crate::error::ApiError;
use crate::state::State;
use crate::state::group_pattern::from_arn_component;
use crate::validate;

/// User tags allowed per resource (the AWS tagging limit).
const MAX_TAGS: usize = 50;

/// What a CodeArtifact ARN names.
#[derive(Debug, PartialEq, Eq)]
pub enum Resource {
    Domain {
        owner: String,
        domain: String,
    },
    Repository {
        owner: String,
        domain: String,
        repository: String,
    },
    PackageGroup {
        owner: String,
        domain: String,
        pattern: String,
    },
}

/// Parse a domain or repository ARN of `region`.
pub fn parse_arn(arn: &str, region: &str) -> Result<Resource, ApiError> {
    let invalid = || ApiError::field(format!("Invalid resource ARN '{arn}'"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", "aws", "codeartifact", r, owner, resource] = parts[..] else {
        return Err(invalid());
    };
    validate::account_id("resourceArn", owner).map_err(|_| invalid())?;
    if r != region {
        return Err(ApiError::not_found(
            "domain",
            arn,
            format!("Resource '{arn}' is not in region {region}"),
        ));
    }
    let owner = owner.to_string();
    if let Some(rest) = resource.strip_prefix("package-group/") {
        let (domain, encoded) = rest.split_once('/').ok_or_else(invalid)?;
        return Ok(Resource::PackageGroup {
            owner,
            domain: domain.to_string(),
            pattern: from_arn_component(encoded),
        });
    }
    match resource.split('/').collect::<Vec<_>>()[..] {
        ["domain", d] => Ok(Resource::Domain {
            owner,
            domain: d.to_string(),
        }),
        ["repository", d, repo] => Ok(Resource::Repository {
            owner,
            domain: d.to_string(),
            repository: repo.to_string(),
        }),
        _ => Err(invalid()),
    }
}

fn tags_of<'a>(
    s: &'a mut State,
    res: &Resource,
) -> Result<&'a mut BTreeMap<String, String>, ApiError> {
    match res {
        Resource::Domain { owner, domain } => Ok(&mut s.domain_mut(owner, domain)?.tags),
        Resource::Repository {
            owner,
            domain,
            repository,
        } => Ok(&mut s.repository_mut(owner, domain, repository)?.tags),
        Resource::PackageGroup {
            owner,
            domain,
            pattern,
        } => Ok(&mut s.domain_mut(owner, domain)?.group_mut(pattern)?.tags),
    }
}

fn resource(ctx: &Context, call: &Call) -> Result<Resource, ApiError> {
    let arn = call.req("resourceArn")?;
    validate::non_space("resourceArn", arn, 1011)?;
    parse_arn(arn, &ctx.config.region)
}

#[derive(Deserialize)]
struct TagBody {
    tags: Option<Vec<TagIn>>,
}

/// TagResource: adds or overwrites tags.
pub fn tag(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let res = resource(ctx, call)?;
    let body: TagBody = call.body()?;
    let new = tag_map(
        body.tags
            .as_deref()
            .ok_or_else(|| validate::missing("tags"))?,
    )?;
    let arn = call.req("resourceArn")?;
    ctx.mutate(|s| {
        let tags = tags_of(s, &res)?;
        tags.extend(new);
        if tags.len() > MAX_TAGS {
            return Err(ApiError::QuotaExceeded {
                message: format!("A resource can have at most {MAX_TAGS} tags"),
                resource_id: arn.to_string(),
                resource_type: match res {
                    Resource::Domain { .. } => "domain",
                    Resource::Repository { .. } => "repository",
                    Resource::PackageGroup { .. } => "package-group",
                },
            });
        }
        Ok(json!({}))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagBody {
    tag_keys: Option<Vec<String>>,
}

/// UntagResource: removes the given keys (absent keys are ignored).
pub fn untag(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let res = resource(ctx, call)?;
    let body: UntagBody = call.body()?;
    let keys = body.tag_keys.ok_or_else(|| validate::missing("tagKeys"))?;
    for k in &keys {
        validate::tag_key("tagKeys.member", k)?;
    }
    ctx.mutate(|s| {
        let tags = tags_of(s, &res)?;
        for k in &keys {
            tags.remove(k);
        }
        Ok(json!({}))
    })
}

/// ListTagsForResource.
pub fn list(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let res = resource(ctx, call)?;
    ctx.read(|s| {
        let tags = match &res {
            Resource::Domain { owner, domain } => &s.domain(owner, domain)?.tags,
            Resource::Repository {
                owner,
                domain,
                repository,
            } => &s.repository(owner, domain, repository)?.tags,
            Resource::PackageGroup {
                owner,
                domain,
                pattern,
            } => &s.domain(owner, domain)?.group(pattern)?.tags,
        };
        Ok(json!({ "tags": output::tags(tags) }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse_into_resources() {
        assert_eq!(
            parse_arn(
                "arn:aws:codeartifact:us-west-2:111122223333:domain/d1",
                "us-west-2"
            )
            .unwrap(),
            Resource::Domain {
                owner: "111122223333".into(),
                domain: "d1".into()
            }
        );
        assert!(matches!(
            parse_arn(
                "arn:aws:codeartifact:us-west-2:111122223333:repository/d1/r1",
                "us-west-2"
            ),
            Ok(Resource::Repository { .. })
        ));
        assert_eq!(
            parse_arn(
                "arn:aws:codeartifact:us-west-2:111122223333:package-group/d1/pypi//acme~",
                "us-west-2"
            )
            .unwrap(),
            Resource::PackageGroup {
                owner: "111122223333".into(),
                domain: "d1".into(),
                pattern: "/pypi//acme~".into()
            }
        );
        assert!(parse_arn("arn:aws:s3:::bucket", "us-west-2").is_err());
        assert!(matches!(
            parse_arn(
                "arn:aws:codeartifact:eu-west-1:111122223333:domain/d1",
                "us-west-2"
            ),
            Err(ApiError::NotFound { .. })
        ));
    }
}
