//! With `--tenancy=strict`, step 0 of a reconcile: is this PypiRepository
//! served at all? Reads the CodeArtifactDomain and Namespace caches only (no
//! AWS call, no API request), so a refused object costs nothing in AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;

use crate::access::{self, Grant, Request, Verdict};
use crate::crd::{CodeArtifactDomain, PypiRepository, PypiRepositorySpec, RoleRef, TokenScope};
use crate::error::{Error, Result};

/// What strict mode lets an object do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// Rights beyond the spec itself.
    pub grant: Grant,
    /// The domain owner account the CodeArtifactDomain names, if any.
    pub domain_owner: Option<String>,
    /// The CodeArtifactDomain object's name, for messages.
    pub declared_by: String,
    /// The role for the object's AWS calls and tokens (the rule's, else the
    /// domain's); `None`: the operator's own identity.
    pub role: Option<RoleRef>,
    /// What the object's tokens may do.
    pub token_scope: TokenScope,
}

/// Decides whether `obj` is served, given every CodeArtifactDomain and the
/// labels of the object's namespace. Messages name what is missing and whom
/// to ask, never another team's rules.
pub fn admit(
    obj: &PypiRepository,
    domains: &[Arc<CodeArtifactDomain>],
    namespace_labels: &BTreeMap<String, String>,
) -> Result<Admission> {
    let namespace = obj.namespace().unwrap_or_default();
    let spec = &obj.spec;
    let cad = declaring_domain(domains, spec, &namespace)?;
    if spec.domain.encryption_key.is_some() || !spec.domain.tags.is_empty() {
        return Err(Error::NotPermitted(format!(
            "spec.domain.encryptionKey and spec.domain.tags are set on CodeArtifactDomain {} by the platform team; remove them from this PypiRepository",
            cad.name_any()
        )));
    }
    let repository = obj.repository_name();
    let req = Request {
        namespace: &namespace,
        labels: namespace_labels,
        repository: &repository,
        spec,
    };
    match access::evaluate(&cad.spec.access, &req) {
        Verdict::Allowed(grant) => admitted(cad, &req, grant),
        Verdict::NamespaceNotAdmitted => Err(Error::NotPermitted(format!(
            "CodeArtifactDomain {} admits no access for namespace {namespace}; ask your platform team for an access rule",
            cad.name_any()
        ))),
        Verdict::Missing(missing) => Err(Error::NotPermitted(format!(
            "CodeArtifactDomain {} does not allow namespace {namespace}: {}; ask your platform team to extend its access rules",
            cad.name_any(),
            missing.join(", ")
        ))),
    }
}

/// The one CodeArtifactDomain that declares the domain `spec` names.
fn declaring_domain<'a>(
    domains: &'a [Arc<CodeArtifactDomain>],
    spec: &PypiRepositorySpec,
    namespace: &str,
) -> Result<&'a Arc<CodeArtifactDomain>> {
    let wanted = &spec.domain.name;
    let mut declaring: Vec<&Arc<CodeArtifactDomain>> = domains
        .iter()
        .filter(|d| d.declares(wanted, spec.domain.owner.as_deref()))
        .collect();
    declaring.sort_by_key(|d| d.name_any());
    match declaring.as_slice() {
        [] => Err(Error::NotPermitted(format!(
            "no CodeArtifactDomain declares domain {wanted}; ask your platform team to declare it and admit namespace {namespace}"
        ))),
        [one] => Ok(*one),
        many => {
            let names: Vec<String> = many.iter().map(|d| d.name_any()).collect();
            Err(Error::NotPermitted(format!(
                "domain {wanted} is declared by several CodeArtifactDomains ({}); ask your platform team to keep one, or name the owner account in spec.domain.owner",
                names.join(", ")
            )))
        }
    }
}

