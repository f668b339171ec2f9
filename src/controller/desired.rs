//! Step 1 of a reconcile, pure: the spec turned into what CodeArtifact and
//! the Secret should look like, with what the schema could not check.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use kube::ResourceExt;

use super::ownership::Owner;
use super::remote::Settings;
use super::tenancy::Admission;
use crate::access::Grant;
use crate::aws::{Identity, RepositoryAccess, RoleSession, repository_session_policy};
use crate::crd::{PypiRepository, PypiRepositorySpec, RepositoryMode, RoleRef, TokenScope};
use crate::error::{Error, Result};
use crate::token::{OPERATOR_IDENTITY, TokenKey, TokenLimit};

/// The desired state of one PypiRepository.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// Domain name.
    pub domain: String,
    /// Domain owner from the spec (or its CodeArtifactDomain); `None` means the operator's account.
    pub owner: Option<String>,
    /// Manage or only consume the repository.
    pub mode: RepositoryMode,
    /// Strict mode's grant; `None` with `--tenancy=open`, where everything is allowed.
    pub grant: Option<Grant>,
    /// The spec opts in to adopting an unmarked repository.
    pub adopt: bool,
    /// Repository name.
    pub repository: String,
    /// Description as stated; `None` when the spec does not say.
    pub description: Option<String>,
    /// Upstreams in order; empty when the spec does not say.
    pub upstreams: Vec<String>,
    /// Whether `public:pypi` should be connected; `None` when the spec does not say.
    pub external_connection: Option<bool>,
    /// The user's repository tags (without ownership markers).
    pub tags: BTreeMap<String, String>,
    /// How long before expiry to refresh; `None` for a quarter of the lifetime.
    pub refresh_before: Option<Duration>,
    /// Which shared token serves this repository.
    pub token_key: TokenKey,
    /// Who this PypiRepository is, for ownership tags.
    pub owner_marker: Owner,
    /// The role for its AWS calls and tokens; `None`: the operator's identity.
    pub role: Option<RoleRef>,
}

impl Desired {
    /// Who makes the repository's CodeArtifact calls: the role, unnarrowed.
    pub fn identity(&self) -> Identity {
        self.role.as_ref().map(|r| role_session(r, None))
    }

    /// Who mints its tokens: for a repository-scoped token, the role
    /// narrowed by a session policy on `repository_arn`.
    pub fn token_identity(&self, repository_arn: &str) -> Result<Identity> {
        let TokenLimit::Repository { access, .. } = &self.token_key.limit else {
            return Ok(self.identity());
        };
        let policy = repository_session_policy(repository_arn, *access).ok_or_else(|| {
            Error::InvalidSpec(format!(
                "{repository_arn:?} is not a repository ARN, so no repository-scoped token can be minted for it"
            ))
        })?;
        let role = self.role.as_ref().ok_or_else(|| {
            Error::NotPermitted(
                "repository-scoped tokens are minted through a role, and none is configured".into(),
            )
        })?;
        Ok(Some(role_session(role, Some(policy))))
    }

    /// The settings for a repository; `current` is `None` when defaults apply to what is unstated.
    pub fn settings(&self, current: Option<&Settings>) -> Settings {
        Settings {
            description: self
                .description
                .clone()
                .or_else(|| current.map(|c| c.description.clone()))
                .unwrap_or_default(),
            upstreams: match (self.upstreams.is_empty(), current) {
                (true, Some(c)) => c.upstreams.clone(),
                _ => self.upstreams.clone(),
            },
            external_connection: self
                .external_connection
                .or_else(|| current.map(|c| c.external_connection))
                .unwrap_or(true),
        }
    }
}

