//! Authorization tokens are per domain: one cache entry per identity, domain,
//! owner, region, lifetime and limit (the whole domain, or one repository
//! read-only or read-and-publish) serves every PypiRepository that shares them,
//! and concurrent reconciles wait for a single GetAuthorizationToken call.
//! Only tokens the operator minted itself enter the cache: a token read back
//! from a Secret (which its namespace can edit) is never shared. Freshness,
//! well-formedness and refresh scheduling are pure functions of `now`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::aws::{AwsError, IssuedToken, RepositoryAccess};

/// The identity of tokens minted with the operator's own AWS credentials.
pub const OPERATOR_IDENTITY: &str = "operator";

/// What a token is valid for. Tokens are scoped to the AWS identity that
/// minted them and to a domain (and its owner); the lifetime is part of the
/// key so a PypiRepository that asks for short tokens never receives a long one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The AWS identity that mints the token (the operator's own: "operator").
    pub identity: String,
    /// AWS region of the operator's client.
    pub region: String,
    /// Domain owner as written in the spec; `None` means the operator's account.
    pub owner: Option<String>,
    /// Domain name.
    pub domain: String,
    /// Requested lifetime in seconds (0 = the caller's session).
    pub duration_seconds: i64,
    /// The whole domain, or one repository (minted under a session policy).
    pub limit: TokenLimit,
}

/// What a token is limited to within its domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TokenLimit {
    /// Whatever the minting identity may do in the domain.
    Domain,
    /// One repository, read-only or read-and-publish.
    Repository {
        /// Repository name.
        name: String,
        /// What the token may do in it.
        access: RepositoryAccess,
    },
}

impl TokenKey {
    /// A stable string for the Secret annotation, so a restarted operator can
    /// tell which tokens it may reuse.
    pub fn scope(&self) -> String {
        let scope = format!(
            "{}/{}/{}/{}",
            self.region,
            self.owner.as_deref().unwrap_or("self"),
            self.domain,
            self.duration_seconds
        );
        let scope = match &self.limit {
            TokenLimit::Domain => scope,
            TokenLimit::Repository { name, access } => {
                format!("{scope}/repository/{name}:{}", access_name(*access))
            }
        };
        // The operator's own identity keeps the scope Secrets written before
        // identities existed carry, so an upgrade does not re-mint every token.
        if self.identity == OPERATOR_IDENTITY {
            scope
        } else {
            format!("{}:{scope}", self.identity)
        }
    }
}

/// The CRD's name for a repository token's access.
fn access_name(access: RepositoryAccess) -> &'static str {
    match access {
        RepositoryAccess::Read => "RepositoryRead",
        RepositoryAccess::Publish => "RepositoryPublish",
    }
}

/// How long before expiry a token is replaced: `refresh_before` when given,
/// otherwise a quarter of its lifetime; never more than half the lifetime,
/// so that a margin longer than a short (session-bound) token cannot cause a
/// mint on every reconcile.
pub fn refresh_margin(token: &IssuedToken, refresh_before: Option<Duration>) -> TimeDelta {
    let lifetime = (token.expires_at - token.issued_at).max(TimeDelta::zero());
    let wanted = refresh_before
        .and_then(|d| TimeDelta::from_std(d).ok())
        .unwrap_or(lifetime / 4);
    wanted.min(lifetime / 2)
}

/// The moment the Secret holding `token` must be rewritten.
pub fn refresh_at(token: &IssuedToken, refresh_before: Option<Duration>) -> DateTime<Utc> {
    token.expires_at - refresh_margin(token, refresh_before)
}

/// Whether `token` may still be handed out at `now`.
pub fn is_fresh(token: &IssuedToken, refresh_before: Option<Duration>, now: DateTime<Utc>) -> bool {
    now < refresh_at(token, refresh_before)
}

/// How long to wait before the next reconcile: until the refresh moment,
/// but at least a second and at most `resync`.
pub fn next_requeue(refresh_at: DateTime<Utc>, now: DateTime<Utc>, resync: Duration) -> Duration {
    let until = (refresh_at - now).to_std().unwrap_or(Duration::ZERO);
    until.clamp(Duration::from_secs(1), resync.max(Duration::from_secs(1)))
}

/// Whether a token is safe to hand out and render: only URL-safe characters
/// (so it cannot break out of pip.conf, .pypirc or a URL), issued in the past,
/// expiring after it was issued, and living at most 12 hours. A token edited
/// into a Secret by hand fails at least one of these or is only ever given
/// back to that same Secret.
///
/// Times allow [`CLOCK_SKEW`]: a minted token's issue time is the operator's
/// clock and its expiry CodeArtifact's, so a 12-hour token can seem to live a
/// second longer (which made the operator discard and re-mint it).
pub fn is_well_formed(token: &IssuedToken, now: DateTime<Utc>) -> bool {
    let value = token.token.expose();
    let lifetime = token.expires_at - token.issued_at;
    !value.is_empty()
        && value.len() <= 8192
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && token.issued_at <= now + CLOCK_SKEW
        && lifetime > TimeDelta::zero()
        && lifetime <= TimeDelta::seconds(crate::crd::MAX_TOKEN_SECONDS) + CLOCK_SKEW
}

/// How far the operator's clock and CodeArtifact's may disagree.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

type Slot = Arc<tokio::sync::Mutex<Option<IssuedToken>>>;

/// Shared tokens, one slot per [`TokenKey`].
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<TokenKey, Slot>>,
}

/// Where a token handed out by the cache came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// Already in the cache.
    Cached,
    /// Minted by this call.
    Minted,
}

impl TokenCache {
    fn slot(&self, key: &TokenKey) -> Slot {
        self.slots
            .lock()
            .expect("token cache lock")
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// A token that `fresh` accepts, minting one with `mint` when the cache has
    /// none. Callers for the same key wait for one another, so a burst of
    /// reconciles costs one GetAuthorizationToken call.
    pub async fn get_or_mint<F, Fut>(
        &self,
        key: &TokenKey,
        fresh: impl Fn(&IssuedToken) -> bool,
        mint: F,
    ) -> Result<(IssuedToken, TokenSource), AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<IssuedToken, AwsError>>,
    {
        let slot = self.slot(key);
        let mut held = slot.lock().await;
        if let Some(token) = held.as_ref().filter(|t| fresh(t)) {
            return Ok((token.clone(), TokenSource::Cached));
        }
        let token = mint().await?;
        *held = Some(token.clone());
        Ok((token, TokenSource::Minted))
    }

    /// Drops every cached token for a domain, for example after CodeArtifact
    /// refused one.
    pub fn forget(&self, key: &TokenKey) {
        self.slots.lock().expect("token cache lock").remove(key);
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