/// The admission of an allowed request: who mints its tokens, with what scope.
fn admitted(cad: &CodeArtifactDomain, req: &Request, grant: Grant) -> Result<Admission> {
    let creds = access::credentials(&cad.spec.access, req).unwrap_or_default();
    let role = creds.role.or_else(|| cad.spec.role.clone());
    if role.is_none() && !creds.token_scope.is_domain() {
        return Err(Error::NotPermitted(format!(
            "CodeArtifactDomain {} asks for {:?} tokens for namespace {} but names no role to mint them with; ask your platform team to set spec.role or the access rule's role",
            cad.name_any(),
            creds.token_scope,
            req.namespace
        )));
    }
    Ok(Admission {
        grant,
        domain_owner: cad.spec.owner.clone(),
        declared_by: cad.name_any(),
        role,
        token_scope: creds.token_scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, access: serde_json::Value) -> Arc<CodeArtifactDomain> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "CodeArtifactDomain",
                "metadata": {"name": name}, "spec": {"access": access},
            }))
            .unwrap(),
        )
    }

    fn repo(ns: &str, spec: serde_json::Value) -> PypiRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
            "metadata": {"name": "python-packages", "namespace": ns}, "spec": spec,
        }))
        .unwrap()
    }

    fn message(r: Result<Admission>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn the_attack_from_issue_11_is_refused_without_revealing_the_rules() {
        let acme = domain(
            "acme",
            serde_json::json!([{"namespaces": ["demo"], "repositories": ["python-packages"], "create": true, "delete": true, "externalConnection": true}]),
        );
        let evil = repo(
            "evil",
            serde_json::json!({"domain": {"name": "acme"}, "externalConnection": false, "deletionPolicy": "Delete"}),
        );
        let m = message(admit(&evil, std::slice::from_ref(&acme), &BTreeMap::new()));
        assert!(m.contains("namespace evil"), "{m}");
        assert!(!m.contains("demo"), "another team's rule leaked: {m}");
        let demo = repo(
            "demo",
            serde_json::json!({"domain": {"name": "acme"}, "externalConnection": true, "deletionPolicy": "Delete"}),
        );
        let ok = admit(&demo, &[acme], &BTreeMap::new()).unwrap();
        assert!(ok.grant.create && ok.grant.delete);
    }

    #[test]
    fn an_undeclared_or_doubly_declared_domain_is_refused() {
        let r = repo("t", serde_json::json!({"domain": {"name": "acme"}}));
        assert!(
            message(admit(&r, &[], &BTreeMap::new()))
                .contains("no CodeArtifactDomain declares domain acme")
        );
        let rule =
            serde_json::json!([{"namespaces": ["t"], "repositories": ["*"], "create": true}]);
        let other: Arc<CodeArtifactDomain> = Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "CodeArtifactDomain",
                "metadata": {"name": "acme-2"}, "spec": {"domainName": "acme", "owner": "444455556666", "access": rule},
            }))
            .unwrap(),
        );
        let both = [domain("acme", rule.clone()), other.clone()];
        assert!(message(admit(&r, &both, &BTreeMap::new())).contains("several"));
        let pinned = repo(
            "t",
            serde_json::json!({"domain": {"name": "acme", "owner": "444455556666"}}),
        );
        let a = admit(&pinned, &both, &BTreeMap::new()).unwrap();
        assert_eq!(a.declared_by, "acme-2");
        assert_eq!(a.domain_owner.as_deref(), Some("444455556666"));
    }

    #[test]
    fn domain_settings_on_a_pypirepository_are_refused() {
        let d = domain(
            "acme",
            serde_json::json!([{"namespaces": ["t"], "repositories": ["*"], "create": true}]),
        );
        let r = repo(
            "t",
            serde_json::json!({"domain": {"name": "acme", "encryptionKey": "alias/mine"}}),
        );
        assert!(message(admit(&r, &[d], &BTreeMap::new())).contains("encryptionKey"));
    }

    #[test]
    fn the_rule_role_wins_over_the_domain_role_and_scoped_tokens_need_one() {
        let mut d = domain(
            "acme",
            serde_json::json!([
                {"namespaces": ["a"], "repositories": ["*"], "create": true, "tokenScope": "RepositoryRead",
                 "role": {"arn": "arn:aws:iam::111122223333:role/team-a", "externalId": "ext-a"}},
                {"namespaces": ["b"], "repositories": ["*"], "create": true, "tokenScope": "RepositoryPublish"},
            ]),
        );
        let r = |ns| repo(ns, serde_json::json!({"domain": {"name": "acme"}}));
        let a = admit(&r("a"), std::slice::from_ref(&d), &BTreeMap::new()).unwrap();
        assert_eq!(a.role.unwrap().arn, "arn:aws:iam::111122223333:role/team-a");
        assert_eq!(a.token_scope, TokenScope::RepositoryRead);
        let m = message(admit(&r("b"), std::slice::from_ref(&d), &BTreeMap::new()));
        assert!(
            m.contains("names no role") && m.contains("RepositoryPublish"),
            "{m}"
        );
        Arc::make_mut(&mut d).spec.role = Some(RoleRef {
            arn: "arn:aws:iam::111122223333:role/domain".into(),
            external_id: None,
        });
        let b = admit(&r("b"), std::slice::from_ref(&d), &BTreeMap::new()).unwrap();
        assert_eq!(b.role.unwrap().arn, "arn:aws:iam::111122223333:role/domain");
        let a = admit(&r("a"), &[d], &BTreeMap::new()).unwrap();
        assert_eq!(a.role.unwrap().arn, "arn:aws:iam::111122223333:role/team-a");
    }

    #[test]
    fn labels_decide_for_selector_rules() {
        let d = domain(
            "acme",
            serde_json::json!([{"namespaceSelector": {"matchLabels": {"pypi": "on"}}, "repositories": ["*"], "create": true}]),
        );
        let r = repo("t", serde_json::json!({"domain": {"name": "acme"}}));
        let on = BTreeMap::from([("pypi".to_string(), "on".to_string())]);
        assert!(admit(&r, std::slice::from_ref(&d), &on).is_ok());
        assert!(admit(&r, &[d], &BTreeMap::new()).is_err());
    }
}
