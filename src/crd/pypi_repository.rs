//! The `PypiRepository` spec and status types; the field docs here are what `kubectl explain` shows.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::retention::{RetentionSpec, RetentionStatus};
use super::secret_spec::{
    DEFAULT_INDEX_NAME, DEFAULT_RENDERINGS, Rendering, SecretSpec, SecretUsage,
};

/// The longest token lifetime CodeArtifact issues, in seconds (12 hours).
pub const MAX_TOKEN_SECONDS: i64 = 43_200;

/// What the PypiRepository should look like in CodeArtifact and in its Secret.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "codeartifact-operator.dev",
    version = "v1alpha1",
    kind = "PypiRepository",
    plural = "pypirepositories",
    shortname = "pypirepo",
    category = "codeartifact",
    namespaced,
    status = "PypiRepositoryStatus",
    doc = "A private PyPI repository on AWS CodeArtifact, with a Secret holding pip, twine, uv, Poetry and netrc settings and an authorization token that the operator keeps fresh.",
    printcolumn(name = "Domain", type_ = "string", json_path = ".spec.domain.name"),
    printcolumn(name = "Repository", type_ = "string", json_path = ".status.repositoryName"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Token Lifetime", type_ = "string", json_path = ".status.tokenLifetime"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new(
        "has(self.spec.repositoryName) || (size(self.metadata.name) >= 2 && size(self.metadata.name) <= 100)"
    ).message("metadata.name is used as the repository name and must be 2 to 100 characters; set spec.repositoryName").field_path(".spec.repositoryName"),
    validation = Rule::new(
        "!has(self.spec.upstreams) || !((has(self.spec.repositoryName) ? self.spec.repositoryName : self.metadata.name) in self.spec.upstreams)"
    ).message("spec.upstreams must not list the repository itself").field_path(".spec.upstreams"),
    validation = Rule::new(
        "(has(self.spec.secret) && has(self.spec.secret.name)) || size(self.metadata.name) <= 248"
    ).message("metadata.name is too long for the default Secret name <name>-pypi; set spec.secret.name").field_path(".spec.secret"),
    validation = Rule::new(
        "!has(self.spec.mode) || self.spec.mode != 'Consume' || (!has(self.spec.description) && !has(self.spec.externalConnection) && !has(self.spec.upstreams) && !has(self.spec.tags) && !has(self.spec.adopt) && self.spec.deletionPolicy != 'Delete')"
    ).message("spec.mode Consume changes nothing in CodeArtifact: leave out description, externalConnection, upstreams, tags, adopt and deletionPolicy Delete").field_path(".spec.mode"),
    validation = Rule::new(
        "!has(self.spec.mode) || self.spec.mode != 'Consume' || !has(self.spec.retention)"
    ).message("spec.retention removes package versions, which a Consume repository must not do: leave it out or use mode Manage").field_path(".spec.retention"),
    validation = Rule::new(
        "!has(self.spec.mode) || self.spec.mode != 'Consume' || !has(self.spec.permissionsPolicy)"
    ).message("spec.mode Consume changes nothing in CodeArtifact: leave out permissionsPolicy").field_path(".spec.permissionsPolicy"),
    validation = Rule::new(
        "!has(self.spec.prepopulate) || !has(self.spec.mode) || self.spec.mode != 'Consume'"
    ).message("spec.prepopulate needs spec.mode Manage: a consumer changes nothing in CodeArtifact").field_path(".spec.prepopulate"),
)]
#[x_kube(validation = Rule::new("has(self.repositoryName) == has(oldSelf.repositoryName)").message("spec.repositoryName is immutable: it cannot be added or removed after creation"))]
#[serde(rename_all = "camelCase")]
pub struct PypiRepositorySpec {
    /// The CodeArtifact domain that holds the repository. With
    /// `--tenancy=strict` (the default) a CodeArtifactDomain must declare it
    /// and admit this namespace; the operator never creates it for a
    /// PypiRepository. With `--tenancy=open` the operator creates it when it
    /// does not exist (in its own account) and uses it when it does.
    pub domain: DomainSpec,

