//! What must change for a domain's package groups to be as a CodeArtifactDomain declares
//! them (spec.packageGroups plus the groups spec.internalPackages stands for). Pure: the
//! caller reads CodeArtifact and carries the changes out.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::{Allowed, OriginUpdate};
use crate::crd::{CodeArtifactDomainSpec, OriginMode, OriginRestriction, PackageGroupSpec};

/// The root group every domain has: never created, never deleted.
pub const ROOT: &str = "/*";
/// CodeArtifact's restriction types.
pub const KINDS: [&str; 3] = ["EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM", "PUBLISH"];

/// A group as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub pattern: String,
    /// Empty: none.
    pub description: String,
    /// Empty: none.
    pub contact_info: String,
    /// Restriction type → mode (CodeArtifact's names).
    pub modes: BTreeMap<String, String>,
    /// Restriction type → allowed repositories.
    pub allowed: BTreeMap<String, BTreeSet<String>>,
}

/// A group as CodeArtifact holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actual {
    pub pattern: String,
    pub description: String,
    pub contact_info: String,
    pub modes: BTreeMap<String, String>,
    pub allowed: BTreeMap<String, BTreeSet<String>>,
    /// Whether this object created it (its marker tags say so).
    pub ours: bool,
}

/// One change, in the order to carry them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// CreatePackageGroup (followed by the group's [`Change::Origin`]).
    Create {
        pattern: String,
        description: String,
        contact_info: String,
    },
    /// UpdatePackageGroup.
    Texts {
        pattern: String,
        description: String,
        contact_info: String,
    },
    /// UpdatePackageGroupOriginConfiguration.
    Origin {
        pattern: String,
        update: OriginUpdate,
    },
    /// DeletePackageGroup (only groups this object created).
    Delete { pattern: String },
}

fn restriction<'a>(spec: &'a PackageGroupSpec, kind: &str) -> Option<&'a OriginRestriction> {
    let c = &spec.origin_controls;
    match kind {
        "PUBLISH" => c.publish.as_ref(),
        "EXTERNAL_UPSTREAM" => c.external_upstream.as_ref(),
        _ => c.internal_upstream.as_ref(),
    }
}

fn desired_group(spec: &PackageGroupSpec) -> Desired {
    let fallback = if spec.pattern == ROOT {
        OriginMode::Allow
    } else {
        OriginMode::Inherit
    };
    let mut modes = BTreeMap::new();
    let mut allowed = BTreeMap::new();
    for kind in KINDS {
        let r = restriction(spec, kind);
        let mode = r.map_or(fallback, |r| r.mode);
        modes.insert(kind.to_string(), mode.aws_name().to_string());
        let repos = r
            .map(|r| r.repositories.iter().cloned().collect())
            .unwrap_or_default();
        allowed.insert(kind.to_string(), repos);
    }
    Desired {
        pattern: spec.pattern.clone(),
        description: spec.description.clone().unwrap_or_default(),
        contact_info: spec.contact_info.clone().unwrap_or_default(),
        modes,
        allowed,
    }
}

/// The groups a spec declares; a pattern declared twice (say by a package group and an
/// internal prefix) is an error naming it.
pub fn desired(spec: &CodeArtifactDomainSpec) -> Result<Vec<Desired>, String> {
    let groups = spec
        .package_groups
        .iter()
        .cloned()
        .chain(spec.internal_packages.iter().map(|p| p.group()));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for g in groups {
        if !seen.insert(g.pattern.clone()) {
            return Err(format!(
                "package group {} is declared twice (spec.packageGroups and spec.internalPackages)",
                g.pattern
            ));
        }
        out.push(desired_group(&g));
    }
    Ok(out)
}

fn origin_update(want: &Desired, have: &Actual) -> OriginUpdate {
    let modes = want
        .modes
        .iter()
        .filter(|(k, m)| have.modes.get(*k) != Some(*m))
        .map(|(k, m)| (k.clone(), m.clone()))
        .collect();
    let none = BTreeSet::new();
    let mut add: Vec<Allowed> = Vec::new();
    let mut remove: Vec<Allowed> = Vec::new();
    for kind in KINDS {
        let w = want.allowed.get(kind).unwrap_or(&none);
        let h = have.allowed.get(kind).unwrap_or(&none);
        add.extend(w.difference(h).map(|r| (kind.to_string(), r.clone())));
        remove.extend(h.difference(w).map(|r| (kind.to_string(), r.clone())));
    }
    OriginUpdate { modes, add, remove }
}

/// A group CodeArtifact has just created: every restriction INHERIT, no lists.
fn fresh(pattern: &str) -> Actual {
    Actual {
        pattern: pattern.to_string(),
        modes: KINDS
            .iter()
            .map(|k| (k.to_string(), "INHERIT".to_string()))
            .collect(),
        ..Actual::default()
    }
}

