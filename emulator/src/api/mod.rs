//! The restJson1 control plane: routing on method + fixed path, then count, authenticate,
//! apply deny rules and injected faults, and dispatch to the operation.
//!
//! What is counted: every request whose method and path name one of the emulated operations,
//! before anything else happens, so requests later refused (oversized body, bad signature,
//! deny rule, injected fault, validation error) are counted too. Unknown paths are not counted.

mod connections;
mod domains;
mod output;
mod packages;
mod policies;
mod repositories;
pub mod request;
mod tags;
mod tokens;
mod versions;

use std::time::SystemTime;

use axum::body::Body;
use http::{Method, Request, Response, StatusCode};
use rand::RngCore;
use serde_json::Value;

pub use connections::PUBLIC_PYPI;
pub use output::{domain_arn, repository_arn};

use crate::context::Context;
use crate::error::ApiError;
use crate::harness::Injected;
use crate::sigv4::{self, Received};
use request::Call;

/// Largest accepted control-plane body (10 MiB, far above any valid request).
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// `Retry-After` sent with injected throttling, in seconds.
const RETRY_AFTER_SECONDS: u32 = 1;

/// Every emulated operation: method, path and name.
pub const OPERATIONS: &[(Method, &str, &str)] = &[
    (Method::POST, "/v1/domain", "CreateDomain"),
    (Method::GET, "/v1/domain", "DescribeDomain"),
    (Method::DELETE, "/v1/domain", "DeleteDomain"),
    (Method::POST, "/v1/domains", "ListDomains"),
    (Method::POST, "/v1/repository", "CreateRepository"),
    (Method::GET, "/v1/repository", "DescribeRepository"),
    (Method::PUT, "/v1/repository", "UpdateRepository"),
    (Method::DELETE, "/v1/repository", "DeleteRepository"),
    (
        Method::POST,
        "/v1/domain/repositories",
        "ListRepositoriesInDomain",
    ),
    (
        Method::POST,
        "/v1/repository/external-connection",
        "AssociateExternalConnection",
    ),
    (
        Method::DELETE,
        "/v1/repository/external-connection",
        "DisassociateExternalConnection",
    ),
    (
        Method::POST,
        "/v1/authorization-token",
        "GetAuthorizationToken",
    ),
    (
        Method::GET,
        "/v1/repository/endpoint",
        "GetRepositoryEndpoint",
    ),
    (Method::POST, "/v1/tag", "TagResource"),
    (Method::POST, "/v1/untag", "UntagResource"),
    (Method::POST, "/v1/tags", "ListTagsForResource"),
    (
        Method::PUT,
        "/v1/domain/permissions/policy",
        "PutDomainPermissionsPolicy",
    ),
    (
        Method::GET,
        "/v1/domain/permissions/policy",
        "GetDomainPermissionsPolicy",
    ),
    (
        Method::DELETE,
        "/v1/domain/permissions/policy",
        "DeleteDomainPermissionsPolicy",
    ),
    (
        Method::PUT,
        "/v1/repository/permissions/policy",
        "PutRepositoryPermissionsPolicy",
    ),
    (
        Method::GET,
        "/v1/repository/permissions/policy",
        "GetRepositoryPermissionsPolicy",
    ),
    (
        Method::DELETE,
        "/v1/repository/permissions/policies",
        "DeleteRepositoryPermissionsPolicy",
    ),
    (Method::POST, "/v1/packages", "ListPackages"),
    (Method::POST, "/v1/package/versions", "ListPackageVersions"),
    (
        Method::POST,
        "/v1/package/versions/delete",
        "DeletePackageVersions",
    ),
    (
        Method::POST,
        "/v1/package/versions/dispose",
        "DisposePackageVersions",
    ),
    (
        Method::POST,
        "/v1/package/versions/copy",
        "CopyPackageVersions",
    ),
    (Method::POST, "/v1/package", "PutPackageOriginConfiguration"),
];

/// The operation named by `method` and `path`.
pub fn operation(method: &Method, path: &str) -> Option<&'static str> {
    OPERATIONS
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, name)| *name)
}

/// A fresh request id in UUID v4 form.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Answer one control-plane request.
pub async fn handle(ctx: &Context, req: Request<Body>) -> Response<Body> {
    let rid = request_id();
    match process(ctx, req).await {
        Ok(value) => Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("x-amzn-RequestId", &rid)
            .body(Body::from(value.to_string()))
            .expect("valid response"),
        Err(e) => {
            tracing::debug!(error = %e, kind = e.type_name(), "control-plane request refused");
            e.into_response(&rid)
        }
    }
}