/// Builds the desired state. Fails only on what the CRD schema cannot rule
/// out (objects written before a schema change, or with validation off).
/// `admission` is strict mode's verdict; `None` with `--tenancy=open`.
pub fn desired(
    obj: &PypiRepository,
    region: &str,
    cluster: &str,
    admission: Option<&Admission>,
) -> Result<Desired> {
    let spec = &obj.spec;
    let refresh_before = checked_token_settings(spec)?;
    let d = spec.token.duration_seconds;
    let repository = obj.repository_name();
    if spec.upstreams.contains(&repository) {
        return Err(Error::InvalidSpec(
            "spec.upstreams must not list the repository itself".into(),
        ));
    }
    let owner = spec
        .domain
        .owner
        .clone()
        .or_else(|| admission.and_then(|a| a.domain_owner.clone()));
    let role = admission.and_then(|a| a.role.clone());
    let limit = token_limit(admission, &repository);
    Ok(Desired {
        domain: spec.domain.name.clone(),
        owner: owner.clone(),
        mode: spec.mode,
        grant: admission.map(|a| a.grant),
        adopt: spec.adopt,
        repository,
        description: spec.description.clone(),
        upstreams: spec.upstreams.clone(),
        external_connection: spec.external_connection,
        tags: spec.tags.clone(),
        refresh_before,
        token_key: TokenKey {
            identity: role
                .as_ref()
                .map_or_else(|| OPERATOR_IDENTITY.to_string(), |r| r.arn.clone()),
            region: region.to_string(),
            owner,
            domain: spec.domain.name.clone(),
            duration_seconds: d,
            limit,
        },
        owner_marker: Owner {
            cluster: cluster.to_string(),
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
            uid: obj.uid().unwrap_or_default(),
        },
        role,
    })
}

/// `spec.token`'s refresh margin, once its settings are checked.
fn checked_token_settings(spec: &PypiRepositorySpec) -> Result<Option<Duration>> {
    let refresh_before = match &spec.token.refresh_before {
        None => None,
        Some(text) => Some(parse_duration(text)?),
    };
    let d = spec.token.duration_seconds;
    if d != 0 && !(900..=crate::crd::MAX_TOKEN_SECONDS).contains(&d) {
        return Err(Error::InvalidSpec(format!(
            "spec.token.durationSeconds is {d}; it must be 0, or between 900 and 43200"
        )));
    }
    Ok(refresh_before)
}

/// What the object's tokens may reach: the whole domain, or only `repository`.
fn token_limit(admission: Option<&Admission>, repository: &str) -> TokenLimit {
    match admission.map_or(TokenScope::Domain, |a| a.token_scope) {
        TokenScope::Domain => TokenLimit::Domain,
        scope => TokenLimit::Repository {
            name: repository.to_string(),
            access: if scope == TokenScope::RepositoryPublish {
                RepositoryAccess::Publish
            } else {
                RepositoryAccess::Read
            },
        },
    }
}

/// The role session for `role`, narrowed by `session_policy` when given.
pub fn role_session(role: &RoleRef, session_policy: Option<String>) -> RoleSession {
    RoleSession {
        arn: role.arn.clone(),
        external_id: role.external_id.clone(),
        session_policy,
    }
}

