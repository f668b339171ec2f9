//! `PackageGroupDescription` (and `PackageGroupSummary`, which has the same members) and the
//! package group ARN, built from the state.

use serde_json::{Map, Value, json};

use super::output::timestamp;
use crate::state::Domain;
use crate::state::group_pattern::arn_component;
use crate::state::package_groups::{PackageGroup, TYPES};

/// `arn:aws:codeartifact:REGION:ACCOUNT:package-group/D/<encoded pattern>`.
pub fn package_group_arn(region: &str, owner: &str, domain: &str, pattern: &str) -> String {
    format!(
        "arn:aws:codeartifact:{region}:{owner}:package-group/{domain}/{}",
        arn_component(pattern)
    )
}

fn reference(region: &str, d: &Domain, g: &PackageGroup) -> Value {
    json!({ "arn": package_group_arn(region, &d.owner, &d.name, &g.pattern), "pattern": g.pattern })
}

fn restrictions(region: &str, d: &Domain, g: &PackageGroup) -> Value {
    let mut out = Map::new();
    for kind in TYPES {
        let own = g.restriction(kind);
        let (effective, from) = d.groups().effective(g, kind);
        let mut r = json!({
            "mode": own.mode,
            "effectiveMode": effective.mode,
            "repositoriesCount": own.repositories.len(),
        });
        if own.mode == "INHERIT" {
            r["inheritedFrom"] = reference(region, d, from);
        }
        out.insert((*kind).to_string(), r);
    }
    Value::Object(out)
}

/// `PackageGroupDescription` (also the `PackageGroupSummary`, which has the same members).
pub fn description(region: &str, d: &Domain, g: &PackageGroup) -> Value {
    let mut v = json!({
        "arn": package_group_arn(region, &d.owner, &d.name, &g.pattern),
        "pattern": g.pattern,
        "domainName": d.name,
        "domainOwner": d.owner,
        "createdTime": timestamp(g.created),
        "originConfiguration": { "restrictions": restrictions(region, d, g) },
    });
    if let Some(c) = &g.contact_info {
        v["contactInfo"] = json!(c);
    }
    if let Some(c) = &g.description {
        v["description"] = json!(c);
    }
    if let Some(p) = d.groups().parent(g) {
        v["parent"] = reference(region, d, p);
    }
    v
}
