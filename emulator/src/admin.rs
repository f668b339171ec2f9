//! The admin HTTP API under `/_emulator/` (no SigV4): call counters, faults, deny rules,
//! clock control, IAM roles and the list of issued tokens. Shapes are documented in docs/emulator.md.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use http::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{MAX_BODY, OPERATIONS};
use crate::body::read_body;
use crate::context::Context;
use crate::harness::{ALL, Fault};
use crate::roles::Role;
use crate::versions_admin::PublishedTime;

/// Path prefix of the admin API.
pub const PREFIX: &str = "/_emulator/";

fn reply(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

fn bad(message: impl Into<String>) -> Response<Body> {
    reply(
        StatusCode::BAD_REQUEST,
        json!({ "message": message.into() }),
    )
}

fn known_operation(op: &str) -> bool {
    op == ALL || OPERATIONS.iter().any(|o| o.name == op)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultIn {
    operation: String,
    #[serde(flatten)]
    fault: Fault,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DenyIn {
    access_key_id: String,
    operation: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockIn {
    speed: Option<f64>,
    advance_seconds: Option<f64>,
}

/// Answer one admin request.
pub async fn handle(State(ctx): State<Arc<Context>>, req: Request<Body>) -> Response<Body> {
    let ctx = &*ctx;
    let (parts, body) = req.into_parts();
    let body = match read_body(&parts.headers, body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return reply(e.status(), json!({ "message": e.to_string() })),
    };
    let path = parts
        .uri
        .path()
        .trim_start_matches(PREFIX)
        .trim_end_matches('/');
    let m = &parts.method;
    match (m, path) {
        (&Method::GET, "health") => reply(
            StatusCode::OK,
            json!({ "status": "ok", "baseUrl": ctx.base_url, "region": ctx.config.region }),
        ),
        (&Method::GET, "calls") => reply(StatusCode::OK, json!(ctx.harness.calls())),
        (&Method::DELETE, "calls") => {
            ctx.harness.reset_calls();
            reply(StatusCode::OK, json!({}))
        }
        (&Method::GET, "faults") => reply(StatusCode::OK, json!(ctx.harness.faults())),
        (&Method::POST, "faults") => set_fault(ctx, &body),
        (&Method::DELETE, "faults") => {
            ctx.harness.clear_faults();
            reply(StatusCode::OK, json!({}))
        }
        (&Method::GET, "denies") => reply(StatusCode::OK, json!(ctx.harness.denies())),
        (&Method::POST, "denies") => add_deny(ctx, &body),
        (&Method::DELETE, "denies") => {
            ctx.harness.clear_denies();
            reply(StatusCode::OK, json!({}))
        }
        (&Method::GET, "clock") => reply(StatusCode::OK, clock(ctx)),
        (&Method::POST, "clock") => set_clock(ctx, &body),
        (&Method::GET, "tokens") => reply(StatusCode::OK, tokens(ctx)),
        (&Method::GET, "roles") => reply(StatusCode::OK, json!(ctx.roles.list())),
        (&Method::POST, "roles") => put_role(ctx, &body),
        (&Method::POST, "package-versions") => set_published(ctx, &body),
        (&Method::DELETE, "roles") => {
            ctx.roles.clear();
            saved(ctx, json!({}))
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({ "message": format!("No admin endpoint {} {}", m, parts.uri.path()) }),
        ),
    }
}

fn set_fault(ctx: &Context, body: &[u8]) -> Response<Body> {
    let f: FaultIn = match serde_json::from_slice(body) {
        Ok(f) => f,
        Err(e) => {
            return bad(format!(
                "expected {{\"operation\", \"throttle\", \"internalError\", \"maxLatencyMs\"}}: {e}"
            ));
        }
    };
    let in_range = |x: f64| (0.0..=1.0).contains(&x);
    if !known_operation(&f.operation) {
        return bad(format!("unknown operation {}", f.operation));
    }
    if !in_range(f.fault.throttle)
        || !in_range(f.fault.internal_error)
        || f.fault.throttle + f.fault.internal_error > 1.0
    {
        return bad(
            "throttle and internalError are fractions between 0 and 1 whose sum is at most 1",
        );
    }
    ctx.harness.set_fault(&f.operation, f.fault);
    reply(StatusCode::OK, json!(ctx.harness.faults()))
}

fn add_deny(ctx: &Context, body: &[u8]) -> Response<Body> {
    let d: DenyIn = match serde_json::from_slice(body) {
        Ok(d) => d,
        Err(e) => return bad(format!("expected {{\"accessKeyId\", \"operation\"}}: {e}")),
    };
    if !known_operation(&d.operation) {
        return bad(format!("unknown operation {}", d.operation));
    }
    ctx.harness.deny(&d.access_key_id, &d.operation);
    reply(StatusCode::OK, json!(ctx.harness.denies()))
}

fn put_role(ctx: &Context, body: &[u8]) -> Response<Body> {
    let role: Role = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return bad(format!(
                "expected {{\"arn\", \"trusted\", \"externalId\"?, \"policy\", \"maxSessionSeconds\"?}}: {e}"
            ));
        }
    };
    match ctx.roles.put(role) {
        Ok(()) => saved(ctx, json!(ctx.roles.list())),
        Err(e) => bad(e.to_string()),
    }
}

/// `body` once a change to the roles is in the `--state` file.
fn saved(ctx: &Context, body: Value) -> Response<Body> {
    match ctx.save_roles() {
        Ok(()) => reply(StatusCode::OK, body),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "message": e.to_string() }),
        ),
    }
}

fn set_published(ctx: &Context, body: &[u8]) -> Response<Body> {
    let p: PublishedTime = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => {
            return bad(format!(
                "expected {{\"domain\", \"repository\", \"package\", \"version\", \"publishedTime\"}}: {e}"
            ));
        }
    };
    match crate::versions_admin::set_published(ctx, &p) {
        Ok(()) => reply(StatusCode::OK, json!({})),
        Err(e) => reply(e.status(), json!({ "message": e.to_string() })),
    }
}

fn clock(ctx: &Context) -> Value {
    json!({
        "speed": ctx.clock.speed(),
        "now": ctx.clock.now(),
        "offsetSeconds": ctx.clock.offset(),
    })
}

fn set_clock(ctx: &Context, body: &[u8]) -> Response<Body> {
    let c: ClockIn = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return bad(format!("expected {{\"speed\"?, \"advanceSeconds\"?}}: {e}")),
    };
    if let Some(s) = c.speed {
        if !(s.is_finite() && s > 0.0) {
            return bad("speed must be a positive number");
        }
        ctx.clock.set_speed(s);
    }
    if let Some(a) = c.advance_seconds {
        if !(a.is_finite() && a >= 0.0) {
            return bad("advanceSeconds must be a non-negative number");
        }
        ctx.clock.advance(Duration::from_secs_f64(a));
    }
    reply(StatusCode::OK, clock(ctx))
}

fn tokens(ctx: &Context) -> Value {
    let now = ctx.clock.now();
    let list: Vec<Value> = ctx.read(|s| {
        s.tokens
            .iter()
            .map(|t| {
                json!({
                    "token": t.token,
                    "domain": t.domain,
                    "domainOwner": t.owner,
                    "accessKeyId": t.access_key_id,
                    "expiration": ctx.clock.real_time_of(t.expires),
                    "expired": t.expires <= now,
                })
            })
            .collect()
    });
    json!(list)
}
