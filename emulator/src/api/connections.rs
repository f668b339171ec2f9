//! AssociateExternalConnection, DisassociateExternalConnection and GetRepositoryEndpoint.

use serde_json::{Value, json};

use super::output::repository_description;
use super::request::Call;
use crate::context::Context;
use crate::error::ApiError;
use crate::validate;

/// The only external connection the emulator can serve (from `--public-pypi-dir`).
pub const PUBLIC_PYPI: &str = "public:pypi";
/// External connections AWS knows; all but `public:pypi` are for formats the emulator lacks.
const KNOWN: &[&str] = &[
    "public:npmjs",
    "public:nuget-org",
    "public:pypi",
    "public:maven-central",
    "public:maven-googleandroid",
    "public:maven-gradleplugins",
    "public:maven-commonsware",
    "public:maven-clojars",
    "public:ruby-gems-org",
    "public:crates-io",
];

fn connection_name(call: &Call) -> Result<&str, ApiError> {
    let name = call.req("external-connection")?;
    validate::external_connection_name("external-connection", name)?;
    Ok(name)
}

/// AssociateExternalConnection: at most one per repository, and only `public:pypi`.
pub fn associate(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, name) = call.repository_path()?;
    let conn = connection_name(call)?;
    if !KNOWN.contains(&conn) {
        return Err(ApiError::field(format!(
            "External connection '{conn}' does not exist"
        )));
    }
    if conn != PUBLIC_PYPI {
        return Err(ApiError::field(format!(
            "External connection '{conn}' is not supported by this emulator, which serves only the pypi format ({PUBLIC_PYPI})"
        )));
    }
    ctx.mutate(|s| {
        let r = s.repository_mut(&owner, domain, name)?;
        if let Some(existing) = r.external_connections.first() {
            return Err(ApiError::conflict(
                "repository",
                name,
                format!(
                    "Repository '{name}' already has the external connection '{existing}'; a repository can have only one"
                ),
            ));
        }
        r.external_connections.push(conn.to_string());
        let d = s.domain(&owner, domain)?;
        let out = repository_description(&ctx.config.region, d, d.repository(name)?);
        Ok(json!({ "repository": out }))
    })
}

/// DisassociateExternalConnection. Packages already fetched stay in the repository.
pub fn disassociate(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, name) = call.repository_path()?;
    let conn = connection_name(call)?;
    ctx.mutate(|s| {
        let r = s.repository_mut(&owner, domain, name)?;
        if !r.external_connections.iter().any(|c| c == conn) {
            return Err(ApiError::not_found(
                "repository",
                name,
                format!("External connection '{conn}' is not associated with repository '{name}'"),
            ));
        }
        r.external_connections.retain(|c| c != conn);
        let d = s.domain(&owner, domain)?;
        let out = repository_description(&ctx.config.region, d, d.repository(name)?);
        Ok(json!({ "repository": out }))
    })
}

/// The repository endpoint: AWS's VPC-endpoint path shape on the emulator's own address,
/// `{base}/{format}/d/{domain}-{owner}/{repository}/`.
pub fn endpoint_url(base: &str, format: &str, domain: &str, owner: &str, repo: &str) -> String {
    format!("{base}/{format}/d/{domain}-{owner}/{repo}/")
}

/// The dual-stack form of the emulator's address. AWS does not document the
/// dual-stack host of repository endpoints; the emulator names its IPv4
/// loopback address `localhost` instead (which resolves to ::1 and
/// 127.0.0.1), so a dual-stack URL differs from the IPv4 one and still
/// reaches the emulator. Other hosts are returned unchanged.
pub fn dualstack_base(base: &str) -> String {
    base.replacen("://127.0.0.1:", "://localhost:", 1)
}

/// GetRepositoryEndpoint.
pub fn endpoint(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner, name) = call.repository_path()?;
    let format = call.req("format")?;
    validate::one_of("format", format, validate::FORMATS)?;
    let endpoint_type = call.opt("endpointType");
    if let Some(t) = endpoint_type {
        validate::one_of("endpointType", t, &["dualstack", "ipv4"])?;
    }
    ctx.read(|s| s.repository(&owner, domain, name).map(|_| ()))?;
    let mut base = ctx.endpoint_base(call.host());
    if endpoint_type == Some("dualstack") {
        base = dualstack_base(&base);
    }
    let url = endpoint_url(&base, format, domain, &owner, name);
    Ok(json!({ "repositoryEndpoint": url }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_domain_and_owner_like_the_aws_host_name() {
        assert_eq!(
            endpoint_url(
                "http://127.0.0.1:9",
                "pypi",
                "my-domain",
                "111122223333",
                "repo"
            ),
            "http://127.0.0.1:9/pypi/d/my-domain-111122223333/repo/"
        );
    }

    #[test]
    fn the_dualstack_endpoint_names_loopback_by_a_name_of_both_families() {
        assert_eq!(dualstack_base("http://127.0.0.1:9"), "http://localhost:9");
        assert_eq!(dualstack_base("http://10.0.0.5:9"), "http://10.0.0.5:9");
    }
}
