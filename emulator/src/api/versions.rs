//! DeletePackageVersions, DisposePackageVersions and CopyPackageVersions: per-version results
//! go into `successfulVersions` / `failedVersions`, not HTTP errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::packages::PackageRef;
use super::request::Call;
use crate::context::Context;
use crate::error::ApiError;
use crate::state::{Package, Restrictions, Version};
use crate::validate;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct VersionsBody {
    versions: Option<Vec<String>>,
    version_revisions: Option<BTreeMap<String, String>>,
    expected_status: Option<String>,
    allow_overwrite: Option<bool>,
    include_from_upstream: Option<bool>,
}

impl VersionsBody {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(vs) = &self.versions {
            if vs.len() > 100 {
                return Err(ApiError::field(
                    "1 validation error detected: Value at 'versions' failed to satisfy constraint: Member must have length less than or equal to 100",
                ));
            }
            for v in vs {
                validate::package_part("versions.member", v)?;
            }
        }
        for (v, rev) in self.version_revisions.iter().flatten() {
            validate::package_part("versionRevisions.key", v)?;
            validate::non_space("versionRevisions.value", rev, 50)?;
        }
        if let Some(s) = &self.expected_status {
            validate::one_of("expectedStatus", s, validate::STATUSES)?;
        }
        Ok(())
    }
}

/// Collected per-version outcomes.
#[derive(Default)]
struct Outcome {
    ok: Map<String, Value>,
    failed: Map<String, Value>,
}

impl Outcome {
    fn fail(&mut self, version: &str, code: &str, message: String) {
        self.failed.insert(
            version.to_string(),
            json!({ "errorCode": code, "errorMessage": message }),
        );
    }

    fn succeed(&mut self, v: &Version, status: &str) {
        self.ok.insert(
            v.version.clone(),
            json!({ "revision": v.revision, "status": status }),
        );
    }

    fn into_value(self) -> Value {
        json!({ "successfulVersions": self.ok, "failedVersions": self.failed })
    }
}

/// Why `v` may not be changed, if the caller's expectations do not hold.
fn precondition(v: &Version, body: &VersionsBody) -> Option<(&'static str, String)> {
    if let Some(rev) = body
        .version_revisions
        .as_ref()
        .and_then(|m| m.get(&v.version))
        && *rev != v.revision
    {
        return Some((
            "MISMATCHED_REVISION",
            format!("Revision of {} is {}", v.version, v.revision),
        ));
    }
    match &body.expected_status {
        Some(s) if *s != v.status => Some((
            "MISMATCHED_STATUS",
            format!("Status of {} is {}", v.version, v.status),
        )),
        _ => None,
    }
}

/// The requested versions: `versions`, else the keys of `versionRevisions`.
fn requested(body: &VersionsBody) -> Result<Vec<String>, ApiError> {
    match (&body.versions, &body.version_revisions) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(m)) => Ok(m.keys().cloned().collect()),
        (None, None) => Err(validate::missing("versions")),
    }
}

fn change(ctx: &Context, call: &Call, dispose: bool) -> Result<Value, ApiError> {
    let (domain, owner, repo) = call.repository_path()?;
    let pkg = PackageRef::from_call(call)?;
    let body: VersionsBody = call.body()?;
    body.validate()?;
    let versions = requested(&body)?;
    ctx.mutate(|s| {
        let r = s.repository_mut(&owner, domain, repo)?;
        let p = r
            .packages
            .get_mut(&pkg.key())
            .ok_or_else(|| pkg.missing(repo))?;
        let mut out = Outcome::default();
        for name in &versions {
            let Some(v) = p.versions.get_mut(name) else {
                out.fail(name, "NOT_FOUND", format!("Version {name} not found"));
                continue;
            };
            if let Some((code, msg)) = precondition(v, &body) {
                out.fail(name, code, msg);
            } else if dispose {
                v.status = "Disposed".into();
                v.files.clear();
                out.succeed(v, "Disposed");
            } else {
                out.succeed(v, "Deleted");
                p.versions.remove(name);
            }
        }
        Ok(out.into_value())
    })
}

/// DeletePackageVersions: removed versions are gone for good.
pub fn delete(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    change(ctx, call, false)
}

/// DisposePackageVersions: the files are deleted and the status becomes `Disposed`.
pub fn dispose(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    change(ctx, call, true)
}

/// Decide, version by version, what CopyPackageVersions copies out of `found` (the package in
/// the source repository, or in its upstreams too) into a destination holding `dest`.
fn plan_copies(
    versions: &[String],
    found: &[&Package],
    dest: Option<&Package>,
    body: &VersionsBody,
    (src, dst): (&str, &str),
) -> (Outcome, Vec<Version>) {
    let overwrite = body.allow_overwrite.unwrap_or(false);
    let mut out = Outcome::default();
    let mut copies = Vec::new();
    for name in versions {
        let Some(v) = found.iter().find_map(|p| p.versions.get(name)) else {
            out.fail(
                name,
                "NOT_FOUND",
                format!("Version {name} not found in {src}"),
            );
            continue;
        };
        if let Some((code, msg)) = precondition(v, body) {
            out.fail(name, code, msg);
        } else if !overwrite && dest.is_some_and(|p| p.versions.contains_key(name)) {
            let msg = format!("Version {name} already exists in {dst}");
            out.fail(name, "ALREADY_EXISTS", msg);
        } else if v.status == "Disposed" {
            out.fail(name, "NOT_ALLOWED", format!("Version {name} is disposed"));
        } else {
            out.succeed(v, &v.status);
            copies.push(v.clone());
        }
    }
    (out, copies)
}

/// CopyPackageVersions between two repositories of one domain.
pub fn copy(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let src = call.repository("source-repository")?;
    let dst = call.repository("destination-repository")?;
    let pkg = PackageRef::from_call(call)?;
    let body: VersionsBody = call.body()?;
    body.validate()?;
    if body.versions.is_some() == body.version_revisions.is_some() {
        return Err(ApiError::other(
            "Exactly one of versions and versionRevisions must be given",
        ));
    }
    let versions = requested(&body)?;
    ctx.mutate(|s| {
        let d = s.domain(&owner, domain)?;
        let dest = d.repository(dst)?.packages.get(&pkg.key());
        let sources = if body.include_from_upstream.unwrap_or(false) {
            d.search_order(src)
        } else {
            vec![d.repository(src)?]
        };
        let found: Vec<&Package> = sources
            .iter()
            .filter_map(|r| r.packages.get(&pkg.key()))
            .collect();
        let Some(first) = found.first() else {
            return Err(pkg.missing(src));
        };
        let (out, copies) = plan_copies(&versions, &found, dest, &body, (src, dst));
        let template = Package {
            versions: BTreeMap::new(),
            origin: Restrictions::published(),
            ..(*first).clone()
        };
        let r = s.repository_mut(&owner, domain, dst)?;
        let p = r.packages.entry(pkg.key()).or_insert(template);
        for v in copies {
            p.versions.insert(v.version.clone(), v);
        }
        Ok(out.into_value())
    })
}
