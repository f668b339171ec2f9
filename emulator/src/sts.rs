//! STS on the awsQuery protocol, as boto3 and aws-sdk-sts speak it: a form-encoded `POST /`
//! signed for service `sts`, answered in XML. `AssumeRole` (and `GetCallerIdentity`, handy
//! for checking who a credential is) are served; see docs/emulator.md.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use http::{Request, Response, StatusCode};

use crate::api::request_id;
use crate::auth::{self, AuthFailure};
use crate::body::{parse_form, read_body};
use crate::context::Context;
use crate::error::ApiError;
use crate::roles::{AssumeError, AssumeRequest, Caller, Session};
use crate::sigv4::Received;
use crate::validate::{self, Shape};

/// The signing name of STS.
pub const SERVICE: &str = "sts";
/// Largest accepted STS body.
const MAX_BODY: usize = 64 * 1024;
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// `arnType` of the STS model.
const ROLE_ARN: Shape = Shape::new(
    20,
    2048,
    r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]+",
);
/// `roleSessionNameType`.
const SESSION_NAME: Shape = Shape::new(2, 64, r"[\w+=,.@-]*");
/// `externalIdType`.
const EXTERNAL_ID: Shape = Shape::new(2, 1224, r"[\w+=,.@:/-]*");
/// `sessionPolicyDocumentType` (AWS documents 2,048 characters as the plain-text limit).
const SESSION_POLICY: Shape = Shape::new(1, 2048, r"[\u0009\u000A\u000D\u0020-\u00FF]+");

/// An STS error: wire code, status, message.
#[derive(Debug)]
struct StsError {
    code: &'static str,
    status: StatusCode,
    message: String,
}

impl StsError {
    fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        StsError {
            code,
            status,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        StsError::new("ValidationError", StatusCode::BAD_REQUEST, message)
    }
}

impl From<ApiError> for StsError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::PayloadTooLarge(m) => {
                StsError::new("RequestEntityTooLarge", StatusCode::PAYLOAD_TOO_LARGE, m)
            }
            // STS's code for a failure on its side (the state file not saved).
            ApiError::Internal(m) => {
                StsError::new("InternalFailure", StatusCode::INTERNAL_SERVER_ERROR, m)
            }
            other => StsError::validation(other.to_string()),
        }
    }
}

impl From<AuthFailure> for StsError {
    fn from(e: AuthFailure) -> Self {
        match e {
            AuthFailure::Expired => {
                StsError::new("ExpiredToken", StatusCode::FORBIDDEN, e.to_string())
            }
            AuthFailure::Denied(m) => StsError::new("AccessDenied", StatusCode::FORBIDDEN, m),
        }
    }
}

impl From<AssumeError> for StsError {
    fn from(e: AssumeError) -> Self {
        let (code, status) = match &e {
            AssumeError::AccessDenied(_) => ("AccessDenied", StatusCode::FORBIDDEN),
            AssumeError::MalformedPolicy(_) => ("MalformedPolicyDocument", StatusCode::BAD_REQUEST),
            AssumeError::Validation(_) => ("ValidationError", StatusCode::BAD_REQUEST),
        };
        StsError::new(code, status, e.to_string())
    }
}

/// Escape text for an XML element.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn respond(status: StatusCode, rid: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        // The Rust SDK reads the request id from this header, botocore from the body.
        .header("x-amzn-RequestId", rid)
        .body(Body::from(body))
        .expect("valid response")
}

fn error_response(e: StsError, rid: &str) -> Response<Body> {
    tracing::debug!(code = e.code, message = %e.message, "STS request refused");
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>",
        e.code,
        xml(&e.message)
    );
    respond(e.status, rid, body)
}

/// Answer one STS request.
pub async fn handle(State(ctx): State<Arc<Context>>, req: Request<Body>) -> Response<Body> {
    let rid = request_id();
    match process(&ctx, req).await {
        Ok(result) => respond(StatusCode::OK, &rid, wrap(&result, &rid)),
        Err(e) => error_response(e, &rid),
    }
}

/// An action's name and its `…Result` element content.
struct Answer {
    action: &'static str,
    result: String,
}

fn wrap(a: &Answer, rid: &str) -> String {
    format!(
        "<{0}Response xmlns=\"{XMLNS}\"><{0}Result>{1}</{0}Result><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{0}Response>",
        a.action, a.result
    )
}

async fn process(ctx: &Context, req: Request<Body>) -> Result<Answer, StsError> {
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body, MAX_BODY).await?;
    let form = parse_form(&body);
    let action = match form.get("Action").map(String::as_str) {
        Some("AssumeRole") => "AssumeRole",
        Some("GetCallerIdentity") => "GetCallerIdentity",
        other => {
            return Err(StsError::new(
                "InvalidAction",
                StatusCode::BAD_REQUEST,
                format!(
                    "Could not find operation {} for version 2011-06-15",
                    other.unwrap_or("")
                ),
            ));
        }
    };
    ctx.harness.count(action);
    let received = Received {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
    };
    let caller = auth::authenticate(ctx, &received, SERVICE)?;
    let result = match action {
        "AssumeRole" => assume_role(ctx, &caller, &form)?,
        _ => caller_identity(&caller),
    };
    Ok(Answer { action, result })
}

fn caller_identity(caller: &Caller) -> String {
    format!(
        "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
        xml(&caller.arn),
        xml(&caller.access_key_id),
        caller.account_id
    )
}

/// Validate the members of an AssumeRole form.
fn assume_request(form: &HashMap<String, String>) -> Result<AssumeRequest, StsError> {
    let required = |name: &str, field: &str| {
        form.get(name)
            .cloned()
            .ok_or_else(|| StsError::from(validate::missing(field)))
    };
    let role_arn = required("RoleArn", "roleArn")?;
    ROLE_ARN.check("roleArn", &role_arn)?;
    let session_name = required("RoleSessionName", "roleSessionName")?;
    SESSION_NAME.check("roleSessionName", &session_name)?;
    let duration = form
        .get("DurationSeconds")
        .map(|d| validate::int_range("durationSeconds", d, 900, 43_200).map(|n| n as u64))
        .transpose()?;
    let external_id = form.get("ExternalId").cloned();
    if let Some(e) = &external_id {
        EXTERNAL_ID.check("externalId", e)?;
    }
    let policy = form.get("Policy").cloned();
    if let Some(p) = &policy {
        SESSION_POLICY.check("policy", p)?;
    }
    Ok(AssumeRequest {
        role_arn,
        session_name,
        duration,
        external_id,
        policy,
    })
}

fn assume_role(
    ctx: &Context,
    caller: &Caller,
    form: &HashMap<String, String>,
) -> Result<String, StsError> {
    let request = assume_request(form)?;
    let session = ctx.roles.assume(caller, request, ctx.clock.now())?;
    ctx.save_roles()?;
    Ok(credentials_xml(ctx, &session))
}

fn credentials_xml(ctx: &Context, s: &Session) -> String {
    // Reported in real time, like token expirations (see crate::clock); rounded down so a
    // client never believes a credential lives longer than it does.
    let real = ctx.clock.real_time_of(s.expires).floor() as i64;
    let expiration = chrono::DateTime::from_timestamp(real, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ");
    let session_name = s.grant.principal.rsplit('/').next().unwrap_or_default();
    format!(
        "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>{}:{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
        s.access_key_id,
        s.secret_access_key,
        s.session_token,
        crate::roles::role_id(&s.role_arn),
        xml(session_name),
        xml(&s.grant.principal),
    )
}