async fn process(ctx: &Context, req: Request<Body>) -> Result<Value, ApiError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let op = operation(&parts.method, path).ok_or_else(|| {
        ApiError::UnknownOperation(format!(
            "No operation matches {} {path}",
            parts.method.as_str()
        ))
    })?;
    ctx.harness.count(op);
    let body = crate::server::read_body(&parts.headers, body, MAX_BODY).await?;
    let query = parts.uri.query().unwrap_or("");
    let received = Received {
        method: parts.method.as_str(),
        path,
        query,
        headers: &parts.headers,
        body: &body,
    };
    let caller = sigv4::verify(
        &received,
        &ctx.config.credentials,
        &ctx.config.region,
        SystemTime::now(),
    )
    .map_err(|e| ApiError::AccessDenied(e.to_string()))?;
    if ctx.harness.is_denied(&caller.access_key_id, op) {
        return Err(ApiError::AccessDenied(format!(
            "User: arn:aws:iam::{}:user/{} is not authorized to perform: codeartifact:{op} with an explicit deny in an identity-based policy",
            caller.account_id, caller.access_key_id
        )));
    }
    inject_faults(ctx, op).await?;
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let call = Call::new(caller, query, &body, host);
    dispatch(ctx, op, &call)
}

async fn inject_faults(ctx: &Context, op: &str) -> Result<(), ApiError> {
    let (latency, outcome) = ctx.harness.roll(op);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match outcome {
        Injected::None => Ok(()),
        Injected::Throttle => Err(ApiError::Throttling {
            message: "Rate exceeded".into(),
            retry_after: RETRY_AFTER_SECONDS,
        }),
        Injected::InternalError => Err(ApiError::Internal(
            "An internal error occurred (injected by the emulator)".into(),
        )),
    }
}

fn dispatch(ctx: &Context, op: &str, call: &Call<'_>) -> Result<Value, ApiError> {
    match op {
        "CreateDomain" => domains::create(ctx, call),
        "DescribeDomain" => domains::describe(ctx, call),
        "DeleteDomain" => domains::delete(ctx, call),
        "ListDomains" => domains::list(ctx, call),
        "CreateRepository" => repositories::create(ctx, call),
        "DescribeRepository" => repositories::describe(ctx, call),
        "UpdateRepository" => repositories::update(ctx, call),
        "DeleteRepository" => repositories::delete(ctx, call),
        "ListRepositoriesInDomain" => repositories::list(ctx, call),
        "AssociateExternalConnection" => connections::associate(ctx, call),
        "DisassociateExternalConnection" => connections::disassociate(ctx, call),
        "GetRepositoryEndpoint" => connections::endpoint(ctx, call),
        "GetAuthorizationToken" => tokens::get(ctx, call),
        "TagResource" => tags::tag(ctx, call),
        "UntagResource" => tags::untag(ctx, call),
        "ListTagsForResource" => tags::list(ctx, call),
        "PutDomainPermissionsPolicy" => policies::put_domain(ctx, call),
        "GetDomainPermissionsPolicy" => policies::get_domain(ctx, call),
        "DeleteDomainPermissionsPolicy" => policies::delete_domain(ctx, call),
        "PutRepositoryPermissionsPolicy" => policies::put_repository(ctx, call),
        "GetRepositoryPermissionsPolicy" => policies::get_repository(ctx, call),
        "DeleteRepositoryPermissionsPolicy" => policies::delete_repository(ctx, call),
        "ListPackages" => packages::list(ctx, call),
        "ListPackageVersions" => packages::list_versions(ctx, call),
        "PutPackageOriginConfiguration" => packages::put_origin(ctx, call),
        "DeletePackageVersions" => versions::delete(ctx, call),
        "DisposePackageVersions" => versions::dispose(ctx, call),
        "CopyPackageVersions" => versions::copy(ctx, call),
        other => Err(ApiError::UnknownOperation(format!(
            "{other} is not emulated"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_by_method_and_exact_path() {
        assert_eq!(operation(&Method::POST, "/v1/domain"), Some("CreateDomain"));
        assert_eq!(
            operation(&Method::GET, "/v1/domain"),
            Some("DescribeDomain")
        );
        assert_eq!(
            operation(&Method::DELETE, "/v1/repository/permissions/policies"),
            Some("DeleteRepositoryPermissionsPolicy")
        );
        assert_eq!(
            operation(&Method::DELETE, "/v1/repository/permissions/policy"),
            None
        );
        assert_eq!(operation(&Method::PATCH, "/v1/domain"), None);
        assert_eq!(OPERATIONS.len(), 28);
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
