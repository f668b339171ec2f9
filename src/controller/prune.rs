//! One page of a retention run against CodeArtifact: list a page of
//! packages, and for each one a rule names, list its Published versions in
//! publish order, read the few publish times the decision needs, and
//! dispose or delete what `policy` chose, up to 100 versions per call.

use std::collections::HashMap;

use aws_sdk_codeartifact::types::PackageVersionOriginType;
use chrono::{DateTime, Utc};

use crate::aws::{AwsError, CodeArtifact, RepositoryPath, VersionList};
use crate::crd::{RetentionAction, RetentionOrigin};
use crate::retention::metrics::{RetentionMetrics, VersionOutcome};
use crate::retention::policy::{Bisect, Listing, Policy, Rule};
use crate::retention::schedule::{PACKAGES_PER_STEP, Progress};

type Result<T> = std::result::Result<T, AwsError>;

/// What one page needs besides the progress it advances.
pub struct Pager<'a> {
    pub aws: &'a CodeArtifact,
    pub at: RepositoryPath<'a>,
    pub policy: &'a Policy,
    pub metrics: &'a RetentionMetrics,
    pub now: DateTime<Utc>,
}

impl Pager<'_> {
    /// Runs the next page of packages; true when the run has seen them all.
    pub async fn page(&self, p: &mut Progress) -> Result<bool> {
        let page = self
            .aws
            .list_pypi_packages(self.at, PACKAGES_PER_STEP, p.next_page.clone())
            .await?;
        for package in &page.packages {
            if let Some(rule) = self.policy.rule_for(package) {
                self.package(rule, package, p).await?;
                p.packages.insert(package.clone());
            }
        }
        p.next_page = page.next;
        Ok(p.next_page.is_none())
    }

    async fn package(&self, rule: &Rule, package: &str, p: &mut Progress) -> Result<()> {
        let origin = match self.policy.origin {
            RetentionOrigin::Internal => Some(PackageVersionOriginType::Internal),
            RetentionOrigin::External => Some(PackageVersionOriginType::External),
            RetentionOrigin::Any => None,
        };
        let list = self
            .aws
            .list_published_versions(self.at, package, origin)
            .await?;
        let listing = self.listing(rule, package, list).await?;
        let doomed = rule.doomed(&listing);
        let named = |v: &String| format!("{package}=={v}");
        if self.policy.dry_run {
            self.metrics.versions(VersionOutcome::DryRun, doomed.len());
            p.versions.extend(doomed.iter().map(named));
            return Ok(());
        }
        let delete = self.policy.action == RetentionAction::Delete;
        let outcome = if delete {
            VersionOutcome::Deleted
        } else {
            VersionOutcome::Disposed
        };
        for batch in doomed.chunks(crate::aws::MAX_VERSIONS_PER_CALL) {
            let r = self
                .aws
                .remove_versions(self.at, package, batch, delete)
                .await?;
            self.metrics.versions(outcome, r.removed.len());
            self.metrics
                .versions(VersionOutcome::Refused, r.failed.len());
            p.versions.extend(r.removed.iter().map(named));
            p.refused.extend(r.failed.iter().map(|(v, _)| named(v)));
        }
        Ok(())
    }

    /// The package's versions newest first, and how many of them are young.
    /// AWS does not document the direction of its publish-time order, so
    /// the first and last versions' times settle it; the young prefix is
    /// then found by bisection.
    async fn listing(&self, rule: &Rule, package: &str, list: VersionList) -> Result<Listing> {
        let mut versions = list.versions;
        let n = versions.len();
        let mut times: HashMap<String, DateTime<Utc>> = HashMap::new();
        if n > rule.keep_newest.max(1) {
            let first = self.time(package, &versions[0], &mut times).await?;
            let last = self.time(package, &versions[n - 1], &mut times).await?;
            if first < last {
                versions.reverse();
            }
        }
        let mut search = Bisect::new(rule.keep_newest..n);
        while let Some(i) = search.next().filter(|_| rule.needs_ages(n)) {
            let t = self.time(package, &versions[i], &mut times).await?;
            search.answer(i, !rule.is_young(t, self.now));
        }
        let younger = if rule.needs_ages(n) { search.lo } else { 0 };
        Ok(Listing {
            package: package.to_string(),
            default_display: list.default_display,
            newest_first: versions,
            younger,
        })
    }

    async fn time(
        &self,
        package: &str,
        version: &str,
        cache: &mut HashMap<String, DateTime<Utc>>,
    ) -> Result<DateTime<Utc>> {
        if let Some(t) = cache.get(version) {
            return Ok(*t);
        }
        let t = self.aws.published_time(self.at, package, version).await?;
        cache.insert(version.to_string(), t);
        Ok(t)
    }
}

#[cfg(test)]
#[path = "prune_tests.rs"]
mod tests;
