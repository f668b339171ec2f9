//! Access rules of a CodeArtifactDomain, pure: may this namespace have what
//! this PypiRepository spec asks for? Rules are alternatives, never added up:
//! a spec is allowed when one rule alone admits the namespace and grants every
//! part of it. When several rules allow it, the grant is their union (so the
//! order of rules never matters). When none does, the answer names what is
//! missing according to the admitting rule that lacks the fewest items (on a
//! tie, the alphabetically first list, again whatever the order), and never
//! shows another team's patterns.

use std::collections::BTreeMap;

use globset::Glob;
use kube::core::{Selector, SelectorExt};

use crate::crd::{
    AccessRule, DeletionPolicy, MAX_TOKEN_SECONDS, PypiRepositorySpec, RepositoryMode, RoleRef,
    TokenScope,
};

/// What a namespace asks for: its identity and the parts of the spec that need a grant.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// Namespace name.
    pub namespace: &'a str,
    /// Namespace labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Repository name.
    pub repository: &'a str,
    /// The spec.
    pub spec: &'a PypiRepositorySpec,
}

/// What the allowing rules grant beyond the spec itself, for decisions that
/// depend on what CodeArtifact holds (create a missing repository or not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// May create the repository when it is missing.
    pub create: bool,
    /// May adopt an unmarked existing repository (spec.adopt opted in).
    pub adopt: bool,
    /// May delete the repository it created.
    pub delete: bool,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Served, with what the allowing rules grant.
    Allowed(Grant),
    /// Refused: no rule admits the namespace at all.
    NamespaceNotAdmitted,
    /// Refused: the closest admitting rule lacks these items (plain words).
    Missing(Vec<String>),
}

/// Evaluates `rules` for `req`. Deterministic and independent of rule order
/// for the allow decision.
pub fn evaluate(rules: &[AccessRule], req: &Request<'_>) -> Verdict {
    let mut grant: Option<Grant> = None;
    let mut closest: Option<Vec<String>> = None;
    for rule in rules
        .iter()
        .filter(|r| admits(r, req.namespace, req.labels))
    {
        let missing = missing(rule, req);
        if missing.is_empty() {
            let g = grant.get_or_insert_with(Grant::default);
            g.create |= rule.create;
            g.adopt |= rule.adopt && req.spec.adopt;
            g.delete |= rule.delete;
        } else if closest
            .as_ref()
            .is_none_or(|c| (missing.len(), &missing) < (c.len(), c))
        {
            closest = Some(missing);
        }
    }
    match (grant, closest) {
        (Some(g), _) => Verdict::Allowed(g),
        (None, Some(missing)) => Verdict::Missing(missing),
        (None, None) => Verdict::NamespaceNotAdmitted,
    }
}

/// How the admitted object's AWS calls and tokens are made, once
/// [`evaluate`] allowed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// What its tokens may do.
    pub token_scope: TokenScope,
    /// The rule's role; `None` leaves it to the domain's role (or the operator).
    pub role: Option<RoleRef>,
}

/// The credentials of an allowed request: of all the rules that allow it,
/// the one with the narrowest token scope (then the first role ARN) decides,
/// so rule order never matters and adding a broader rule never widens a
/// token. `None` when no rule allows the request.
pub fn credentials(rules: &[AccessRule], req: &Request<'_>) -> Option<Credentials> {
    rules
        .iter()
        .filter(|r| admits(r, req.namespace, req.labels) && missing(r, req).is_empty())
        .map(|r| Credentials {
            token_scope: r.token_scope,
            role: r.role.clone(),
        })
        .min_by(|a, b| (a.token_scope.breadth(), &a.role).cmp(&(b.token_scope.breadth(), &b.role)))
}

/// Whether the rule admits the namespace: by name (glob) or by labels.
pub fn admits(rule: &AccessRule, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
    let by_name = rule.namespaces.iter().any(|p| glob_matches(p, namespace));
    let by_labels = rule.namespace_selector.as_ref().is_some_and(|s| {
        // A selector the apiserver accepted but kube cannot parse admits nobody.
        Selector::try_from(s.clone()).is_ok_and(|sel| sel.matches(labels))
    });
    by_name || by_labels
}

/// What `rule` does not grant of the request, in plain words.
fn missing(rule: &AccessRule, req: &Request<'_>) -> Vec<String> {
    let spec = req.spec;
    let mut out = Vec::new();
    if !any_glob(&rule.repositories, req.repository) {
        out.push(format!("repository name {:?}", req.repository));
    }
    if spec.mode == RepositoryMode::Manage {
        if spec.adopt && !rule.adopt && !rule.create {
            out.push("adopting repositories (adopt)".into());
        } else if !spec.adopt && !rule.create && !rule.adopt {
            out.push("creating repositories (create)".into());
        }
    }
    if spec.deletion_policy == DeletionPolicy::Delete && !rule.delete {
        out.push("deletionPolicy Delete (delete)".into());
    }
    if spec.external_connection.is_some() && !rule.external_connection {
        out.push("setting spec.externalConnection (externalConnection)".into());
    }
    if spec.permissions_policy.is_some() && !rule.permissions_policy {
        out.push("setting spec.permissionsPolicy (permissionsPolicy)".into());
    }
    for up in &spec.upstreams {
        if !any_glob(&rule.upstreams, up) {
            out.push(format!("upstream {up:?}"));
        }
    }
    let asked = match spec.token.duration_seconds {
        0 => MAX_TOKEN_SECONDS,
        d => d,
    };
    if asked > rule.max_token_seconds {
        out.push(format!(
            "tokens of {asked} s (longest allowed: {} s)",
            rule.max_token_seconds
        ));
    }
    out
}

fn any_glob(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| glob_matches(p, name))
}

/// Glob matching with globset; a pattern that does not compile matches nothing.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    Glob::new(pattern).is_ok_and(|g| g.compile_matcher().is_match(name))
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
