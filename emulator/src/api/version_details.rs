//! DescribePackageVersion and ListPackageVersionAssets: one version's details (publish time,
//! status, origin) and its files, as AWS's service model shapes them.

use serde_json::{Value, json};

use super::output::{timestamp, version_summary};
use super::packages::PackageRef;
use super::request::{Call, paginate};
use crate::context::Context;
use crate::error::ApiError;
use crate::state::Version;
use crate::validate;

/// The version named by the `version` query member, cloned out of the state.
fn find_version(ctx: &Context, call: &Call) -> Result<(PackageRef, Version), ApiError> {
    let (domain, owner, repo) = call.repository_path()?;
    let pkg = PackageRef::from_call(call)?;
    let name = call.req("version")?;
    validate::package_part("version", name)?;
    let v = ctx.read(|s| {
        let r = s.repository(&owner, domain, repo)?;
        let p = r
            .packages
            .get(&pkg.key())
            .ok_or_else(|| pkg.missing(repo))?;
        p.versions.get(name).cloned().ok_or_else(|| {
            ApiError::not_found(
                "package-version",
                name,
                format!(
                    "Package version '{name}' of package '{}' not found in repository '{repo}'",
                    pkg.name
                ),
            )
        })
    })?;
    Ok((pkg, v))
}

/// `PackageVersionDescription`: the summary's members plus names, publish time and licenses.
fn description(pkg: &PackageRef, v: &Version) -> Value {
    let mut out = version_summary(v);
    let o = out.as_object_mut().expect("object");
    o.insert("format".into(), json!(pkg.format));
    o.insert("packageName".into(), json!(pkg.name));
    o.insert("displayName".into(), json!(pkg.name));
    o.insert("publishedTime".into(), timestamp(v.published));
    o.insert("licenses".into(), json!([]));
    if let Some(ns) = &pkg.namespace {
        o.insert("namespace".into(), json!(ns));
    }
    out
}

/// DescribePackageVersion: a deleted version is not found; a disposed one is described.
pub fn describe(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (pkg, v) = find_version(ctx, call)?;
    Ok(json!({ "packageVersion": description(&pkg, &v) }))
}

/// ListPackageVersionAssets: the version's files with size and SHA-256, in name order.
pub fn list_assets(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let max = call.max_results()?;
    let (pkg, v) = find_version(ctx, call)?;
    let mut files = v.files.clone();
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    let (page, next) = paginate(files, |f| f.filename.clone(), max, call.opt("next-token"))?;
    let assets: Vec<Value> = page
        .iter()
        .map(|f| {
            json!({
                "name": f.filename,
                "size": f.content.len(),
                "hashes": { "SHA-256": f.sha256 },
            })
        })
        .collect();
    let mut out = json!({
        "format": pkg.format,
        "package": pkg.name,
        "version": v.version,
        "versionRevision": v.revision,
        "assets": assets,
    });
    if let Some(ns) = &pkg.namespace {
        out["namespace"] = json!(ns);
    }
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}