/// The changes that make `actual` what `desired` declares: create what is missing, put back
/// what drifted, delete what this object created and no longer declares. Groups made
/// elsewhere are corrected when declared and otherwise left alone; the root is never
/// created or deleted.
pub fn plan(desired: &[Desired], actual: &[Actual]) -> Vec<Change> {
    let mut changes = Vec::new();
    for want in desired {
        let found = actual.iter().find(|a| a.pattern == want.pattern);
        let have = match found {
            Some(a) => a.clone(),
            None => {
                changes.push(Change::Create {
                    pattern: want.pattern.clone(),
                    description: want.description.clone(),
                    contact_info: want.contact_info.clone(),
                });
                fresh(&want.pattern)
            }
        };
        if found.is_some()
            && (have.description != want.description || have.contact_info != want.contact_info)
        {
            changes.push(Change::Texts {
                pattern: want.pattern.clone(),
                description: want.description.clone(),
                contact_info: want.contact_info.clone(),
            });
        }
        let update = origin_update(want, &have);
        if update != OriginUpdate::default() {
            changes.push(Change::Origin {
                pattern: want.pattern.clone(),
                update,
            });
        }
    }
    for a in actual {
        let declared = desired.iter().any(|d| d.pattern == a.pattern);
        if a.ours && !declared && a.pattern != ROOT {
            changes.push(Change::Delete {
                pattern: a.pattern.clone(),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{InternalPackages, OriginControls};

    fn spec(groups: Vec<PackageGroupSpec>, internal: &[(&str, &[&str])]) -> CodeArtifactDomainSpec {
        let mut s: CodeArtifactDomainSpec = serde_json::from_value(serde_json::json!({})).unwrap();
        s.package_groups = groups;
        s.internal_packages = internal
            .iter()
            .map(|(p, to)| InternalPackages {
                prefix: p.to_string(),
                publish_to: to.iter().map(|r| r.to_string()).collect(),
            })
            .collect();
        s
    }

    fn actual_of(d: &Desired, ours: bool) -> Actual {
        Actual {
            pattern: d.pattern.clone(),
            description: d.description.clone(),
            contact_info: d.contact_info.clone(),
            modes: d.modes.clone(),
            allowed: d.allowed.clone(),
            ours,
        }
    }

    #[test]
    fn a_missing_group_is_created_then_given_its_origin_controls() {
        let want = desired(&spec(vec![], &[("acme", &["team"])])).unwrap();
        let changes = plan(&want, &[]);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(matches!(&changes[0], Change::Create { pattern, .. } if pattern == "/pypi//acme~"));
        let Change::Origin { update, .. } = &changes[1] else {
            panic!("{changes:?}")
        };
        assert_eq!(
            update.modes.get("EXTERNAL_UPSTREAM").map(String::as_str),
            Some("BLOCK")
        );
        assert_eq!(
            update.modes.get("PUBLISH").map(String::as_str),
            Some("ALLOW_SPECIFIC_REPOSITORIES")
        );
        assert!(
            !update.modes.contains_key("INTERNAL_UPSTREAM"),
            "INHERIT is the default"
        );
        assert_eq!(update.add, [("PUBLISH".to_string(), "team".to_string())]);
    }

    #[test]
    fn drift_is_put_back_and_a_group_as_declared_needs_nothing() {
        let want = desired(&spec(vec![], &[("acme", &["team"])])).unwrap();
        assert!(plan(&want, &[actual_of(&want[0], true)]).is_empty());
        let mut edited = actual_of(&want[0], false);
        edited
            .modes
            .insert("EXTERNAL_UPSTREAM".into(), "ALLOW".into());
        edited
            .allowed
            .get_mut("PUBLISH")
            .unwrap()
            .insert("intruder".into());
        edited.description = "changed by hand".into();
        let changes = plan(&want, &[edited]);
        assert!(
            matches!(&changes[0], Change::Texts { description, .. } if description.starts_with("Internal packages acme"))
        );
        let Change::Origin { update, .. } = &changes[1] else {
            panic!("{changes:?}")
        };
        assert_eq!(update.modes.len(), 1);
        assert_eq!(update.modes["EXTERNAL_UPSTREAM"], "BLOCK");
        assert_eq!(
            update.remove,
            [("PUBLISH".to_string(), "intruder".to_string())]
        );
        assert!(update.add.is_empty());
    }

    #[test]
    fn only_groups_this_object_created_are_deleted_and_never_the_root() {
        let old = desired(&spec(vec![], &[("acme", &[]), ("beta", &[])])).unwrap();
        let root = Actual {
            pattern: ROOT.into(),
            ours: true,
            ..Actual::default()
        };
        let mut by_hand = actual_of(&old[1], false);
        by_hand.pattern = "/pypi//other~".into();
        let actual = [actual_of(&old[0], true), by_hand, root];
        let now = desired(&spec(vec![], &[("beta", &[])])).unwrap();
        let changes = plan(&now, &actual);
        let deletes: Vec<_> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Delete { pattern } => Some(pattern.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deletes, ["/pypi//acme~"]);
    }

    #[test]
    fn the_root_defaults_to_allow_and_duplicates_are_refused() {
        let root = PackageGroupSpec {
            pattern: ROOT.into(),
            description: None,
            contact_info: None,
            origin_controls: OriginControls::default(),
        };
        let want = desired(&spec(vec![root], &[])).unwrap();
        assert!(want[0].modes.values().all(|m| m == "ALLOW"));
        let twice = PackageGroupSpec {
            pattern: "/pypi//acme~".into(),
            ..want_spec()
        };
        let err = desired(&spec(vec![twice], &[("acme", &[])])).unwrap_err();
        assert!(err.contains("/pypi//acme~"), "{err}");
    }

    fn want_spec() -> PackageGroupSpec {
        PackageGroupSpec {
            pattern: String::new(),
            description: None,
            contact_info: None,
            origin_controls: OriginControls::default(),
        }
    }
}
