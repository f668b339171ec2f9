//! Which versions of a package retention removes (pure): spec.retention
//! compiled once into rules, then one decision per package from its
//! versions in publish order, newest first.

use std::time::Duration;

use chrono::{DateTime, Utc};
use globset::{Glob, GlobMatcher};
use regex::Regex;

use crate::crd::{
    DEFAULT_RETENTION_INTERVAL, RetentionAction, RetentionOrigin, RetentionRule, RetentionSpec,
};

/// spec.retention, checked and compiled.
#[derive(Clone, Debug)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub action: RetentionAction,
    pub origin: RetentionOrigin,
    pub dry_run: bool,
    pub interval: Duration,
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    packages: GlobMatcher,
    /// Keep this many of the newest versions (0 when unset).
    pub keep_newest: usize,
    /// Keep versions younger than this.
    pub keep_younger_than: Option<Duration>,
    keep_versions: Option<Regex>,
}

/// One package's versions as retention sees them.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Normalised package name.
    pub package: String,
    /// The version pip installs without a pin: never removed.
    pub default_display: Option<String>,
    /// Candidate versions, newest first by publish time.
    pub newest_first: Vec<String>,
    /// How many of `newest_first` (a prefix, as they are in publish order)
    /// are younger than the rule's `keep_younger_than`.
    pub younger: usize,
}

/// A field of spec.retention that cannot work, named in the message.
pub fn invalid(field: String, why: impl std::fmt::Display) -> String {
    format!("spec.retention.{field}: {why}")
}

impl Policy {
    /// Compiles `spec`; the error names the field at fault.
    pub fn from_spec(spec: &RetentionSpec) -> Result<Self, String> {
        let rules = spec
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| Rule::from_spec(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        let interval = spec
            .interval
            .as_deref()
            .unwrap_or(DEFAULT_RETENTION_INTERVAL);
        let interval =
            crate::config::parse_duration(interval).map_err(|e| invalid("interval".into(), e))?;
        Ok(Policy {
            rules,
            action: spec.action,
            origin: spec.origin,
            dry_run: spec.dry_run,
            interval,
        })
    }

    /// The rule for `package` (its normalised name): the first whose glob matches.
    pub fn rule_for(&self, package: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.packages.is_match(package))
    }
}

impl Rule {
    fn from_spec(i: usize, r: &RetentionRule) -> Result<Self, String> {
        let packages = Glob::new(&r.packages)
            .map_err(|e| invalid(format!("rules[{i}].packages"), e))?
            .compile_matcher();
        let keep_younger_than = r
            .keep_younger_than
            .as_deref()
            .map(crate::config::parse_duration)
            .transpose()
            .map_err(|e| invalid(format!("rules[{i}].keepYoungerThan"), e))?;
        let keep_versions = r
            .keep_versions
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| invalid(format!("rules[{i}].keepVersions"), e))?;
        if r.keep_newest.is_none() && keep_younger_than.is_none() {
            return Err(invalid(
                format!("rules[{i}]"),
                "set keepNewest, keepYoungerThan or both",
            ));
        }
        Ok(Rule {
            packages,
            keep_newest: r.keep_newest.unwrap_or(0) as usize,
            keep_younger_than,
            keep_versions,
        })
    }

    /// Whether a version published at `published` is young enough to keep at `now`.
    pub fn is_young(&self, published: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.keep_younger_than.is_some_and(|max| {
            let age = now.signed_duration_since(published);
            age.to_std().map_or(true, |age| age < max)
        })
    }

    /// Whether ages matter for a package of `count` candidates: only
    /// versions past the newest `keep_newest` can go.
    pub fn needs_ages(&self, count: usize) -> bool {
        self.keep_younger_than.is_some() && count > self.keep_newest
    }

    /// The versions of `l` this rule removes, in publish order, newest first.
    pub fn doomed(&self, l: &Listing) -> Vec<String> {
        l.newest_first
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                *i >= self.keep_newest
                    && *i >= l.younger
                    && l.default_display.as_deref() != Some(v.as_str())
                    && !self.keep_versions.as_ref().is_some_and(|re| re.is_match(v))
            })
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A bisection for the first old version in a range of versions newest
/// first (young, then old): it names the index to probe next and takes the
/// answer, so a package's ages cost O(log n) DescribePackageVersion calls
/// rather than one per version. `next` is `None` once `lo` is the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bisect {
    pub lo: usize,
    hi: usize,
}

impl Bisect {
    /// A search over `range`; the answer is `range.end` when none is old.
    pub fn new(range: std::ops::Range<usize>) -> Self {
        Bisect {
            lo: range.start,
            hi: range.end.max(range.start),
        }
    }

    /// The index to probe next, if the answer is not known yet.
    pub fn next(&self) -> Option<usize> {
        (self.lo < self.hi).then(|| self.lo + (self.hi - self.lo) / 2)
    }

    /// Records whether the version at `index` (from `next`) is old.
    pub fn answer(&mut self, index: usize, old: bool) {
        if old {
            self.hi = index;
        } else {
            self.lo = index + 1;
        }
    }
}
