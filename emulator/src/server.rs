//! The HTTP server: one listener dispatching to the admin API, the PyPI endpoint or the
//! control plane, plus body reading with size limits.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, header};

use crate::context::Context;
use crate::error::ApiError;
use crate::{admin, api, pypi};

/// The router serving everything on one port.
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new().fallback(route).with_state(ctx)
}

async fn route(State(ctx): State<Arc<Context>>, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path();
    if path == admin::PREFIX.trim_end_matches('/') || path.starts_with(admin::PREFIX) {
        admin::handle(&ctx, req).await
    } else if path.starts_with(pypi::PREFIX) {
        pypi::handle(&ctx, req).await
    } else {
        api::handle(&ctx, req).await
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("Request body exceeds the limit of {limit} bytes"))
}

/// Read a whole body of at most `limit` bytes. A request with neither `Content-Length` nor
/// `Transfer-Encoding` has an empty body (the SDK sends such POSTs).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` reports both an exceeded limit and a broken connection as errors.
        tracing::debug!(error = %e, "reading request body failed");
        too_large(limit)
    })
}
