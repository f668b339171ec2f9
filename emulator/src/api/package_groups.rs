//! Package group operations: Create, Describe, Update, Delete, List, ListSubPackageGroups,
//! UpdatePackageGroupOriginConfiguration, GetAssociatedPackageGroup and
//! ListAllowedRepositoriesForGroup, with the `PackageGroupDescription` they return.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::domains::{TagIn, tag_map};
use super::group_output::description;
use super::request::{Call, paginate};
use crate::clock::real_now;
use crate::context::Context;
use crate::error::ApiError;
use crate::state::group_pattern::parse;
use crate::state::package_groups::{MODES, PackageGroup, ROOT, TYPES};
use crate::state::{Domain, normalize};
use crate::validate::{self, FORMATS, Shape};

/// `PackageGroupPattern`.
const PATTERN: Shape = Shape::new(2, 520, r"[^\p{C}\p{White_Space}]+");
/// `PackageGroupPatternPrefix` (ListPackageGroups `prefix`).
const PATTERN_PREFIX: Shape = Shape::new(0, 520, r"[^\p{C}\p{White_Space}]*");
/// `PackageGroupContactInfo` (`Description` has the same constraint).
const CONTACT_INFO: Shape = Shape::new(0, 1000, r"\P{C}*");

/// The `package-group` query member (validated as a pattern).
fn pattern_query(call: &Call) -> Result<&str, ApiError> {
    let p = call.req("package-group")?;
    PATTERN.check("packageGroup", p)?;
    Ok(p)
}