    /// `Manage` (the default): the operator creates the repository (or, with
    /// spec.adopt, takes over an unmarked existing one) and keeps it as the
    /// spec says. `Consume`: the repository must already exist (usually
    /// managed by another PypiRepository); the operator changes nothing in
    /// CodeArtifact and only keeps a token Secret fresh. Deleting a consumer
    /// never touches CodeArtifact. Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.mode is immutable"))]
    pub mode: RepositoryMode,

    /// Take over a repository of this name that already exists and carries
    /// no ownership marker (it was made by hand or by a tool). Off by
    /// default: then an existing repository is refused with reason
    /// AlreadyExists. With `--tenancy=strict` the CodeArtifactDomain must
    /// also allow adoption. An adopted repository is marked as this object's,
    /// keeps every setting the spec does not state, and is never deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,

    /// Name of the CodeArtifact repository. Defaults to metadata.name.
    /// 2 to 100 characters: letters, digits, '.', '_' and '-', starting with a
    /// letter or digit. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 100),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,99}$")
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.repositoryName is immutable"))]
    pub repository_name: Option<String>,

    /// Description of the repository, shown in the AWS console. At most 1000
    /// characters, on one line: CodeArtifact refuses control characters such
    /// as the newline a YAML block scalar (`|`) leaves at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), regex(pattern = r"^\P{C}*$"))]
    pub description: Option<String>,

    /// Connect the repository to the public PyPI index (`public:pypi`), so
    /// pip can install public packages through it; they are cached in the
    /// repository. Set to false for a private-only or air-gapped repository.
    /// Unset: a repository the operator creates gets the connection, and an
    /// adopted one keeps whatever it has. AWS allows one external connection
    /// together with up to 10 upstreams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_connection: Option<bool>,

    /// Upstream repositories in the same domain, at most 10, each existing
    /// already. A package version is looked up in this repository first,
    /// then in the upstreams in the order listed (each with its own
    /// upstreams before the next one); the first that has it wins. Upstreams
    /// and externalConnection can be used together: AWS allows up to 10
    /// upstreams and one external connection on a repository (AWS suggests
    /// one repository per domain with the connection, upstream of the
    /// others). Unset or empty: none on a repository the operator creates;
    /// an adopted repository keeps its upstreams.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 10),
        inner(
            length(min = 2, max = 100),
            regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,99}$")
        )
    )]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub upstreams: Vec<String>,

    /// Tags for the repository. Keys up to 128 characters, values up to 256.
    /// Keys starting with "aws:" or "codeartifact-operator.dev/" are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: BTreeMap<String, String>,

    /// What happens in CodeArtifact when this object is deleted. `Retain`
    /// (the default) leaves the repository and domain untouched, and the
    /// object carries no finalizer. `Delete` deletes the repository when this
    /// object created it (with `--tenancy=open` also the domain, when the
    /// operator created it and it is empty); the object then carries a
    /// finalizer until that is done. With `--tenancy=strict` the
    /// CodeArtifactDomain must allow `delete`. Resources the operator did not
    /// create are never deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Lifetime and refresh of the authorization token written to the Secret.
    #[serde(default)]
    pub token: TokenSpec,

    /// The Secret that receives the token and settings for pip, twine, uv,
    /// Poetry and netrc.
    #[serde(default)]
    pub secret: SecretSpec,

    /// Remove old package versions on a schedule (see RetentionSpec). Unset:
    /// the operator never removes a package version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Box<RetentionSpec>>,

    /// The repository's resource policy (CodeArtifact's repository
    /// permissions policy), an IAM policy document written as YAML, for
    /// instance to let another account read the repository. The operator
    /// puts it on the repository, puts it back when it is changed by hand,
    /// and deletes it when this field is removed. At most 7168 characters as
    /// JSON. With `--tenancy=strict` the CodeArtifactDomain's access rule
    /// must allow `permissionsPolicy`. Unset: a policy the operator did not
    /// set (on an adopted repository) is left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::policy::policy_schema")]
    pub permissions_policy: Option<serde_json::Value>,

    /// Which endpoint the Secret and status name: the public IPv4 one (the
    /// default), the dual-stack one, or an interface VPC endpoint without
    /// private DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Box<super::endpoint::EndpointSpec>>,

    /// Packages to fetch into the repository through its external
    /// connection, so that they stay installable once the connection is
    /// cut (air-gapped clusters). Fetched when this field changes, and
    /// retried with backoff while some fail; never in Consume mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepopulate: Option<Box<super::prepopulate::PrepopulateSpec>>,
}

