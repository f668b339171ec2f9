//! The cluster-scoped `CodeArtifactDomain`: one CodeArtifact domain declared by
//! the platform team, and the access rules that say which namespaces may do
//! what with it. The field docs here are what `kubectl explain` shows.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::package_groups::{InternalPackages, PackageGroupSpec, PackageGroupStatus};
use super::pypi_repository::{DeletionPolicy, MAX_TOKEN_SECONDS, tags_schema};

/// A CodeArtifact domain and who may use it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "codeartifact-operator.dev",
    version = "v1alpha1",
    kind = "CodeArtifactDomain",
    plural = "codeartifactdomains",
    shortname = "cadomain",
    category = "codeartifact",
    status = "CodeArtifactDomainStatus",
    doc = "A CodeArtifact domain declared by the platform team, with the rules that say which namespaces may declare, adopt, delete or read which repositories in it. Cluster-scoped: only cluster administrators can create or change it.",
    printcolumn(name = "Domain", type_ = "string", json_path = ".status.domainName"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(name = "Owner", type_ = "string", json_path = ".status.owner"),
    printcolumn(name = "Repositories", type_ = "integer", json_path = ".status.repositoryCount"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new(
        "has(self.spec.domainName) || (size(self.metadata.name) >= 2 && size(self.metadata.name) <= 50 && self.metadata.name.matches('^[a-z][a-z0-9-]{0,48}[a-z0-9]$'))"
    ).message("metadata.name is used as the domain name and must be a valid domain name (2 to 50 lower-case letters, digits and '-'); set spec.domainName").field_path(".spec.domainName"),
    validation = Rule::new(
        "self.spec.mode != 'Use' || (!has(self.spec.encryptionKey) && !has(self.spec.tags) && self.spec.deletionPolicy != 'Delete')"
    ).message("spec.mode Use never changes the domain: spec.encryptionKey, spec.tags and deletionPolicy Delete need mode Manage").field_path(".spec.mode"),
    validation = Rule::new(
        "self.spec.mode != 'Use' || (!has(self.spec.packageGroups) && !has(self.spec.internalPackages))"
    ).message("spec.mode Use never changes the domain: spec.packageGroups and spec.internalPackages need mode Manage").field_path(".spec.mode"),
    validation = Rule::new(
        "!has(self.spec.access) || has(self.spec.role) || self.spec.access.all(r, has(r.role) || !has(r.tokenScope) || r.tokenScope == 'Domain')"
    ).message("an access rule with tokenScope RepositoryRead or RepositoryPublish needs a role: set spec.access[].role or spec.role").field_path(".spec.access"),
    validation = Rule::new(
        "self.spec.mode != 'Use' || !has(self.spec.permissionsPolicy)"
    ).message("spec.mode Use never changes the domain: spec.permissionsPolicy needs mode Manage").field_path(".spec.permissionsPolicy"),
)]
#[x_kube(validation = Rule::new("has(self.domainName) == has(oldSelf.domainName)").message("spec.domainName is immutable: it cannot be added or removed after creation"))]
#[x_kube(validation = Rule::new("has(self.owner) == has(oldSelf.owner)").message("spec.owner is immutable: it cannot be added or removed after creation"))]
#[serde(rename_all = "camelCase")]
pub struct CodeArtifactDomainSpec {
    /// Name of the CodeArtifact domain. Defaults to metadata.name. 2 to 50
    /// lower-case letters, digits and '-', starting with a letter. It becomes
    /// part of a public host name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 50),
        regex(pattern = r"^[a-z][a-z0-9\-]{0,48}[a-z0-9]$")
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.domainName is immutable"))]
    pub domain_name: Option<String>,

    /// The 12-digit AWS account that owns the domain. Defaults to the
    /// operator's own account. A domain in another account can only be used
    /// (mode Use), never created. PypiRepositories name this account in
    /// spec.domain.owner, or leave it out to mean this domain. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.owner is immutable"))]
    pub owner: Option<String>,

    /// `Manage` (the default): the operator creates the domain when it is
    /// missing and keeps spec.tags on it. `Use`: the domain must already
    /// exist; the operator only reads it and never changes or deletes it.
    #[serde(default)]
    pub mode: DomainMode,

    /// KMS key (ID, ARN, alias or alias ARN) for a domain the operator
    /// creates. Defaults to the AWS-managed key. Only read at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1011), regex(pattern = r"^\S+$"))]
    pub encryption_key: Option<String>,

