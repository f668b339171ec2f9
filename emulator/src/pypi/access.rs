//! What a token may do on the repository endpoint: the permissions captured when it was minted
//! (role policy and session policy), checked per request as CodeArtifact documents them.

use axum::body::Body;
use http::{Response, StatusCode, header};

use crate::api::repository_arn;
use crate::context::Context;
use crate::policy;
use crate::roles::Grant;

/// The action checked for index pages and downloads (on the repository ARN).
pub const READ: &str = "codeartifact:ReadFromRepository";
/// The action checked for uploads (on the package ARN).
pub const PUBLISH: &str = "codeartifact:PublishPackageVersion";

/// The repository ARN of an endpoint.
pub fn repository(ctx: &Context, owner: &str, domain: &str, repo: &str) -> String {
    repository_arn(&ctx.config.region, owner, domain, repo)
}

/// Check a token's captured permissions (tokens minted with long-term keys carry none and may
/// do everything); `Err` is AWS's deny message.
pub fn permit(grant: Option<&Grant>, action: &str, resource: &str) -> Result<(), String> {
    let Some(grant) = grant else {
        return Ok(());
    };
    grant.authorize(&policy::Request {
        action,
        resource,
        context: &[],
    })
}

/// A request the token's permissions refuse: `403` with AWS's deny message, never the token
/// (docs/emulator.md says why 403).
pub fn forbidden(message: String) -> Response<Body> {
    tracing::debug!(%message, "PyPI request refused by IAM");
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(message))
        .expect("valid response")
}