// NB: tag values get a pattern in the schema (CodeArtifact's TagValue is
// `\P{C}*`: no control characters, such as the newline a YAML block scalar
// leaves). The same check on keys would need a regex in the CEL rule below,
// which the apiserver refuses as too costly, so keys are left to CodeArtifact.
const TAGS_RULE: &str = "self.all(k, size(k) >= 1 && size(k) <= 128 && size(self[k]) <= 256 && !k.startsWith('aws:') && !k.startsWith('codeartifact-operator.dev/'))";
const TAGS_MESSAGE: &str = "tag keys must be 1 to 128 characters and not start with 'aws:' or 'codeartifact-operator.dev/'; values at most 256 characters";

/// The schema of every tags map (spec.tags, spec.domain.tags, and a
/// CodeArtifactDomain's spec.tags): CodeArtifact's limits on count, keys and values.
pub(super) fn tags_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": 40,
        "additionalProperties": {"type": "string", "maxLength": 256, "pattern": "^\\P{C}*$"},
        "x-kubernetes-validations": [{"rule": TAGS_RULE, "message": TAGS_MESSAGE}],
    })
}

/// The CodeArtifact domain of the repository.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.owner) == has(oldSelf.owner)").message("spec.domain.owner is immutable: it cannot be added or removed after creation"))]
#[x_kube(validation = Rule::new("has(self.encryptionKey) == has(oldSelf.encryptionKey)").message("spec.domain.encryptionKey is immutable: it cannot be added or removed after creation"))]
#[serde(rename_all = "camelCase")]
pub struct DomainSpec {
    /// Name of the domain: 2 to 50 lower-case letters, digits and '-',
    /// starting with a letter and not ending with '-'. It becomes part of a
    /// public host name, so it must not hold anything secret. Immutable.
    #[schemars(
        length(min = 2, max = 50),
        regex(pattern = r"^[a-z][a-z0-9\-]{0,48}[a-z0-9]$")
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.domain.name is immutable"))]
    pub name: String,

    /// The 12-digit AWS account that owns the domain. Defaults to the
    /// operator's own account. A domain in another account must already exist
    /// and allow the operator's role. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.domain.owner is immutable"))]
    pub owner: Option<String>,

    /// KMS key (ID, ARN, alias or alias ARN) that encrypts the domain's assets,
    /// used only when the operator creates the domain. Defaults to the
    /// AWS-managed key. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1011), regex(pattern = r"^\S+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.domain.encryptionKey is immutable"))]
    pub encryption_key: Option<String>,

    /// Tags for the domain, applied when the operator creates it. Same rules
    /// as spec.tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: BTreeMap<String, String>,
}

/// How the PypiRepository relates to its CodeArtifact repository.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RepositoryMode {
    /// Create (or adopt) the repository and keep it as the spec says.
    #[default]
    Manage,
    /// Only read an existing repository: keep a token Secret fresh, change nothing.
    Consume,
}

/// What deleting the PypiRepository does in CodeArtifact.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Leave the repository and domain in CodeArtifact.
    #[default]
    Retain,
    /// Delete the repository, and the domain once it is empty and was created by the operator.
    Delete,
}

/// Lifetime and refresh of the authorization token.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new(REFRESH_RULE).message("spec.token.refreshBefore must be shorter than the token lifetime (durationSeconds, or 12h when it is 0)"))]
#[serde(rename_all = "camelCase")]
pub struct TokenSpec {
    /// Token lifetime in seconds: 900 to 43200 (12 hours, the default), or 0
    /// for a token that expires with the operator's own AWS role session.
    #[serde(default = "default_duration")]
    #[x_kube(validation = Rule::new("self == 0 || (self >= 900 && self <= 43200)").message("spec.token.durationSeconds must be 0, or between 900 and 43200"))]
    pub duration_seconds: i64,

    /// How long before expiry the Secret gets a new token, as a duration such
    /// as "3h" or "90m". Defaults to a quarter of the token's lifetime. Pods
    /// that read the mounted Secret pick the new token up within about a
    /// minute, so keep this well above that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // The pattern (a Go duration) rejects text that is not a duration before
    // the rules below run, which would fail on it with a type-conversion error.
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
    )]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1m')").message("spec.token.refreshBefore must be a duration of at least 1m, such as 30m or 3h"))]
    pub refresh_before: Option<String>,
}

