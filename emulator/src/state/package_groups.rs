//! Package groups of a domain: the stored group, the tree their patterns form, which group a
//! package belongs to (strongly or weakly), effective modes through INHERIT, and the one
//! question enforcement asks: may this package enter this repository by this origin?

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::group_pattern::{Scope, parse};

/// The root group every domain has.
pub const ROOT: &str = "/*";
/// Restriction types, in the model's order.
pub const TYPES: &[&str] = &["EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM", "PUBLISH"];
/// Restriction modes.
pub const MODES: &[&str] = &["ALLOW", "ALLOW_SPECIFIC_REPOSITORIES", "BLOCK", "INHERIT"];
/// Direct publishing (twine upload).
pub const PUBLISH: &str = "PUBLISH";
/// Ingestion through an external connection.
pub const EXTERNAL_UPSTREAM: &str = "EXTERNAL_UPSTREAM";
/// Retention from an upstream repository.
pub const INTERNAL_UPSTREAM: &str = "INTERNAL_UPSTREAM";
/// Effective modes are looked up at most this deep (the tree cannot be deeper than this).
const MAX_DEPTH: usize = 64;

/// One restriction type of a group: its mode and its own allowed-repository list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restriction {
    pub mode: String,
    #[serde(default)]
    pub repositories: BTreeSet<String>,
}

/// A package group.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageGroup {
    pub pattern: String,
    pub created: f64,
    pub contact_info: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Restriction type → restriction; every type is present.
    pub restrictions: BTreeMap<String, Restriction>,
}

impl PackageGroup {
    /// A new group: the root allows every origin, any other group inherits.
    pub fn new(pattern: &str, created: f64) -> Self {
        let mode = if pattern == ROOT { "ALLOW" } else { "INHERIT" };
        PackageGroup {
            pattern: pattern.to_string(),
            created,
            contact_info: None,
            description: None,
            tags: BTreeMap::new(),
            restrictions: TYPES
                .iter()
                .map(|t| {
                    let r = Restriction {
                        mode: mode.into(),
                        repositories: BTreeSet::new(),
                    };
                    (t.to_string(), r)
                })
                .collect(),
        }
    }

    /// The parsed pattern (stored patterns were validated when created).
    pub fn scope(&self) -> Scope {
        parse(&self.pattern).unwrap_or(Scope::All)
    }

    /// The restriction of `kind` (a default INHERIT one if a stored group lacks it).
    pub fn restriction(&self, kind: &str) -> Restriction {
        self.restrictions.get(kind).cloned().unwrap_or(Restriction {
            mode: "INHERIT".into(),
            repositories: BTreeSet::new(),
        })
    }
}

/// The groups of a domain that has none stored yet (a state file from before package groups).
pub fn root_only() -> Vec<PackageGroup> {
    vec![PackageGroup::new(ROOT, 0.0)]
}

/// How a package is associated with its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strength {
    /// The pattern matches the name as it is: the group's settings apply.
    Strong,
    /// The pattern matches only after normalisation: blocked from every origin.
    Weak,
}

impl Strength {
    /// The wire name (`PackageGroupAssociationType`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Strong => "STRONG",
            Strength::Weak => "WEAK",
        }
    }
}

/// A domain's package groups, and what they decide.
#[derive(Clone, Copy)]
pub struct Groups<'a>(pub &'a [PackageGroup]);

