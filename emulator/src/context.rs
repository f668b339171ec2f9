//! The shared server context: configuration, clock, test harness and the state behind its mutex.

use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::harness::Harness;
use crate::roles::{Grant, Roles};
use crate::state::{State, Token, persist};

/// Every authorization token starts with this, so tests can scan logs for leaked tokens.
pub const TOKEN_PREFIX: &str = "caemu-";
/// Random bytes per token (96 bytes give 128 URL-safe characters, in the range of real tokens).
const TOKEN_RANDOM_BYTES: usize = 96;

/// Shared by all request handlers and the library API.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    /// `http://host:port` of this emulator.
    pub base_url: String,
    pub clock: Clock,
    pub harness: Harness,
    /// IAM roles and live STS sessions.
    pub roles: Roles,
    state: Mutex<State>,
}

impl Context {
    /// A context over an initial state.
    pub fn new(config: Config, base_url: String, state: State) -> Self {
        Context {
            clock: Clock::new(config.clock_speed),
            config,
            base_url,
            harness: Harness::default(),
            roles: Roles::default(),
            state: Mutex::new(state),
        }
    }

    /// The base of repository endpoint URLs: the bound address, except when bound to an
    /// unspecified address (`0.0.0.0`, `::`), where the client's `Host` header is the only
    /// address known to reach the emulator (e.g. a container name).
    pub fn endpoint_base(&self, host: Option<&str>) -> String {
        match host {
            Some(h) if self.config.listen.ip().is_unspecified() => format!("http://{h}"),
            _ => self.base_url.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked mid-mutation leaves data that is still structurally valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run a read-only closure over the state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Run a mutation; on success the state is saved to the state file (if any).
    pub fn mutate<R>(
        &self,
        f: impl FnOnce(&mut State) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut guard = self.lock();
        // Work on a copy so a failed operation leaves no partial change behind.
        let mut draft = guard.clone();
        let out = f(&mut draft)?;
        self.save(&draft)?;
        *guard = draft;
        Ok(out)
    }

    /// Save `state` with the roles and sessions to the state file, if any.
    fn save(&self, state: &State) -> Result<(), ApiError> {
        let Some(path) = &self.config.state_file else {
            return Ok(());
        };
        persist::save(path, state, &self.roles).map_err(|e| {
            tracing::error!(error = %e, "saving state failed");
            ApiError::Internal("the emulator could not save its state".into())
        })
    }

    /// Save after a change to the roles or sessions (they live outside the
    /// state's lock, which is taken here, always before the roles' locks).
    pub fn save_roles(&self) -> Result<(), ApiError> {
        let guard = self.lock();
        self.save(&guard)
    }

    /// Issue a token for `domain`/`owner` valid for `seconds` of emulated time; returns the
    /// token and its expiry in real wall-clock epoch seconds.
    pub fn issue_token(
        &self,
        state: &mut State,
        domain: &str,
        owner: &str,
        access_key_id: &str,
        grant: Option<Grant>,
        seconds: u64,
    ) -> (String, f64) {
        let mut random = [0u8; TOKEN_RANDOM_BYTES];
        rand::rng().fill_bytes(&mut random);
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let expires = self.clock.now() + seconds as f64;
        state.tokens.push(Arc::new(Token {
            token: token.clone(),
            domain: domain.to_string(),
            owner: owner.to_string(),
            access_key_id: access_key_id.to_string(),
            expires,
            grant,
        }));
        (token, self.clock.real_time_of(expires))
    }

    /// If `token` is unexpired and was issued for `domain`/`owner`: the permissions it carries.
    pub fn token_grant(&self, token: &str, domain: &str, owner: &str) -> Option<ValidToken> {
        let now = self.clock.now();
        self.read(|s| {
            s.tokens
                .iter()
                .find(|t| {
                    t.token == token && t.domain == domain && t.owner == owner && t.expires > now
                })
                .map(|t| ValidToken {
                    grant: t.grant.clone(),
                })
        })
    }
}

/// A token the PyPI endpoint accepts.
pub struct ValidToken {
    /// The minting session's permissions; `None`: minted by a long-term key, everything allowed.
    pub grant: Option<Grant>,
}