const REFRESH_RULE: &str = "!has(self.refreshBefore) || duration(self.refreshBefore).getSeconds() < (self.durationSeconds == 0 ? 43200 : self.durationSeconds)";

impl Default for TokenSpec {
    fn default() -> Self {
        Self {
            duration_seconds: MAX_TOKEN_SECONDS,
            refresh_before: None,
        }
    }
}

/// What the operator last observed and did.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PypiRepositoryStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready`: the repository exists and the Secret holds a valid token.
    /// `Synced`: the repository's settings in CodeArtifact match the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// ARN of the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_arn: Option<String>,
    /// AWS account that owns the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_owner: Option<String>,
    /// Name of the repository in CodeArtifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_name: Option<String>,
    /// ARN of the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_arn: Option<String>,
    /// The repository's PyPI endpoint (twine uploads here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_endpoint: Option<String>,
    /// The pip index URL, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_url: Option<String>,
    /// Name of the Secret holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// How long each token the operator writes into the Secret lives, such
    /// as "12h" or "15m" ("session": as long as the operator's AWS session).
    /// The Secret gets a new one before it expires while Ready is True; the
    /// current token's expiry is in the Secret (key `expiresAt`, annotation
    /// `codeartifact-operator.dev/expires-at`), not here, so that a token
    /// refresh writes only the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime: Option<String>,
    /// Keys of the spec.tags the operator last applied, so that removing a
    /// tag from the spec removes it from the repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_tag_keys: Vec<String>,
    /// How to use the Secret: for each client, the keys it needs and what
    /// to set. Never holds the token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_usage: Vec<SecretUsage>,
    /// What the last retention run did and when the next is due (with
    /// spec.retention; condition `Retention` tells whether it can run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Box<RetentionStatus>>,

    /// Revision of the repository permissions policy the operator last put
    /// (spec.permissionsPolicy). Set only while the operator holds the
    /// policy: removing the field deletes the policy only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_revision: Option<String>,

    /// What spec.prepopulate fetched, and what failed and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepopulate: Option<Box<super::prepopulate::PrepopulateStatus>>,
}

fn default_duration() -> i64 {
    MAX_TOKEN_SECONDS
}

impl PypiRepository {
    /// The CodeArtifact repository name: spec.repositoryName or metadata.name.
    pub fn repository_name(&self) -> String {
        self.spec
            .repository_name
            .clone()
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }

    /// The Secret name: spec.secret.name or `<metadata.name>-pypi`.
    pub fn secret_name(&self) -> String {
        self.spec.secret.name.clone().unwrap_or_else(|| {
            format!("{}-pypi", self.metadata.name.as_deref().unwrap_or_default())
        })
    }

    /// The renderings to write, sorted and deduplicated; [`DEFAULT_RENDERINGS`]
    /// (pip.conf, .pypirc, env keys) when unset.
    pub fn renderings(&self) -> Vec<Rendering> {
        let mut r = self
            .spec
            .secret
            .renderings
            .clone()
            .unwrap_or_else(|| DEFAULT_RENDERINGS.to_vec());
        r.sort();
        r.dedup();
        r
    }

    /// The uv index and Poetry source name: spec.secret.indexName or `codeartifact`.
    pub fn index_name(&self) -> &str {
        self.spec
            .secret
            .index_name
            .as_deref()
            .unwrap_or(DEFAULT_INDEX_NAME)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    #[test]
    fn schema_refuses_what_codeartifact_refuses_and_admits_every_go_duration() {
        let crd = crate::crd::crd_yaml();
        // Description and tag values: CodeArtifact's `\P{C}*`, so a YAML block scalar's newline fails at apply time.
        assert_eq!(
            crd.matches(r"pattern: ^\P{C}*$").count(),
            3,
            "description and both tag maps"
        );
        // refreshBefore: a Go duration; every form the pattern admits must parse for the controller.
        assert!(crd.contains(r"pattern: ^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"));
        for ok in [
            "90m", "1h30m", "1.5h", "14m59s", "11h59m", "100000ms", "2h0.5m", "1h0m0s",
        ] {
            assert!(kube::core::Duration::from_str(ok).is_ok(), "{ok}");
        }
    }
}
