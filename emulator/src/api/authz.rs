//! IAM authorization of control-plane calls made with role-session credentials: which action
//! and resource ARN each operation is checked on, as CodeArtifact's permissions reference lists
//! them. Calls signed with a configured long-term key are not evaluated (docs/emulator.md).

use serde_json::Value;

use super::group_output::package_group_arn;
use super::output::{domain_arn, package_arn, repository_arn};
use super::request::Call;
use crate::error::ApiError;
use crate::policy::Request;
use crate::state::normalize;

/// What an operation is authorized on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `*` (ListDomains).
    Any,
    /// The domain ARN.
    Domain,
    /// The repository ARN, named by this query member.
    Repository(&'static str),
    /// The package ARN (`format`, `namespace`, `package` query members).
    Package,
    /// The ARN in the `resourceArn` query member (tag operations).
    Arn,
    /// The package group ARN (`package-group` query member or `packageGroup` in the body).
    PackageGroup,
}

/// The condition context of a CodeArtifact bearer-token request (`sts:GetServiceBearerToken`).
const BEARER_CONTEXT: &[(&str, &str)] = &[("sts:AWSServiceName", "codeartifact.amazonaws.com")];

/// A member from the query, else from the JSON body (PutDomainPermissionsPolicy).
fn member(call: &Call, query: &str, body: &Value, json: &str) -> String {
    call.opt(query)
        .map(str::to_string)
        .or_else(|| body.get(json).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// The resource ARN `scope` names for this call. Members are used as sent: the operation
/// itself validates them afterwards.
pub fn resource(region: &str, scope: Scope, call: &Call) -> String {
    let body: Value = call.body().unwrap_or(Value::Null);
    let domain = member(call, "domain", &body, "domain");
    let mut owner = member(call, "domain-owner", &body, "domainOwner");
    if owner.is_empty() {
        owner.clone_from(&call.caller.account_id);
    }
    match scope {
        Scope::Any => "*".to_string(),
        Scope::Domain => domain_arn(region, &owner, &domain),
        Scope::Repository(field) => {
            repository_arn(region, &owner, &domain, call.opt(field).unwrap_or_default())
        }
        Scope::Package => {
            let format = call.opt("format").unwrap_or_default();
            let raw = call.opt("package").unwrap_or_default();
            let name = if format == "pypi" {
                normalize(raw)
            } else {
                raw.to_string()
            };
            package_arn(
                region,
                &owner,
                &domain,
                call.opt("repository").unwrap_or_default(),
                format,
                call.opt("namespace").unwrap_or_default(),
                &name,
            )
        }
        Scope::Arn => call.opt("resourceArn").unwrap_or_default().to_string(),
        Scope::PackageGroup => {
            let pattern = member(call, "package-group", &body, "packageGroup");
            package_group_arn(region, &owner, &domain, &pattern)
        }
    }
}

/// Refuse `operation` when the caller is a role session whose permissions do not allow it.
/// GetAuthorizationToken also needs `sts:GetServiceBearerToken`, as in AWS.
pub fn authorize(region: &str, operation: &str, scope: Scope, call: &Call) -> Result<(), ApiError> {
    let Some(session) = &call.caller.session else {
        return Ok(());
    };
    let action = format!("codeartifact:{operation}");
    let arn = resource(region, scope, call);
    let mut checks = vec![Request {
        action: &action,
        resource: &arn,
        context: &[],
    }];
    if operation == "GetAuthorizationToken" {
        checks.push(Request {
            action: "sts:GetServiceBearerToken",
            resource: "*",
            context: BEARER_CONTEXT,
        });
    }
    checks
        .iter()
        .try_for_each(|r| session.grant.authorize(r))
        .map_err(ApiError::AccessDenied)
}
