//! The HTTP server: one axum router for the control plane (from the operation table), STS,
//! the PyPI endpoint and the admin API.

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, post};

use crate::context::Context;
use crate::{admin, api, pypi, sts};

/// The router serving everything on one port.
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .merge(api::routes(ctx.clone()))
        // STS's awsQuery protocol: every action is a form-encoded POST to `/`.
        .route("/", post(sts::handle))
        .route("/_emulator", any(admin::handle))
        .route("/_emulator/{*rest}", any(admin::handle))
        .route("/pypi/d/{*rest}", any(pypi::handle))
        .fallback(api::unknown)
        .method_not_allowed_fallback(api::unknown)
        .with_state(ctx)
}
