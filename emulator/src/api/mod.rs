//! The restJson1 control plane, routed from one operation table through axum's router, with one
//! middleware layer ([`gate`]) that counts, authenticates, applies deny rules, authorizes role
//! sessions and injects faults before the operation runs.
//!
//! What is counted: every request whose method and path name one of the emulated operations,
//! before anything else happens, so requests later refused (oversized body, bad signature,
//! deny rule, injected fault, validation error) are counted too. Unknown paths are not counted.

mod authz;
mod connections;
mod domains;
mod group_output;
mod output;
mod package_groups;
mod packages;
mod policies;
mod repositories;
pub mod request;
mod tags;
mod tokens;
mod version_details;
mod versions;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, MatchedPath, State};
use axum::middleware::{self, Next};
use axum::routing::{MethodFilter, MethodRouter};
use http::{Method, Request, Response, StatusCode};
use serde_json::Value;

pub use authz::Scope;
pub use connections::PUBLIC_PYPI;
pub use output::{domain_arn, package_arn, repository_arn};

use crate::auth;
use crate::body::read_body;
use crate::context::Context;
use crate::error::ApiError;
use crate::harness::Injected;
use crate::sigv4::{Received, SERVICE};
use request::Call;

/// Largest accepted control-plane body (10 MiB, far above any valid request).
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// `Retry-After` sent with injected throttling, in seconds.
const RETRY_AFTER_SECONDS: u32 = 1;

/// An operation's implementation.
type Handler = fn(&Context, &Call) -> Result<Value, ApiError>;

/// One emulated operation: how it is reached, what IAM checks it on, and what runs it.
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub name: &'static str,
    pub scope: Scope,
    handler: Handler,
}

const fn op(
    method: Method,
    path: &'static str,
    name: &'static str,
    scope: Scope,
    handler: Handler,
) -> Operation {
    Operation {
        method,
        path,
        name,
        scope,
        handler,
    }
}

const REPO: Scope = Scope::Repository("repository");
const GROUP: Scope = Scope::PackageGroup;

/// Every emulated operation: the one table routing, counting, admin checks and IAM use.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    op(Method::POST, "/v1/domain", "CreateDomain", Scope::Domain, domains::create),
    op(Method::GET, "/v1/domain", "DescribeDomain", Scope::Domain, domains::describe),
    op(Method::DELETE, "/v1/domain", "DeleteDomain", Scope::Domain, domains::delete),
    op(Method::POST, "/v1/domains", "ListDomains", Scope::Any, domains::list),
    op(Method::POST, "/v1/repository", "CreateRepository", REPO, repositories::create),
    op(Method::GET, "/v1/repository", "DescribeRepository", REPO, repositories::describe),
    op(Method::PUT, "/v1/repository", "UpdateRepository", REPO, repositories::update),
    op(Method::DELETE, "/v1/repository", "DeleteRepository", REPO, repositories::delete),
    op(Method::POST, "/v1/domain/repositories", "ListRepositoriesInDomain", Scope::Domain, repositories::list),
    op(Method::POST, "/v1/repository/external-connection", "AssociateExternalConnection", REPO, connections::associate),
    op(Method::DELETE, "/v1/repository/external-connection", "DisassociateExternalConnection", REPO, connections::disassociate),
    op(Method::POST, "/v1/authorization-token", "GetAuthorizationToken", Scope::Domain, tokens::get),
    op(Method::GET, "/v1/repository/endpoint", "GetRepositoryEndpoint", REPO, connections::endpoint),
    op(Method::POST, "/v1/tag", "TagResource", Scope::Arn, tags::tag),
    op(Method::POST, "/v1/untag", "UntagResource", Scope::Arn, tags::untag),
    op(Method::POST, "/v1/tags", "ListTagsForResource", Scope::Arn, tags::list),
    op(Method::PUT, "/v1/domain/permissions/policy", "PutDomainPermissionsPolicy", Scope::Domain, policies::put_domain),
    op(Method::GET, "/v1/domain/permissions/policy", "GetDomainPermissionsPolicy", Scope::Domain, policies::get_domain),
    op(Method::DELETE, "/v1/domain/permissions/policy", "DeleteDomainPermissionsPolicy", Scope::Domain, policies::delete_domain),
    op(Method::PUT, "/v1/repository/permissions/policy", "PutRepositoryPermissionsPolicy", REPO, policies::put_repository),
    op(Method::GET, "/v1/repository/permissions/policy", "GetRepositoryPermissionsPolicy", REPO, policies::get_repository),
    op(Method::DELETE, "/v1/repository/permissions/policies", "DeleteRepositoryPermissionsPolicy", REPO, policies::delete_repository),
    op(Method::POST, "/v1/packages", "ListPackages", REPO, packages::list),
    op(Method::POST, "/v1/package/versions", "ListPackageVersions", Scope::Package, packages::list_versions),
    op(Method::POST, "/v1/package/versions/delete", "DeletePackageVersions", Scope::Package, versions::delete),
    op(Method::POST, "/v1/package/versions/dispose", "DisposePackageVersions", Scope::Package, versions::dispose),
    op(Method::POST, "/v1/package/versions/copy", "CopyPackageVersions", Scope::Repository("destination-repository"), versions::copy),
    op(Method::POST, "/v1/package", "PutPackageOriginConfiguration", Scope::Package, packages::put_origin),
    op(Method::GET, "/v1/package/version", "DescribePackageVersion", Scope::Package, version_details::describe),
    op(Method::POST, "/v1/package/version/assets", "ListPackageVersionAssets", Scope::Package, version_details::list_assets),
    op(Method::POST, "/v1/package-group", "CreatePackageGroup", GROUP, package_groups::create),
    op(Method::GET, "/v1/package-group", "DescribePackageGroup", GROUP, package_groups::describe),
    op(Method::PUT, "/v1/package-group", "UpdatePackageGroup", GROUP, package_groups::update),
    op(Method::DELETE, "/v1/package-group", "DeletePackageGroup", GROUP, package_groups::delete),
    op(Method::POST, "/v1/package-groups", "ListPackageGroups", Scope::Domain, package_groups::list),
    op(Method::POST, "/v1/package-groups/sub-groups", "ListSubPackageGroups", GROUP, package_groups::list_sub),
    op(Method::PUT, "/v1/package-group-origin-configuration", "UpdatePackageGroupOriginConfiguration", GROUP, package_groups::update_origin),
    op(Method::GET, "/v1/get-associated-package-group", "GetAssociatedPackageGroup", Scope::Domain, package_groups::get_associated),
    op(Method::GET, "/v1/package-group-allowed-repositories", "ListAllowedRepositoriesForGroup", GROUP, package_groups::list_allowed),
];

