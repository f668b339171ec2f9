//! ListPackages, ListPackageVersions and PutPackageOriginConfiguration.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::output::{origin_configuration, package_summary, version_summary};
use super::request::{Call, paginate};
use crate::context::Context;
use crate::error::ApiError;
use crate::state::{Package, Restrictions, normalize, package_key};
use crate::validate;

const ALLOW_BLOCK: &[&str] = &["ALLOW", "BLOCK"];

/// Order versions by their dot-separated parts, numerically where both parts are numbers.
pub fn version_order(a: &str, b: &str) -> Ordering {
    let mut left = a.split(['.', '-', '+']);
    let mut right = b.split(['.', '-', '+']);
    loop {
        match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// The package addressed by `format`, `namespace` and `package` (pypi names are normalised).
pub struct PackageRef {
    pub format: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl PackageRef {
    /// Read and validate the package members of `call`.
    pub fn from_call(call: &Call) -> Result<Self, ApiError> {
        let format = call.req("format")?;
        validate::one_of("format", format, validate::FORMATS)?;
        let namespace = call.opt("namespace");
        if let Some(ns) = namespace {
            validate::package_part("namespace", ns)?;
        }
        let package = call.req("package")?;
        validate::package_part("package", package)?;
        let name = if format == "pypi" {
            normalize(package)
        } else {
            package.to_string()
        };
        Ok(PackageRef {
            format: format.to_string(),
            namespace: namespace.map(str::to_string),
            name,
        })
    }

    /// The map key in `Repository::packages`.
    pub fn key(&self) -> String {
        package_key(&self.format, self.namespace.as_deref(), &self.name)
    }

    /// ResourceNotFoundException for this package.
    pub fn missing(&self, repo: &str) -> ApiError {
        ApiError::not_found(
            "package",
            &self.name,
            format!(
                "Package '{}' of format '{}' not found in repository '{repo}'",
                self.name, self.format
            ),
        )
    }
}

fn enum_filter<'a>(
    call: &'a Call,
    field: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    let v = call.opt(field);
    if let Some(v) = v {
        validate::one_of(field, v, allowed)?;
    }
    Ok(v)
}

/// The filters of ListPackages, validated once.
struct Filters<'a> {
    format: Option<&'a str>,
    namespace: Option<&'a str>,
    prefix: Option<&'a str>,
    publish: Option<&'a str>,
    upstream: Option<&'a str>,
}

impl<'a> Filters<'a> {
    fn from_call(call: &'a Call) -> Result<Self, ApiError> {
        for field in ["namespace", "package-prefix"] {
            if let Some(v) = call.opt(field) {
                validate::package_part(field, v)?;
            }
        }
        Ok(Filters {
            format: enum_filter(call, "format", validate::FORMATS)?,
            namespace: call.opt("namespace"),
            prefix: call.opt("package-prefix"),
            publish: enum_filter(call, "publish", ALLOW_BLOCK)?,
            upstream: enum_filter(call, "upstream", ALLOW_BLOCK)?,
        })
    }

    fn matches(&self, p: &Package) -> bool {
        // PyPI names are stored normalised, so the prefix is normalised the same way.
        let prefix_ok = self.prefix.is_none_or(|pre| {
            let pre = if p.format == "pypi" {
                normalize(pre)
            } else {
                pre.to_string()
            };
            p.name.starts_with(&pre)
        });
        self.format.is_none_or(|f| f == p.format)
            && self
                .namespace
                .is_none_or(|ns| p.namespace.as_deref().is_some_and(|n| n.starts_with(ns)))
            && prefix_ok
            && self.publish.is_none_or(|v| v == p.origin.publish)
            && self.upstream.is_none_or(|v| v == p.origin.upstream)
    }
}

/// ListPackages.
pub fn list(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, repo) = call.repository_path()?;
    let filters = Filters::from_call(call)?;
    let max = call.max_results()?;
    let packages: Vec<(String, Value)> = ctx.read(|s| {
        let r = s.repository(&owner, domain, repo)?;
        Ok::<_, ApiError>(
            r.packages
                .iter()
                .filter(|(_, p)| filters.matches(p))
                .map(|(k, p)| (k.clone(), package_summary(p)))
                .collect(),
        )
    })?;
    let (page, next) = paginate(packages, |(k, _)| k.clone(), max, call.opt("next-token"))?;
    let mut out = json!({ "packages": page.into_iter().map(|(_, v)| v).collect::<Vec<_>>() });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

/// ListPackageVersions: every status unless `status` is given.
pub fn list_versions(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, repo) = call.repository_path()?;
    let pkg = PackageRef::from_call(call)?;
    let status = enum_filter(call, "status", validate::STATUSES)?;
    let sort = enum_filter(call, "sortBy", &["PUBLISHED_TIME"])?;
    let origin = enum_filter(call, "originType", &["INTERNAL", "EXTERNAL", "UNKNOWN"])?;
    let max = call.max_results()?;
    let (mut versions, default) = ctx.read(|s| {
        let r = s.repository(&owner, domain, repo)?;
        let p = r
            .packages
            .get(&pkg.key())
            .ok_or_else(|| pkg.missing(repo))?;
        let default = p
            .versions
            .values()
            .filter(|v| v.status == "Published")
            .max_by(|a, b| a.published.total_cmp(&b.published))
            .map(|v| v.version.clone());
        let versions: Vec<_> = p
            .versions
            .values()
            .filter(|v| status.is_none_or(|st| st == v.status))
            .filter(|v| origin.is_none_or(|o| o == v.origin_type))
            .cloned()
            .collect();
        Ok::<_, ApiError>((versions, default))
    })?;
    match sort {
        // Newest first, like AWS's console listing by publish time.
        Some(_) => versions.sort_by(|a, b| b.published.total_cmp(&a.published)),
        None => versions.sort_by(|a, b| version_order(&a.version, &b.version)),
    }
    let (page, next) = paginate(versions, |v| v.version.clone(), max, call.opt("next-token"))?;
    let mut out = json!({
        "format": pkg.format,
        "package": pkg.name,
        "versions": page.iter().map(version_summary).collect::<Vec<_>>(),
    });
    if let Some(ns) = &pkg.namespace {
        out["namespace"] = json!(ns);
    }
    if let Some(d) = default {
        out["defaultDisplayVersion"] = json!(d);
    }
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct RestrictionsIn {
    publish: Option<String>,
    upstream: Option<String>,
}

#[derive(Deserialize)]
struct OriginBody {
    restrictions: Option<RestrictionsIn>,
}

/// PutPackageOriginConfiguration: creates the package (without versions) if needed.
pub fn put_origin(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, repo) = call.repository_path()?;
    let pkg = PackageRef::from_call(call)?;
    let body: OriginBody = call.body()?;
    let r = body
        .restrictions
        .ok_or_else(|| validate::missing("restrictions"))?;
    let publish = r
        .publish
        .ok_or_else(|| validate::missing("restrictions.publish"))?;
    let upstream = r
        .upstream
        .ok_or_else(|| validate::missing("restrictions.upstream"))?;
    validate::one_of("restrictions.publish", &publish, ALLOW_BLOCK)?;
    validate::one_of("restrictions.upstream", &upstream, ALLOW_BLOCK)?;
    let origin = Restrictions { publish, upstream };
    ctx.mutate(|s| {
        let r = s.repository_mut(&owner, domain, repo)?;
        let p = r.packages.entry(pkg.key()).or_insert_with(|| Package {
            format: pkg.format.clone(),
            namespace: pkg.namespace.clone(),
            name: pkg.name.clone(),
            origin: origin.clone(),
            versions: BTreeMap::new(),
        });
        p.origin = origin;
        Ok(json!({ "originConfiguration": origin_configuration(p) }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        let mut v = vec!["1.10", "1.9", "1.9.1", "0.1", "2.0rc1", "2.0"];
        v.sort_by(|a, b| version_order(a, b));
        assert_eq!(v, ["0.1", "1.9", "1.9.1", "1.10", "2.0", "2.0rc1"]);
    }
}