fn texts(contact: Option<&str>, description: Option<&str>) -> Result<(), ApiError> {
    if let Some(c) = contact {
        CONTACT_INFO.check("contactInfo", c)?;
    }
    if let Some(c) = description {
        validate::description("description", c)?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupBody {
    package_group: Option<String>,
    contact_info: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
}

impl GroupBody {
    fn pattern(&self) -> Result<&str, ApiError> {
        let p = self
            .package_group
            .as_deref()
            .ok_or_else(|| validate::missing("packageGroup"))?;
        PATTERN.check("packageGroup", p)?;
        Ok(p)
    }
}

/// CreatePackageGroup: every restriction starts as INHERIT.
pub fn create(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let body: GroupBody = call.body()?;
    let pattern = body.pattern()?;
    parse(pattern)?;
    texts(body.contact_info.as_deref(), body.description.as_deref())?;
    let tags = tag_map(&body.tags)?;
    let region = &ctx.config.region;
    ctx.mutate(|s| {
        let d = s.domain_mut(&owner, domain)?;
        if d.group(pattern).is_ok() {
            return Err(ApiError::conflict(
                "package-group",
                pattern,
                format!("Package group '{pattern}' already exists in domain '{domain}'"),
            ));
        }
        let mut g = PackageGroup::new(pattern, real_now());
        g.contact_info = body.contact_info.clone();
        g.description = body.description.clone();
        g.tags = tags;
        d.package_groups.push(g);
        let g = d.group(pattern)?;
        Ok(json!({ "packageGroup": description(region, d, g) }))
    })
}

/// DescribePackageGroup.
pub fn describe(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, pattern) = (call.domain()?, call.owner()?, pattern_query(call)?);
    ctx.read(|s| {
        let d = s.domain(&owner, domain)?;
        let g = d.group(pattern)?;
        Ok(json!({ "packageGroup": description(&ctx.config.region, d, g) }))
    })
}

/// UpdatePackageGroup: contact info and description; a member left out is left as it is,
/// an empty one clears it (docs/emulator.md).
pub fn update(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let body: GroupBody = call.body()?;
    let pattern = body.pattern()?;
    texts(body.contact_info.as_deref(), body.description.as_deref())?;
    let clear = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    ctx.mutate(|s| {
        let d = s.domain_mut(&owner, domain)?;
        let g = d.group_mut(pattern)?;
        if body.contact_info.is_some() {
            g.contact_info = clear(&body.contact_info);
        }
        if body.description.is_some() {
            g.description = clear(&body.description);
        }
        let g = d.group(pattern)?;
        Ok(json!({ "packageGroup": description(&ctx.config.region, d, g) }))
    })
}

/// DeletePackageGroup: never the root; children move to the deleted group's parent.
pub fn delete(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let pattern = call.req("package-group")?;
    if pattern == ROOT {
        return Err(ApiError::field(
            "The root package group '/*' cannot be deleted",
        ));
    }
    ctx.mutate(|s| {
        let d = s.domain_mut(&owner, domain)?;
        let out = description(&ctx.config.region, d, d.group(pattern)?);
        d.package_groups.retain(|g| g.pattern != pattern);
        Ok(json!({ "packageGroup": out }))
    })
}

fn page_of(
    call: &Call,
    region: &str,
    d: &Domain,
    mut groups: Vec<&PackageGroup>,
) -> Result<Value, ApiError> {
    groups.sort_by(|a, b| a.pattern.cmp(&b.pattern));
    let (page, next) = paginate(
        groups,
        |g| g.pattern.clone(),
        call.max_results()?,
        call.opt("next-token"),
    )?;
    let items: Vec<Value> = page.iter().map(|g| description(region, d, g)).collect();
    let mut out = json!({ "packageGroups": items });
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

/// ListPackageGroups, sorted by pattern, optionally those starting with `prefix`.
pub fn list(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let prefix = call.opt("prefix").unwrap_or("");
    PATTERN_PREFIX.check("prefix", prefix)?;
    ctx.read(|s| {
        let d = s.domain(&owner, domain)?;
        let groups = d
            .package_groups
            .iter()
            .filter(|g| g.pattern.starts_with(prefix))
            .collect();
        page_of(call, &ctx.config.region, d, groups)
    })
}

/// ListSubPackageGroups: the direct children of a group.
pub fn list_sub(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, pattern) = (call.domain()?, call.owner()?, pattern_query(call)?);
    ctx.read(|s| {
        let d = s.domain(&owner, domain)?;
        d.group(pattern)?;
        let children = d
            .package_groups
            .iter()
            .filter(|g| d.groups().parent(g).is_some_and(|p| p.pattern == pattern))
            .collect();
        page_of(call, &ctx.config.region, d, children)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllowedRepository {
    repository_name: Option<String>,
    origin_restriction_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OriginBody {
    #[serde(default)]
    restrictions: BTreeMap<String, String>,
    #[serde(default)]
    add_allowed_repositories: Vec<AllowedRepository>,
    #[serde(default)]
    remove_allowed_repositories: Vec<AllowedRepository>,
}

fn checked(list: &[AllowedRepository], field: &str) -> Result<Vec<(String, String)>, ApiError> {
    list.iter()
        .map(|a| {
            let name = a
                .repository_name
                .as_deref()
                .ok_or_else(|| validate::missing(&format!("{field}.member.repositoryName")))?;
            validate::repository_name(&format!("{field}.member.repositoryName"), name)?;
            let kind = a.origin_restriction_type.as_deref().ok_or_else(|| {
                validate::missing(&format!("{field}.member.originRestrictionType"))
            })?;
            validate::one_of(
                &format!("{field}.member.originRestrictionType"),
                kind,
                TYPES,
            )?;
            Ok((kind.to_string(), name.to_string()))
        })
        .collect()
}

type Updates = BTreeMap<String, BTreeMap<&'static str, Vec<String>>>;

/// Set modes and change allowed lists; returns what the lists gained and lost.
fn apply_origin(
    g: &mut PackageGroup,
    modes: &BTreeMap<String, String>,
    add: &[(String, String)],
    remove: &[(String, String)],
) -> Updates {
    let mut updates = Updates::new();
    for (kind, mode) in modes {
        if let Some(r) = g.restrictions.get_mut(kind) {
            r.mode.clone_from(mode);
        }
    }
    let mut record = |kind: &str, what: &'static str, repo: &str| {
        let by_kind = updates.entry(kind.to_string()).or_default();
        by_kind.entry(what).or_default().push(repo.to_string());
    };
    for (kind, repo) in add {
        let default = g.restriction(kind);
        let r = g.restrictions.entry(kind.clone()).or_insert(default);
        if r.repositories.insert(repo.clone()) {
            record(kind, "ADDED", repo);
        }
    }
    for (kind, repo) in remove {
        let removed = g
            .restrictions
            .get_mut(kind)
            .is_some_and(|r| r.repositories.remove(repo));
        if removed {
            record(kind, "REMOVED", repo);
        }
    }
    updates
}

/// UpdatePackageGroupOriginConfiguration: modes, and additions to and removals from the
/// allowed-repository lists (added repositories must exist; the root cannot INHERIT).
pub fn update_origin(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, pattern) = (call.domain()?, call.owner()?, pattern_query(call)?);
    let body: OriginBody = call.body()?;
    for (kind, mode) in &body.restrictions {
        validate::one_of("restrictions.key", kind, TYPES)?;
        validate::one_of("restrictions.value", mode, MODES)?;
        if pattern == ROOT && mode == "INHERIT" {
            return Err(ApiError::field(
                "The root package group '/*' has no parent to inherit from",
            ));
        }
    }
    let add = checked(&body.add_allowed_repositories, "addAllowedRepositories")?;
    let remove = checked(
        &body.remove_allowed_repositories,
        "removeAllowedRepositories",
    )?;
    ctx.mutate(|s| {
        let d = s.domain_mut(&owner, domain)?;
        for (_, repo) in &add {
            d.repository(repo)?;
        }
        let updates = apply_origin(d.group_mut(pattern)?, &body.restrictions, &add, &remove);
        let g = d.group(pattern)?;
        Ok(json!({
            "packageGroup": description(&ctx.config.region, d, g),
            "allowedRepositoryUpdates": updates,
        }))
    })
}

/// GetAssociatedPackageGroup: works for packages in no repository.
pub fn get_associated(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let format = call.req("format")?;
    validate::one_of("format", format, FORMATS)?;
    let namespace = call.opt("namespace").unwrap_or("");
    if !namespace.is_empty() {
        validate::package_part("namespace", namespace)?;
    }
    let raw = call.req("package")?;
    validate::package_part("package", raw)?;
    let name = if format == "pypi" {
        normalize(raw)
    } else {
        raw.to_string()
    };
    ctx.read(|s| {
        let d = s.domain(&owner, domain)?;
        let (g, strength) = d
            .groups()
            .associated(format, namespace, &name)
            .ok_or_else(|| ApiError::Internal("the domain has no root package group".into()))?;
        Ok(json!({
            "packageGroup": description(&ctx.config.region, d, g),
            "associationType": strength.as_str(),
        }))
    })
}

/// ListAllowedRepositoriesForGroup: one restriction type's list, sorted by name.
pub fn list_allowed(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, pattern) = (call.domain()?, call.owner()?, pattern_query(call)?);
    let kind = call.req("originRestrictionType")?;
    validate::one_of("originRestrictionType", kind, TYPES)?;
    ctx.read(|s| {
        let d = s.domain(&owner, domain)?;
        let names: Vec<String> = d
            .group(pattern)?
            .restriction(kind)
            .repositories
            .into_iter()
            .collect();
        let (page, next) = paginate(
            names,
            Clone::clone,
            call.max_results()?,
            call.opt("next-token"),
        )?;
        let mut out = json!({ "allowedRepositories": page });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(out)
    })
}
