//! Who signed a request: a configured long-term key or an STS role session, checked with SigV4
//! for the service it was sent to. Shared by the control plane and STS.

use std::time::SystemTime;

use crate::context::Context;
use crate::error::ApiError;
use crate::roles::Caller;
use crate::sigv4::{self, Received};

/// The header carrying a session token.
const SECURITY_TOKEN: &str = "x-amz-security-token";

/// Why authentication failed: every case is 403 on the wire.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// Signature, key or token problems.
    #[error("{0}")]
    Denied(String),
    /// Role-session credentials past their expiry.
    #[error("The security token included in the request is expired")]
    Expired,
}

impl From<AuthFailure> for ApiError {
    fn from(e: AuthFailure) -> Self {
        match e {
            AuthFailure::Denied(m) => ApiError::AccessDenied(m),
            AuthFailure::Expired => ApiError::ExpiredToken(e.to_string()),
        }
    }
}

/// Authenticate `req`, signed for `service` in the configured region.
pub fn authenticate(
    ctx: &Context,
    req: &Received<'_>,
    service: &str,
) -> Result<Caller, AuthFailure> {
    let denied = |e: sigv4::AuthError| AuthFailure::Denied(e.to_string());
    let key = sigv4::access_key_of(req.headers).unwrap_or_default();
    if let Some(session) = ctx.roles.session(key) {
        let token = req
            .headers
            .get(SECURITY_TOKEN)
            .and_then(|v| v.to_str().ok());
        if token != Some(session.session_token.as_str()) {
            return Err(AuthFailure::Denied(
                "The security token included in the request is invalid".into(),
            ));
        }
        if session.expires <= ctx.clock.now() {
            return Err(AuthFailure::Expired);
        }
        let secret = session.secret_access_key.clone();
        sigv4::verify_with(req, &ctx.config.region, service, SystemTime::now(), |_| {
            Some(((), secret))
        })
        .map_err(denied)?;
        return Ok(Caller::of_session(session));
    }
    let credential = sigv4::verify_with(req, &ctx.config.region, service, SystemTime::now(), |k| {
        ctx.config
            .credentials
            .iter()
            .find(|c| c.access_key_id == k)
            .map(|c| (c, c.secret_access_key.clone()))
    })
    .map_err(denied)?;
    Ok(Caller::user(
        &credential.access_key_id,
        &credential.account_id,
    ))
}