fn parse_duration(text: &str) -> Result<Duration> {
    let d = kube::core::Duration::from_str(text).map_err(|e| {
        Error::InvalidSpec(format!(
            "spec.token.refreshBefore {text:?} is not a duration such as 30m or 3h: {e}"
        ))
    })?;
    if d.is_negative() {
        return Err(Error::InvalidSpec(format!(
            "spec.token.refreshBefore {text:?} must not be negative"
        )));
    }
    Ok(Duration::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{DomainSpec, PypiRepositorySpec};

    fn obj(f: impl FnOnce(&mut PypiRepositorySpec)) -> PypiRepository {
        let mut spec: PypiRepositorySpec =
            serde_json::from_value(serde_json::json!({"domain": {"name": "dom"}})).unwrap();
        f(&mut spec);
        let mut o = PypiRepository::new("web", spec);
        o.metadata.namespace = Some("team".into());
        o.metadata.uid = Some("u1".into());
        o
    }

    #[test]
    fn defaults_follow_the_crd() {
        let d = desired(&obj(|_| {}), "us-west-2", "c1", None).unwrap();
        assert_eq!(d.repository, "web");
        assert!(
            d.settings(None).external_connection,
            "public:pypi is on by default"
        );
        assert_eq!(d.token_key.duration_seconds, 43_200);
        assert_eq!(d.refresh_before, None);
        assert_eq!(
            d.owner_marker,
            Owner {
                cluster: "c1".into(),
                namespace: "team".into(),
                name: "web".into(),
                uid: "u1".into()
            }
        );
    }

    #[test]
    fn refresh_before_accepts_go_durations() {
        let d = desired(
            &obj(|s| s.token.refresh_before = Some("1h30m".into())),
            "r",
            "c",
            None,
        )
        .unwrap();
        assert_eq!(d.refresh_before, Some(Duration::from_secs(5400)));
    }

    #[test]
    fn bad_values_the_schema_would_reject_are_still_caught() {
        let e = desired(
            &obj(|s| s.token.refresh_before = Some("soon".into())),
            "r",
            "c",
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("refreshBefore"), "{e}");
        let e = desired(&obj(|s| s.token.duration_seconds = 60), "r", "c", None).unwrap_err();
        assert!(e.to_string().contains("durationSeconds"), "{e}");
        let e = desired(&obj(|s| s.upstreams = vec!["web".into()]), "r", "c", None).unwrap_err();
        assert!(e.to_string().contains("upstreams"), "{e}");
    }

    #[test]
    fn explicit_repository_name_and_owner_are_used() {
        let d = desired(
            &obj(|s| {
                s.repository_name = Some("Other.Repo".into());
                s.domain = DomainSpec {
                    name: "dom".into(),
                    owner: Some("111122223333".into()),
                    encryption_key: None,
                    tags: Default::default(),
                };
            }),
            "r",
            "c",
            None,
        )
        .unwrap();
        assert_eq!(d.repository, "Other.Repo");
        assert_eq!(d.token_key.owner.as_deref(), Some("111122223333"));
    }

    #[test]
    fn unstated_settings_default_on_creation_and_stay_on_adoption() {
        let d = desired(
            &obj(|s| s.description = Some("mine".into())),
            "r",
            "c",
            None,
        )
        .unwrap();
        let theirs = Settings {
            description: "theirs".into(),
            upstreams: vec!["base".into()],
            external_connection: false,
        };
        assert_eq!(
            d.settings(None),
            Settings {
                description: "mine".into(),
                upstreams: vec![],
                external_connection: true
            }
        );
        assert_eq!(
            d.settings(Some(&theirs)),
            Settings {
                description: "mine".into(),
                upstreams: vec!["base".into()],
                external_connection: false
            },
            "only the stated description changes"
        );
    }

    #[test]
    fn strict_admission_supplies_the_domain_owner_and_grant() {
        let a = Admission {
            grant: Grant {
                create: true,
                adopt: false,
                delete: false,
            },
            domain_owner: Some("444455556666".into()),
            declared_by: "acme".into(),
            role: None,
            token_scope: TokenScope::Domain,
        };
        let d = desired(&obj(|_| {}), "r", "c", Some(&a)).unwrap();
        assert_eq!(d.owner.as_deref(), Some("444455556666"));
        assert_eq!(d.token_key.owner.as_deref(), Some("444455556666"));
        assert_eq!(d.grant, Some(a.grant));
    }

    #[test]
    fn a_scoped_rule_gives_a_per_repository_token_minted_under_a_session_policy() {
        let a = Admission {
            grant: Grant::default(),
            domain_owner: None,
            declared_by: "acme".into(),
            role: Some(RoleRef {
                arn: "arn:aws:iam::111122223333:role/reader".into(),
                external_id: Some("ext".into()),
            }),
            token_scope: TokenScope::RepositoryRead,
        };
        let d = desired(&obj(|_| {}), "r", "c", Some(&a)).unwrap();
        assert_eq!(
            d.token_key.identity,
            "arn:aws:iam::111122223333:role/reader"
        );
        assert_eq!(
            d.token_key.limit,
            TokenLimit::Repository {
                name: "web".into(),
                access: RepositoryAccess::Read
            }
        );
        let calls = d.identity().unwrap();
        assert_eq!(
            calls.session_policy, None,
            "repository calls use the role unnarrowed"
        );
        assert_eq!(calls.external_id.as_deref(), Some("ext"));
        let arn = "arn:aws:codeartifact:r:111122223333:repository/dom/web";
        let minting = d.token_identity(arn).unwrap().unwrap();
        let policy = minting.session_policy.unwrap();
        assert!(
            policy.contains(arn) && !policy.contains("PublishPackageVersion"),
            "{policy}"
        );
        assert!(d.token_identity("not-an-arn").is_err());
        let open = desired(&obj(|_| {}), "r", "c", None).unwrap();
        assert_eq!(
            open.identity(),
            None,
            "without a role: the operator's identity"
        );
        assert_eq!(open.token_identity(arn).unwrap(), None);
    }
}
