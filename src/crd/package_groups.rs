//! Package groups declared on a CodeArtifactDomain (`spec.packageGroups`), the one-line
//! protection of internal name prefixes (`spec.internalPackages`), and what status reports
//! of them. Only the platform (a cluster-scoped CodeArtifactDomain) declares these: a group
//! decides what every team in the domain may fetch or publish under a name.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A package group pattern in CodeArtifact's syntax: `/*`, `/FORMAT/*`,
/// `/FORMAT/NAMESPACE~`, `/FORMAT/NAMESPACE/*`, `/FORMAT/NAMESPACE/NAME~` (prefix on a word
/// boundary) or `/FORMAT/NAMESPACE/NAME$` (exact). PyPI has no namespace: `/pypi//acme~`.
pub const PATTERN_REGEX: &str = r"^/(\*|[a-z]+/\*|[a-z]+/[^/*$~\s]*[\p{L}\p{N}]~|[a-z]+/[^/*$~\s]*/(\*|[^/*$~\s]+\$|[^/*$~\s]*[\p{L}\p{N}]~))$";

/// One package group and its origin controls.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("self.pattern != '/*' || !has(self.originControls) || ((!has(self.originControls.publish) || self.originControls.publish.mode != 'Inherit') && (!has(self.originControls.externalUpstream) || self.originControls.externalUpstream.mode != 'Inherit') && (!has(self.originControls.internalUpstream) || self.originControls.internalUpstream.mode != 'Inherit'))").message("spec.packageGroups: the root group /* has nothing to inherit from, so its originControls cannot be Inherit"))]
#[serde(rename_all = "camelCase")]
pub struct PackageGroupSpec {
    /// The packages of the group, in CodeArtifact's pattern syntax. For PyPI
    /// the namespace is empty and names are normalised (lower case, `-`):
    /// `/pypi//acme~` is `acme` and every `acme-*` / `acme.*` / `acme_*`
    /// name (not `acmecorp`); `/pypi//acme-billing$` is that one package;
    /// `/pypi/*` is all of PyPI; `/*` is the root group every domain has
    /// (its settings can be managed, it is never created or deleted). A
    /// package belongs to the most specific group that matches it.
    #[schemars(length(min = 2, max = 520), regex(pattern = PATTERN_REGEX))]
    pub pattern: String,

    /// What the group is for (up to 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub description: Option<String>,

    /// Who to ask about the group (up to 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub contact_info: Option<String>,

    /// Where versions of the group's packages may come from. A restriction
    /// left out is `Inherit` (from the next wider group), or `Allow` on `/*`.
    #[serde(default)]
    pub origin_controls: OriginControls,
}

/// The three origins CodeArtifact controls.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OriginControls {
    /// Publishing directly to a repository (twine upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<OriginRestriction>,
    /// Taking versions from public PyPI through a repository's external
    /// connection. `Block` stops dependency confusion for internal names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_upstream: Option<OriginRestriction>,
    /// Taking versions from an upstream repository of the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_upstream: Option<OriginRestriction>,
}

/// One origin restriction.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("self.mode == 'AllowSpecificRepositories' || !has(self.repositories) || size(self.repositories) == 0").message("originControls.*.repositories may only be listed with mode AllowSpecificRepositories"))]
#[serde(rename_all = "camelCase")]
pub struct OriginRestriction {
    /// `Allow`, `Block`, `AllowSpecificRepositories` (only the repositories
    /// listed) or `Inherit` (the next wider group's setting).
    pub mode: OriginMode,
    /// Repository names allowed with mode AllowSpecificRepositories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 100),
        inner(
            length(min = 2, max = 100),
            regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,99}$")
        )
    )]
    pub repositories: Vec<String>,
}

/// An origin restriction mode.
#[derive(
    JsonSchema,
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum OriginMode {
    /// Every repository.
    Allow,
    /// No repository.
    Block,
    /// Only the repositories listed.
    AllowSpecificRepositories,
    /// The next wider group's setting.
    Inherit,
}

impl OriginMode {
    /// CodeArtifact's name of the mode (derived from the variant name).
    pub fn aws_name(self) -> &'static str {
        self.into()
    }
}

/// The one-line protection: a name prefix that is the organisation's own.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InternalPackages {
    /// A normalised PyPI name prefix, such as `acme`: it covers `acme` and
    /// every `acme-*` name (`Acme_Billing` too, as PyPI normalises it), not
    /// `acmecorp`. It becomes the package group `/pypi//PREFIX~`, whose
    /// versions are never taken from public PyPI.
    #[schemars(
        length(min = 1, max = 200),
        regex(pattern = r"^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$")
    )]
    pub prefix: String,
    /// The repositories that may publish names under the prefix. Empty: any
    /// repository of the domain may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 100),
        inner(
            length(min = 2, max = 100),
            regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,99}$")
        )
    )]
    pub publish_to: Vec<String>,
}

impl InternalPackages {
    /// The package group this protection stands for.
    pub fn group(&self) -> PackageGroupSpec {
        let publish = (!self.publish_to.is_empty()).then(|| OriginRestriction {
            mode: OriginMode::AllowSpecificRepositories,
            repositories: self.publish_to.clone(),
        });
        PackageGroupSpec {
            pattern: format!("/pypi//{}~", self.prefix),
            description: Some(format!(
                "Internal packages {}*: never from public PyPI (spec.internalPackages)",
                self.prefix
            )),
            contact_info: None,
            origin_controls: OriginControls {
                publish,
                external_upstream: Some(OriginRestriction {
                    mode: OriginMode::Block,
                    repositories: vec![],
                }),
                internal_upstream: None,
            },
        }
    }
}

/// A package group as status reports it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PackageGroupStatus {
    /// The group's pattern.
    pub pattern: String,
    /// The group's ARN.
    pub arn: String,
    /// Whether this object created the group (and so deletes it when it
    /// leaves the spec).
    pub created_by_operator: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_schema_accepts_codeartifact_forms_only() {
        let re = regex::Regex::new(PATTERN_REGEX).unwrap();
        for ok in [
            "/*",
            "/pypi/*",
            "/pypi//acme~",
            "/pypi//acme-billing$",
            "/npm/space/*",
            "/maven/com.acme~",
        ] {
            assert!(re.is_match(ok), "{ok}");
        }
        for bad in [
            "*",
            "/pypi//acme-~",
            "/pypi//acme",
            "/pypi//a b$",
            "pypi//x$",
            "/pypi//x$/y",
        ] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn an_internal_prefix_blocks_public_pypi_and_limits_publishing() {
        let p = InternalPackages {
            prefix: "acme".into(),
            publish_to: vec!["team".into()],
        };
        let g = p.group();
        assert_eq!(g.pattern, "/pypi//acme~");
        assert_eq!(
            g.origin_controls.external_upstream.unwrap().mode,
            OriginMode::Block
        );
        let publish = g.origin_controls.publish.unwrap();
        assert_eq!(publish.mode, OriginMode::AllowSpecificRepositories);
        assert_eq!(publish.repositories, ["team"]);
        let open = InternalPackages {
            prefix: "acme".into(),
            publish_to: vec![],
        }
        .group();
        assert!(
            open.origin_controls.publish.is_none(),
            "publishing is inherited"
        );
    }
}
