//! GetAuthorizationToken.

use serde_json::{Value, json};

use super::output::timestamp;
use super::request::Call;
use crate::context::Context;
use crate::error::ApiError;
use crate::validate;

/// GetAuthorizationToken: a token for the domain, valid for `duration` emulated seconds.
/// `expiration` is reported in real wall-clock time (see [`crate::clock`]).
pub fn get(ctx: &Context, call: &Call) -> Result<Value, ApiError> {
    let (domain, owner) = (call.domain()?, call.owner()?);
    let seconds = validate::token_duration(call.opt("duration"))?;
    let key = &call.caller.access_key_id;
    // A token carries the permissions of the session that minted it (docs/emulator.md).
    let grant = call.caller.session.as_ref().map(|s| s.grant.clone());
    let (token, expiration) = ctx.mutate(|s| {
        s.domain(&owner, domain)?;
        Ok(ctx.issue_token(s, domain, &owner, key, grant, seconds))
    })?;
    Ok(json!({ "authorizationToken": token, "expiration": timestamp(expiration) }))
}
