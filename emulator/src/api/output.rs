//! JSON output structures (DomainDescription, RepositoryDescription, ...) built from the state.

use serde_json::{Map, Value, json};

use crate::state::{Domain, Package, Policy, Repository, Version};

/// `arn:aws:codeartifact:REGION:ACCOUNT:domain/D`.
pub fn domain_arn(region: &str, owner: &str, domain: &str) -> String {
    format!("arn:aws:codeartifact:{region}:{owner}:domain/{domain}")
}

/// `arn:aws:codeartifact:REGION:ACCOUNT:repository/D/R`.
pub fn repository_arn(region: &str, owner: &str, domain: &str, repo: &str) -> String {
    format!("arn:aws:codeartifact:{region}:{owner}:repository/{domain}/{repo}")
}

/// `arn:aws:codeartifact:REGION:ACCOUNT:package/D/R/FORMAT/NAMESPACE/NAME` (an empty
/// namespace for PyPI, whose names are normalised).
pub fn package_arn(
    region: &str,
    owner: &str,
    domain: &str,
    repo: &str,
    format: &str,
    namespace: &str,
    name: &str,
) -> String {
    format!(
        "arn:aws:codeartifact:{region}:{owner}:package/{domain}/{repo}/{format}/{namespace}/{name}"
    )
}

/// Epoch seconds as a JSON number, rounded to milliseconds.
pub fn timestamp(t: f64) -> Value {
    json!((t * 1000.0).round() / 1000.0)
}

/// `DomainSummary`.
pub fn domain_summary(region: &str, d: &Domain) -> Value {
    json!({
        "name": d.name,
        "owner": d.owner,
        "arn": domain_arn(region, &d.owner, &d.name),
        "status": "Active",
        "createdTime": timestamp(d.created),
        "encryptionKey": d.encryption_key,
    })
}

/// `DomainDescription`.
pub fn domain_description(region: &str, d: &Domain) -> Value {
    let mut v = domain_summary(region, d);
    let obj = v.as_object_mut().expect("object");
    obj.insert("repositoryCount".into(), json!(d.repositories.len()));
    obj.insert("assetSizeBytes".into(), json!(d.asset_size()));
    obj.insert(
        "s3BucketArn".into(),
        json!(format!("arn:aws:s3:::assets-{}-{region}", d.owner)),
    );
    v
}

/// `RepositorySummary`.
pub fn repository_summary(region: &str, d: &Domain, r: &Repository) -> Value {
    let mut v = json!({
        "name": r.name,
        "administratorAccount": d.owner,
        "domainName": d.name,
        "domainOwner": d.owner,
        "arn": repository_arn(region, &d.owner, &d.name, &r.name),
        "createdTime": timestamp(r.created),
    });
    if let Some(desc) = &r.description {
        v["description"] = json!(desc);
    }
    v
}

/// `RepositoryDescription`.
pub fn repository_description(region: &str, d: &Domain, r: &Repository) -> Value {
    let mut v = repository_summary(region, d, r);
    v["upstreams"] = r
        .upstreams
        .iter()
        .map(|u| json!({ "repositoryName": u }))
        .collect();
    v["externalConnections"] = r
        .external_connections
        .iter()
        .map(|c| {
            json!({
                "externalConnectionName": c,
                "packageFormat": "pypi",
                "status": "Available",
            })
        })
        .collect();
    v
}

/// `ResourcePolicy`.
pub fn policy(arn: &str, p: &Policy) -> Value {
    json!({ "resourceArn": arn, "revision": p.revision, "document": p.document })
}

/// A tag map as a `TagList`.
pub fn tags<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    tags.into_iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect()
}

/// `PackageOriginConfiguration`.
pub fn origin_configuration(p: &Package) -> Value {
    json!({ "restrictions": { "publish": p.origin.publish, "upstream": p.origin.upstream } })
}

/// `PackageSummary`.
pub fn package_summary(p: &Package) -> Value {
    let mut v = json!({
        "format": p.format,
        "package": p.name,
        "originConfiguration": origin_configuration(p),
    });
    if let Some(ns) = &p.namespace {
        v["namespace"] = json!(ns);
    }
    v
}

/// `PackageVersionSummary`.
pub fn version_summary(v: &Version) -> Value {
    let mut entry = Map::new();
    if let Some(r) = &v.entry.repository_name {
        entry.insert("repositoryName".into(), json!(r));
    }
    if let Some(c) = &v.entry.external_connection_name {
        entry.insert("externalConnectionName".into(), json!(c));
    }
    json!({
        "version": v.version,
        "revision": v.revision,
        "status": v.status,
        "origin": { "domainEntryPoint": entry, "originType": v.origin_type },
    })
}