    /// Tags for the domain, kept on it (drift is corrected; keys removed from
    /// this map are removed from the domain, other tags are left alone). Keys
    /// up to 128 characters, values up to 256; keys starting with "aws:" or
    /// "codeartifact-operator.dev/" are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: BTreeMap<String, String>,

    /// What deleting this object does in CodeArtifact. `Retain` (the default)
    /// leaves the domain. `Delete` deletes it, but only when it holds no
    /// repositories and this cluster's operator created it (its ownership
    /// tags say so); otherwise the object waits with Ready=False. Switching
    /// back to `Retain` releases it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// The IAM role the operator assumes (STS AssumeRole, through the AWS
    /// SDK's assume-role credentials provider) for every call it makes on
    /// this domain: the domain's own calls, and the repository calls and
    /// tokens of PypiRepositories whose access rule names no role. Needed
    /// for a domain in another account (spec.owner) unless the operator's
    /// own identity may reach it. Unset: the operator's own identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleRef>,

    /// Which namespaces may do what in this domain. A namespace that no rule
    /// admits cannot use the domain at all (with `--tenancy=strict`). A
    /// PypiRepository is served when one rule alone allows every part of its
    /// spec; rules never add up. Empty: nobody may use the domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub access: Vec<AccessRule>,

    /// The domain's resource policy (CodeArtifact's domain permissions
    /// policy), an IAM policy document written as YAML, for instance to let
    /// another account get tokens for the domain. Mode Manage only. The
    /// operator puts it on the domain, puts it back when it is changed by
    /// hand, and deletes it when this field is removed. At most 7168
    /// characters as JSON. Unset: a policy the operator did not set is left
    /// as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::policy::policy_schema")]
    pub permissions_policy: Option<serde_json::Value>,

    /// Package groups with origin controls (mode Manage only), kept as
    /// declared: drift is corrected; a group leaving this list is deleted
    /// only if this object created it; groups made elsewhere are never
    /// deleted. See also internalPackages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(validation = Rule::new("self.all(g, self.exists_one(h, h.pattern == g.pattern))").message("spec.packageGroups: each pattern may appear only once"))]
    pub package_groups: Vec<PackageGroupSpec>,

    /// Name prefixes that are the organisation's own (the one-line
    /// protection against dependency confusion): each becomes a package
    /// group `/pypi//PREFIX~` whose versions never come from public PyPI and
    /// that only the repositories in publishTo may publish. Only the
    /// platform can declare them, so no team can block a public name for
    /// the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(q, q.prefix == p.prefix))").message("spec.internalPackages: each prefix may appear only once"))]
    pub internal_packages: Vec<InternalPackages>,
}

/// Whether the operator manages the domain or only uses it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DomainMode {
    /// Create the domain when missing and keep its tags.
    #[default]
    Manage,
    /// Use an existing domain without ever changing it.
    Use,
}

/// One access rule: which namespaces, which repositories, which rights.
/// Anything a rule does not grant is refused, except reading: every
/// namespace a rule admits may get tokens for the repositories it names.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("size(self.namespaces) > 0 || has(self.namespaceSelector)").message("an access rule needs namespaces, namespaceSelector or both"))]
#[serde(rename_all = "camelCase")]
pub struct AccessRule {
    /// Names of the namespaces the rule admits (globs: `*` any run of
    /// characters, `?` one character, `[a-c]` a class). A namespace is
    /// admitted when its name matches one of these or its labels match
    /// namespaceSelector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 100),
        inner(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9*?\[\]\-]+$"))
    )]
    pub namespaces: Vec<String>,

    /// Labels of the namespaces the rule admits. `{}` admits every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,

    /// Repository names (globs, such as `team-a-*`) the admitted namespaces
    /// may declare or read. Required.
    #[schemars(
        length(min = 1, max = 100),
        inner(
            length(min = 1, max = 100),
            regex(pattern = r"^[A-Za-z0-9._*?\[\]\-]+$")
        )
    )]
    pub repositories: Vec<String>,

    /// May create repositories (PypiRepository mode Manage). Default false:
    /// the namespaces may only read (mode Consume).
    #[serde(default)]
    pub create: bool,

    /// May take over an existing repository that carries no ownership
    /// marker, when the PypiRepository opts in with spec.adopt. Default false.
    #[serde(default)]
    pub adopt: bool,

    /// May use deletionPolicy Delete (deletes only repositories the
    /// operator created for that object). Default false.
    #[serde(default)]
    pub delete: bool,

    /// May state spec.externalConnection (connect or disconnect
    /// `public:pypi`). Default false: the field must be left out, and a
    /// repository the operator creates gets the default connection.
    #[serde(default)]
    pub external_connection: bool,

    /// Repository names (globs) the admitted namespaces may list in
    /// spec.upstreams. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 100),
        inner(
            length(min = 1, max = 100),
            regex(pattern = r"^[A-Za-z0-9._*?\[\]\-]+$")
        )
    )]
    pub upstreams: Vec<String>,

    /// Longest token lifetime (seconds) a PypiRepository may ask for in
    /// spec.token.durationSeconds; 0 there counts as 43200. Default 43200.
    #[serde(default = "default_max_token", skip_serializing_if = "is_max_token")]
    #[x_kube(validation = Rule::new("self >= 900 && self <= 43200").message("maxTokenSeconds must be between 900 and 43200"))]
    pub max_token_seconds: i64,

    /// The IAM role for the repository calls and tokens of the namespaces
    /// this rule admits; wins over spec.role. Unset: spec.role, or the
    /// operator's own identity when that is unset too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleRef>,

    /// What the tokens in the admitted namespaces' Secrets may do. `Domain`
    /// (the default): everything the role (or the operator) may do in the
    /// domain, shared by every object of the domain. `RepositoryRead`: only
    /// read the object's own repository (pip, uv, Poetry installs).
    /// `RepositoryPublish`: read it and publish to it (twine). Repository
    /// tokens are minted per repository through AssumeRole with a session
    /// policy, so they need a role (here or in spec.role).
    #[serde(default, skip_serializing_if = "TokenScope::is_domain")]
    pub token_scope: TokenScope,

    /// May state spec.permissionsPolicy (the repository's resource policy,
    /// which can open the repository to other accounts). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permissions_policy: bool,
}

