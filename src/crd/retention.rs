//! `spec.retention` and `status.retention` of a PypiRepository: which package
//! versions the operator removes on a schedule, and what its last run did.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The default time between two retention runs.
pub const DEFAULT_RETENTION_INTERVAL: &str = "24h";
/// The most versions `status.retention.versions` lists.
pub const MAX_LISTED_VERSIONS: usize = 100;

// A Go duration, checked by pattern first so the CEL `duration()` rules
// never see text that is not one (they would fail with a conversion error).
const GO_DURATION: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

/// Package-version retention: on a schedule, the operator removes versions
/// that no rule keeps. A version is kept when it is among the newest
/// `keepNewest` of its package, younger than `keepYoungerThan`, matches
/// `keepVersions`, or is the package's default display version (the one
/// pip installs without a pin); anything else in a package that a rule
/// names is removed. Packages no rule names are never touched. Not allowed
/// with `mode: Consume`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetentionSpec {
    /// Rules by package name, at most 50. For each package the first rule
    /// whose `packages` glob matches its name applies.
    #[schemars(length(min = 1, max = 50))]
    pub rules: Vec<RetentionRule>,

    /// `Dispose` (the default): the version's files are deleted and its
    /// record stays with status Disposed, so the version number cannot be
    /// published again by mistake. `Delete`: the version is deleted for good.
    #[serde(default)]
    pub action: RetentionAction,

    /// Which versions are candidates: `Internal` (the default: published
    /// to this repository), `External` (cached from public PyPI through the
    /// external connection) or `Any`.
    #[serde(default)]
    pub origin: RetentionOrigin,

    /// Report what would be removed (status.retention, an Event) and remove
    /// nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,

    /// Time between runs, as a duration of at least 10m such as "24h" (the
    /// default) or "6h". A run also starts soon after the spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), regex(pattern = GO_DURATION))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('10m')").message("spec.retention.interval must be a duration of at least 10m, such as 6h or 24h"))]
    pub interval: Option<String>,
}

/// One retention rule.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.keepNewest) || has(self.keepYoungerThan)").message("spec.retention.rules[]: set keepNewest, keepYoungerThan or both"))]
#[serde(rename_all = "camelCase")]
pub struct RetentionRule {
    /// A glob over the package's normalised name (PEP 503: lower case,
    /// runs of '-', '_' and '.' as one '-'): `*` all packages,
    /// `mycorp-*`, `{app,lib}-ci`, `tool?`.
    #[schemars(
        length(min = 1, max = 200),
        regex(pattern = r"^[a-z0-9*?\[\]{},!\-]+$")
    )]
    pub packages: String,

    /// Keep this many of the package's newest versions, by publish time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100_000))]
    pub keep_newest: Option<u32>,

    /// Keep every version published less than this long ago, such as
    /// "168h" (7 days) or "720h" (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), regex(pattern = GO_DURATION))]
    pub keep_younger_than: Option<String>,

    /// Keep every version whose version string matches this regular
    /// expression (Rust regex syntax, unanchored unless you anchor it),
    /// such as `^[0-9]+(\.[0-9]+)*$` for final releases, so only pre-,
    /// post- and dev releases are pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 500))]
    pub keep_versions: Option<String>,
}

/// What happens to a version that no rule keeps.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetentionAction {
    /// DisposePackageVersions: files deleted, record kept (status Disposed).
    #[default]
    Dispose,
    /// DeletePackageVersions: the version is gone.
    Delete,
}

/// Which versions retention considers, by where they came from.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetentionOrigin {
    /// Published to this repository (originType INTERNAL).
    #[default]
    Internal,
    /// Ingested from public PyPI (originType EXTERNAL).
    External,
    /// Both.
    Any,
}

/// What the last retention run did, and when the next one is due.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetentionStatus {
    /// When the last run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_time: Option<Time>,
    /// When the next run is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_time: Option<Time>,
    /// The metadata.generation the last run applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Whether the last run was a dry run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Packages the last run examined (named by a rule).
    #[serde(default)]
    pub packages: u32,
    /// Versions the last run removed.
    #[serde(default)]
    pub removed: u32,
    /// Versions the last run would have removed (dry run).
    #[serde(default)]
    pub would_remove: u32,
    /// Versions CodeArtifact refused to remove in the last run (changed
    /// meanwhile, for example); the next run tries again.
    #[serde(default)]
    pub failed: u32,
    /// The versions removed (or that would be removed) as
    /// `package==version`, sorted, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}
