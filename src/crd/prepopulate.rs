//! `spec.prepopulate` and `status.prepopulate` of a PypiRepository: packages the
//! repository should hold, fetched once through its external connection (air gap).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Python version assumed when `spec.prepopulate.pythonVersion` is unset.
pub const DEFAULT_PYTHON_VERSION: &str = "3.12";

/// Packages the repository should hold, so that they stay installable after
/// the external connection is cut (`externalConnection: false`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrepopulateSpec {
    /// Requirements in PEP 508 form, such as `requests==2.32.3`,
    /// `numpy>=2,<3`, `urllib3` or `httpx[http2]`: for each, the newest
    /// version that matches (not yanked, no pre-release unless the specifier
    /// names one or `prereleases` is true) is fetched through the
    /// repository's own endpoint, which makes CodeArtifact keep it with all
    /// its files. Direct URL references (`name @ https://...`) cannot be
    /// cached through an index and are refused. 1 to 100 entries, each at
    /// most 200 characters; the operator parses each one and reports the
    /// ones it cannot parse in status.prepopulate.failed.
    #[schemars(
        length(min = 1, max = 100),
        inner(
            length(min = 1, max = 200),
            regex(
                pattern = r"^\s*[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\s*(\[[^\]@]*\])?[^@\p{C}]*$"
            )
        )
    )]
    pub requirements: Vec<String>,

    /// Also fetch the dependencies of each fetched version (Requires-Dist
    /// in its wheel's metadata, with markers evaluated for `pythonVersion`
    /// on Linux x86_64 CPython), and theirs, each at the newest version its
    /// requirement allows. Default true.
    #[serde(default = "yes")]
    pub dependencies: bool,

    /// The Python version (`3.X`) the packages are for: markers such as
    /// `python_version < "3.11"` and each file's Requires-Python are
    /// evaluated for it. Default "3.12".
    #[serde(default = "default_python")]
    #[schemars(regex(pattern = r"^3\.[0-9]{1,2}$"))]
    pub python_version: String,

    /// Allow pre-release versions (such as `2.0rc1`) for every requirement.
    /// Default false: a pre-release is chosen only when a specifier names
    /// one (`pkg==2.0rc1`, `pkg>=2.0b1`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prereleases: bool,
}

fn yes() -> bool {
    true
}

fn default_python() -> String {
    DEFAULT_PYTHON_VERSION.to_string()
}

/// Where a pre-population stands.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrepopulatePhase {
    /// Work is left; the operator continues shortly.
    InProgress,
    /// Everything listed (and its dependencies) is in the repository.
    Complete,
    /// Finished, but some requirements failed; retried with backoff.
    Failed,
}

/// Why a requirement was not cached.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrepopulateFailureReason {
    /// The text is not a PEP 508 requirement the operator can fetch.
    InvalidRequirement,
    /// The index has no project of this name.
    NotFound,
    /// The project has no version (non-yanked, allowed pre-release state) matching the specifier.
    NoVersionMatches,
    /// Matching versions exist but no file of them supports the target Python version.
    NoCompatibleFile,
    /// The index or the file could not be fetched (network, access, throttling); retried.
    FetchFailed,
}

/// One requirement that was not cached.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PrepopulateFailure {
    /// The requirement as written (in the spec or in a package's metadata).
    pub requirement: String,
    /// The package version whose metadata asked for it; unset for spec entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_by: Option<String>,
    /// Why it failed.
    pub reason: PrepopulateFailureReason,
    /// What happened, for people.
    pub message: String,
}

/// What the last pre-population did.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrepopulateStatus {
    /// Hash of the spec.prepopulate this describes: a new spec starts over.
    pub spec_hash: String,
    /// InProgress, Complete or Failed.
    pub phase: PrepopulatePhase,
    /// The package versions fetched into the repository, as `name==version`, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cached: Vec<String>,
    /// Requirements that could not be cached, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<PrepopulateFailure>,
    /// Finished runs in a row that had failures (the retry backoff grows with it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// When the last run finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_time: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}