/// An IAM role to assume.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// The role's ARN, such as `arn:aws:iam::444455556666:role/codeartifact-team-a`.
    /// Its trust policy must allow the operator's identity to assume it.
    #[schemars(
        length(min = 20, max = 2048),
        regex(pattern = r"^arn:aws[a-z\-]*:iam::[0-9]{12}:role/[\w+=,.@/\-]{1,512}$")
    )]
    pub arn: String,

    /// The external ID the role's trust policy asks for (sts:ExternalId),
    /// 2 to 1224 characters. Not a secret, but not shown in Secrets either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), regex(pattern = r"^[\w+=,.@:/\-]+$"))]
    pub external_id: Option<String>,
}

/// What a Secret's token may do.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TokenScope {
    /// Whatever the minting identity may do in the domain.
    #[default]
    Domain,
    /// Read and publish to the object's repository.
    RepositoryPublish,
    /// Only read the object's repository.
    RepositoryRead,
}

impl TokenScope {
    /// Orders scopes from the narrowest (0) to the widest.
    pub fn breadth(self) -> u8 {
        match self {
            TokenScope::RepositoryRead => 0,
            TokenScope::RepositoryPublish => 1,
            TokenScope::Domain => 2,
        }
    }

    /// Whether this is the domain-wide default.
    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's skip_serializing_if passes a reference"
    )]
    pub fn is_domain(&self) -> bool {
        *self == TokenScope::Domain
    }
}

fn default_max_token() -> i64 {
    MAX_TOKEN_SECONDS
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_max_token(v: &i64) -> bool {
    *v == MAX_TOKEN_SECONDS
}

/// What the operator last observed of the domain.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CodeArtifactDomainStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready`: the domain exists (and, in mode Manage, carries spec.tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// Name of the domain in CodeArtifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// ARN of the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// AWS account that owns the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Number of repositories in the domain, as CodeArtifact reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_count: Option<i32>,
    /// Whether this cluster's operator created the domain (and so may delete it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_operator: Option<bool>,
    /// Keys of spec.tags the operator last applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_tag_keys: Vec<String>,
    /// Revision of the domain permissions policy the operator last put
    /// (spec.permissionsPolicy). Set only while the operator holds the
    /// policy: removing the field deletes the policy only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_revision: Option<String>,

    /// The package groups of spec.packageGroups and spec.internalPackages, as applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub package_groups: Vec<PackageGroupStatus>,
}

impl CodeArtifactDomain {
    /// The CodeArtifact domain name: spec.domainName or metadata.name.
    pub fn domain_name(&self) -> String {
        self.spec
            .domain_name
            .clone()
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }

    /// Whether this object declares the domain a PypiRepository names.
    pub fn declares(&self, name: &str, owner: Option<&str>) -> bool {
        self.domain_name() == name && (owner.is_none() || owner == self.spec.owner.as_deref())
    }
}
