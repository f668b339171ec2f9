//! Test controls over package versions, outside AWS's API: back-date a version's publish time
//! (retention tests need versions of known age) and seed many versions at once (benchmarks
//! populate a repository without twine). Reached through the library (`Emulator::set_published`,
//! `Emulator::seed_versions`) and the admin API (`POST /_emulator/package-versions`).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::error::ApiError;
use crate::state::{
    DistFile, EntryPoint, Package, Repository, Restrictions, State, Version, new_revision,
    normalize, package_key,
};

/// Where a PyPI package lives: the first domain named `domain` (any owner) and its repository.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageAt {
    pub domain: String,
    pub repository: String,
    /// The project name as published (normalised here).
    pub package: String,
}

/// Admin body: set one version's publish time, in epoch seconds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedTime {
    #[serde(flatten)]
    pub at: PackageAt,
    pub version: String,
    pub published_time: f64,
}

/// The repository `at` names, in whichever account owns its domain (the
/// admin API names domains without an owner).
fn repository_at<'a>(s: &'a mut State, at: &PackageAt) -> Result<&'a mut Repository, ApiError> {
    let owner = s
        .domains
        .iter()
        .find(|d| d.name == at.domain)
        .map(|d| d.owner.clone())
        .unwrap_or_default();
    s.repository_mut(&owner, &at.domain, &at.repository)
}

fn package_mut<'a>(s: &'a mut State, at: &PackageAt) -> Result<&'a mut Package, ApiError> {
    let r = repository_at(s, at)?;
    let name = normalize(&at.package);
    r.packages
        .get_mut(&package_key("pypi", None, &name))
        .ok_or_else(|| ApiError::not_found("package", &name, format!("Package '{name}' not found")))
}

/// Set the publish time of one version.
pub fn set_published(ctx: &Context, p: &PublishedTime) -> Result<(), ApiError> {
    if !p.published_time.is_finite() || p.published_time < 0.0 {
        return Err(ApiError::field("publishedTime must be epoch seconds"));
    }
    ctx.mutate(|s| {
        let pkg = package_mut(s, &p.at)?;
        let v = pkg.versions.get_mut(&p.version).ok_or_else(|| {
            ApiError::not_found(
                "package-version",
                &p.version,
                format!("Version {} not found", p.version),
            )
        })?;
        v.published = p.published_time;
        Ok(())
    })
}

/// A small stand-in wheel for a seeded version (`size` bytes of filler).
fn seeded_file(name: &str, version: &str, size: usize) -> DistFile {
    let content = Bytes::from(vec![b'x'; size]);
    DistFile {
        filename: format!("{}-{version}-py3-none-any.whl", name.replace('-', "_")),
        sha256: hex::encode(Sha256::digest(&content)),
        requires_python: None,
        content,
    }
}

/// Publish `versions` (version, publish time) of `at` directly, as INTERNAL versions holding
/// one file of `size` bytes each; the package is created with AWS's published-package defaults.
pub fn seed(
    ctx: &Context,
    at: &PackageAt,
    versions: &[(String, f64)],
    size: usize,
) -> Result<(), ApiError> {
    let name = normalize(&at.package);
    ctx.mutate(|s| {
        let r = repository_at(s, at)?;
        let p = r
            .packages
            .entry(package_key("pypi", None, &name))
            .or_insert_with(|| Package {
                format: "pypi".into(),
                namespace: None,
                name: name.clone(),
                origin: Restrictions::published(),
                versions: BTreeMap::new(),
            });
        for (version, published) in versions {
            p.versions.insert(
                version.clone(),
                Version {
                    version: version.clone(),
                    revision: new_revision(),
                    status: "Published".into(),
                    published: *published,
                    origin_type: "INTERNAL".into(),
                    entry: EntryPoint {
                        repository_name: Some(at.repository.clone()),
                        external_connection_name: None,
                    },
                    files: vec![seeded_file(&name, version, size)],
                },
            );
        }
        Ok(())
    })
}
