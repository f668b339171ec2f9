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
        let repos = r.map(|r| r.repositories.iter().cloned().collect()).unwrap_or_default();
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