impl<'a> Groups<'a> {
    /// The group with exactly this pattern.
    pub fn get(self, pattern: &str) -> Option<&'a PackageGroup> {
        self.0.iter().find(|g| g.pattern == pattern)
    }

    /// The most specific other group whose pattern contains `g`'s (none for the root).
    pub fn parent(self, g: &PackageGroup) -> Option<&'a PackageGroup> {
        let scope = g.scope();
        self.0
            .iter()
            .filter(|p| p.pattern != g.pattern && p.scope().contains(&scope))
            .max_by_key(|p| p.scope().specificity())
    }

    /// The group a package belongs to: the most specific exact match, unless a more specific
    /// group matches only after normalisation (then that one, weakly).
    pub fn associated(
        self,
        format: &str,
        namespace: &str,
        name: &str,
    ) -> Option<(&'a PackageGroup, Strength)> {
        let best = |fold: bool| {
            self.0
                .iter()
                .filter(|g| g.scope().matches(format, namespace, name, fold))
                .max_by_key(|g| g.scope().specificity())
        };
        let strong = best(false);
        match (strong, best(true)) {
            (Some(s), Some(w)) if w.scope().specificity() > s.scope().specificity() => {
                Some((w, Strength::Weak))
            }
            (Some(s), _) => Some((s, Strength::Strong)),
            (None, w) => w.map(|w| (w, Strength::Weak)),
        }
    }

    /// The effective restriction of `kind` for `g` and the group it comes from: `g`'s own
    /// unless INHERIT, else the first ancestor's that is not INHERIT.
    pub fn effective(self, g: &'a PackageGroup, kind: &str) -> (Restriction, &'a PackageGroup) {
        let mut at = g;
        for _ in 0..MAX_DEPTH {
            let r = at.restriction(kind);
            if r.mode != "INHERIT" {
                return (r, at);
            }
            match self.parent(at) {
                Some(p) => at = p,
                None => break,
            }
        }
        let allow = Restriction {
            mode: "ALLOW".into(),
            repositories: BTreeSet::new(),
        };
        (allow, at)
    }

    /// Whether the package may enter `repository` by the origin `kind`; the refusal says why.
    pub fn origin_allowed(
        self,
        format: &str,
        namespace: &str,
        name: &str,
        kind: &str,
        repository: &str,
    ) -> Result<(), String> {
        let Some((g, strength)) = self.associated(format, namespace, name) else {
            return Ok(());
        };
        if strength == Strength::Weak {
            return Err(format!(
                "Package '{name}' matches package group '{}' only after normalisation, so every origin is blocked for it",
                g.pattern
            ));
        }
        let (r, from) = self.effective(g, kind);
        let allowed = match r.mode.as_str() {
            "BLOCK" => false,
            "ALLOW_SPECIFIC_REPOSITORIES" => r.repositories.contains(repository),
            _ => true,
        };
        if allowed {
            return Ok(());
        }
        Err(format!(
            "{kind} is not allowed for package '{name}' in repository '{repository}' by package group '{}' (mode {} set on '{}')",
            g.pattern, r.mode, from.pattern
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(groups: &[(&str, &[(&str, &str)])]) -> Vec<PackageGroup> {
        let mut package_groups = root_only();
        for (pattern, modes) in groups {
            let mut g = PackageGroup::new(pattern, 0.0);
            for (kind, mode) in *modes {
                g.restrictions.get_mut(*kind).unwrap().mode = mode.to_string();
            }
            package_groups.push(g);
        }
        package_groups
    }

    #[test]
    fn the_most_specific_group_wins_and_weak_matches_block_everything() {
        let all = domain(&[
            ("/pypi/*", &[]),
            ("/pypi//acme~", &[("EXTERNAL_UPSTREAM", "BLOCK")]),
            ("/pypi//acme-billing$", &[]),
        ]);
        let d = Groups(&all);
        let at = |n: &str| {
            d.associated("pypi", "", n)
                .map(|(g, s)| (g.pattern.clone(), s))
        };
        assert_eq!(at("requests"), Some(("/pypi/*".into(), Strength::Strong)));
        assert_eq!(
            at("acme-x"),
            Some(("/pypi//acme~".into(), Strength::Strong))
        );
        assert_eq!(
            at("acme-billing"),
            Some(("/pypi//acme-billing$".into(), Strength::Strong))
        );
        assert_eq!(at("acmex"), Some(("/pypi/*".into(), Strength::Strong)));
        let npm = d.associated("npm", "", "acme-x").unwrap();
        assert_eq!(npm.0.pattern, ROOT);
        let weak = domain(&[("/pypi//Acme~", &[])]);
        let weak = Groups(&weak);
        let (g, s) = weak.associated("pypi", "", "acme-x").unwrap();
        assert_eq!((g.pattern.as_str(), s), ("/pypi//Acme~", Strength::Weak));
        assert!(
            weak.origin_allowed("pypi", "", "acme-x", PUBLISH, "r")
                .is_err()
        );
        assert!(
            weak.origin_allowed("pypi", "", "other", PUBLISH, "r")
                .is_ok()
        );
    }

    #[test]
    fn effective_modes_come_through_inherit_from_the_nearest_ancestor() {
        let mut all = domain(&[
            ("/pypi/*", &[("PUBLISH", "BLOCK")]),
            ("/pypi//acme~", &[("EXTERNAL_UPSTREAM", "BLOCK")]),
            (
                "/pypi//acme-billing$",
                &[("PUBLISH", "ALLOW_SPECIFIC_REPOSITORIES")],
            ),
        ]);
        let d = Groups(&all);
        let g = d.get("/pypi//acme~").unwrap();
        assert_eq!(d.parent(g).unwrap().pattern, "/pypi/*");
        let (r, from) = d.effective(g, PUBLISH);
        assert_eq!(
            (r.mode.as_str(), from.pattern.as_str()),
            ("BLOCK", "/pypi/*")
        );
        let (r, from) = d.effective(g, INTERNAL_UPSTREAM);
        assert_eq!((r.mode.as_str(), from.pattern.as_str()), ("ALLOW", ROOT));
        assert!(
            d.origin_allowed("pypi", "", "acme-x", EXTERNAL_UPSTREAM, "r")
                .is_err()
        );
        assert!(
            d.origin_allowed("pypi", "", "requests", EXTERNAL_UPSTREAM, "r")
                .is_ok()
        );
        assert!(
            d.origin_allowed("pypi", "", "acme-x", PUBLISH, "r")
                .is_err()
        );
        assert!(
            d.origin_allowed("pypi", "", "acme-billing", PUBLISH, "team")
                .is_err()
        );
        all.iter_mut()
            .find(|g| g.pattern == "/pypi//acme-billing$")
            .unwrap()
            .restrictions
            .get_mut(PUBLISH)
            .unwrap()
            .repositories
            .insert("team".into());
        let d = Groups(&all);
        assert!(
            d.origin_allowed("pypi", "", "acme-billing", PUBLISH, "team")
                .is_ok()
        );
        assert!(
            d.origin_allowed("pypi", "", "acme-billing", PUBLISH, "other")
                .is_err()
        );
        assert!(d.parent(d.get(ROOT).unwrap()).is_none());
    }
}