fn find(method: &Method, path: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|o| o.method == *method && o.path == path)
}

/// The operation named by `method` and `path` (the router does this lookup in production).
#[cfg(test)]
pub fn operation(method: &Method, path: &str) -> Option<&'static str> {
    find(method, path).map(|o| o.name)
}

/// A fresh request id (UUID v4).
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The control-plane routes, one per path with one method handler per operation, behind
/// [`gate`]. Unknown paths and methods are answered by [`unknown`] (set by the caller).
pub fn routes(ctx: Arc<Context>) -> Router<Arc<Context>> {
    let mut by_path: BTreeMap<&str, MethodRouter<Arc<Context>>> = BTreeMap::new();
    for o in OPERATIONS {
        let filter = MethodFilter::try_from(o.method.clone()).expect("standard method");
        let run = move |State(ctx): State<Arc<Context>>, Extension(call): Extension<Arc<Call>>| async move {
            answer((o.handler)(&ctx, &call))
        };
        let methods = by_path.remove(o.path).unwrap_or_default();
        by_path.insert(o.path, methods.on(filter, run));
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
        .route_layer(middleware::from_fn_with_state(ctx, gate))
}

fn answer(result: Result<Value, ApiError>) -> Response<Body> {
    let rid = request_id();
    match result {
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

/// Any method and path that is no operation: 404 UnknownOperationException, not counted.
pub async fn unknown(req: Request<Body>) -> Response<Body> {
    answer(Err(ApiError::UnknownOperation(format!(
        "No operation matches {} {}",
        req.method().as_str(),
        req.uri().path()
    ))))
}

/// The middleware in front of every operation.
async fn gate(State(ctx): State<Arc<Context>>, req: Request<Body>, next: Next) -> Response<Body> {
    match admit(&ctx, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => answer(Err(e)),
    }
}

/// Count, read the body, authenticate, apply deny rules, authorize role sessions and inject
/// faults; on success the request carries its [`Call`] as an extension.
async fn admit(ctx: &Context, req: Request<Body>) -> Result<Request<Body>, ApiError> {
    let (mut parts, body) = req.into_parts();
    let path = parts
        .extensions
        .get::<MatchedPath>()
        .map_or(parts.uri.path(), MatchedPath::as_str);
    let op = find(&parts.method, path).expect("routed paths come from the table");
    ctx.harness.count(op.name);
    let body = read_body(&parts.headers, body, MAX_BODY).await?;
    let query = parts.uri.query().unwrap_or("");
    let received = Received {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        headers: &parts.headers,
        body: &body,
    };
    let caller = auth::authenticate(ctx, &received, SERVICE)?;
    if ctx.harness.is_denied(&caller.access_key_id, op.name) {
        return Err(ApiError::AccessDenied(format!(
            "User: {} is not authorized to perform: codeartifact:{} with an explicit deny in an identity-based policy",
            caller.arn, op.name
        )));
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let call = Call::new(caller, query, body, host);
    authz::authorize(&ctx.config.region, op.name, op.scope, &call)?;
    inject_faults(ctx, op.name).await?;
    parts.extensions.insert(Arc::new(call));
    Ok(Request::from_parts(parts, Body::empty()))
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
        assert_eq!(OPERATIONS.len(), 39);
        assert_eq!(
            operation(&Method::GET, "/v1/package/version"),
            Some("DescribePackageVersion")
        );
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
