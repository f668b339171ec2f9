//! The package-version calls retention makes: list packages and their
//! published versions in publish order, read a version's publish time, and
//! dispose or delete versions in batches. Per-version refusals come back as
//! data (`Removal::failed`), not as errors.

use aws_sdk_codeartifact::types::{
    PackageFormat, PackageVersionOriginType, PackageVersionSortType, PackageVersionStatus,
};
use chrono::{DateTime, Utc};

use super::client::CodeArtifact;
use super::convert::{malformed, own};
use super::error::AwsError;

type Result<T> = std::result::Result<T, AwsError>;

/// The most versions one Dispose/DeletePackageVersions call takes (AWS's limit).
pub const MAX_VERSIONS_PER_CALL: usize = 100;

/// A repository, as the package-version calls address it.
#[derive(Clone, Copy, Debug)]
pub struct RepositoryPath<'a> {
    pub domain: &'a str,
    pub owner: Option<&'a str>,
    pub repository: &'a str,
}

/// One page of ListPackages (PyPI only).
#[derive(Clone, Debug, Default)]
pub struct PackagePage {
    pub packages: Vec<String>,
    pub next: Option<String>,
}

/// A package's Published versions, in the order ListPackageVersions
/// returns them sorted by publish time.
#[derive(Clone, Debug, Default)]
pub struct VersionList {
    pub default_display: Option<String>,
    pub versions: Vec<String>,
}

/// What one Dispose/DeletePackageVersions call did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Removal {
    pub removed: Vec<String>,
    /// Version and AWS's error code (MISMATCHED_STATUS, NOT_FOUND, ...).
    pub failed: Vec<(String, String)>,
}

impl CodeArtifact {
    /// One page of the repository's PyPI packages.
    pub async fn list_pypi_packages(
        &self,
        at: RepositoryPath<'_>,
        max: i32,
        next: Option<String>,
    ) -> Result<PackagePage> {
        let req = self
            .sdk()
            .list_packages()
            .domain(at.domain)
            .set_domain_owner(own(at.owner))
            .repository(at.repository)
            .format(PackageFormat::Pypi)
            .max_results(max)
            .set_next_token(next);
        let out = self.call("ListPackages", req.send()).await?;
        Ok(PackagePage {
            packages: out
                .packages()
                .iter()
                .filter_map(|p| p.package().map(str::to_string))
                .collect(),
            next: out.next_token().map(str::to_string),
        })
    }

    /// Every Published version of `package` (all pages), sorted by publish
    /// time, of the given origin (`None`: any).
    pub async fn list_published_versions(
        &self,
        at: RepositoryPath<'_>,
        package: &str,
        origin: Option<PackageVersionOriginType>,
    ) -> Result<VersionList> {
        let mut list = VersionList::default();
        let mut next = None;
        loop {
            let req = self
                .sdk()
                .list_package_versions()
                .domain(at.domain)
                .set_domain_owner(own(at.owner))
                .repository(at.repository)
                .format(PackageFormat::Pypi)
                .package(package)
                .status(PackageVersionStatus::Published)
                .sort_by(PackageVersionSortType::PublishedTime)
                .set_origin_type(origin.clone())
                .max_results(1000)
                .set_next_token(next);
            let out = self.call("ListPackageVersions", req.send()).await?;
            if list.default_display.is_none() {
                list.default_display = out.default_display_version().map(str::to_string);
            }
            list.versions
                .extend(out.versions().iter().map(|v| v.version().to_string()));
            next = out.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(list);
            }
        }
    }

    /// When `version` of `package` was published.
    pub async fn published_time(
        &self,
        at: RepositoryPath<'_>,
        package: &str,
        version: &str,
    ) -> Result<DateTime<Utc>> {
        let req = self
            .sdk()
            .describe_package_version()
            .domain(at.domain)
            .set_domain_owner(own(at.owner))
            .repository(at.repository)
            .format(PackageFormat::Pypi)
            .package(package)
            .package_version(version);
        let out = self.call("DescribePackageVersion", req.send()).await?;
        out.package_version()
            .and_then(|v| v.published_time())
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
            .ok_or_else(|| malformed("DescribePackageVersion", "no publishedTime"))
    }

    /// Disposes (or, with `delete`, deletes) up to 100 Published versions
    /// of `package` in one call; a version no longer Published is refused
    /// by AWS (MISMATCHED_STATUS), so nothing is removed twice.
    pub async fn remove_versions(
        &self,
        at: RepositoryPath<'_>,
        package: &str,
        versions: &[String],
        delete: bool,
    ) -> Result<Removal> {
        let versions = versions[..versions.len().min(MAX_VERSIONS_PER_CALL)].to_vec();
        let (ok, failed) = if delete {
            let req = self
                .sdk()
                .delete_package_versions()
                .domain(at.domain)
                .set_domain_owner(own(at.owner))
                .repository(at.repository)
                .format(PackageFormat::Pypi)
                .package(package)
                .set_versions(Some(versions))
                .expected_status(PackageVersionStatus::Published);
            let out = self.call("DeletePackageVersions", req.send()).await?;
            (out.successful_versions, out.failed_versions)
        } else {
            let req = self
                .sdk()
                .dispose_package_versions()
                .domain(at.domain)
                .set_domain_owner(own(at.owner))
                .repository(at.repository)
                .format(PackageFormat::Pypi)
                .package(package)
                .set_versions(Some(versions))
                .expected_status(PackageVersionStatus::Published);
            let out = self.call("DisposePackageVersions", req.send()).await?;
            (out.successful_versions, out.failed_versions)
        };
        let mut removal = Removal {
            removed: ok.unwrap_or_default().into_keys().collect(),
            failed: failed
                .unwrap_or_default()
                .into_iter()
                .map(|(v, e)| {
                    let code = e.error_code().map(|c| c.as_str().to_string());
                    (v, code.unwrap_or_default())
                })
                .collect(),
        };
        removal.removed.sort();
        removal.failed.sort();
        Ok(removal)
    }
}
