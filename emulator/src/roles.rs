//! IAM roles and STS role sessions: who may assume which role, the temporary credentials a
//! session holds, and the identity ([`Caller`]) a signed request acts as.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::policy::{self, Policy, PolicyError};

/// AWS's default (and the emulator's) `MaxSessionDuration` of a role, in seconds.
pub const DEFAULT_MAX_SESSION_SECONDS: u64 = 3600;
/// Sessions assumed with role-session credentials (role chaining) last at most one hour.
const CHAINED_MAX_SECONDS: u64 = 3600;
/// AssumeRole's default `DurationSeconds`.
pub const DEFAULT_SESSION_SECONDS: u64 = 3600;
/// Prefix of every session token, so tests can scan logs for leaked ones.
pub const SESSION_TOKEN_PREFIX: &str = "caemusts-";

/// A role as configured (start-up JSON file, admin API, library API).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Role {
    /// `arn:aws:iam::ACCOUNT:role/NAME` (a path before the name is allowed).
    pub arn: String,
    /// Who may assume it: 12-digit account ids, access key ids, or principal ARNs.
    pub trusted: Vec<String>,
    /// When set, AssumeRole must pass exactly this `ExternalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The role's permission policy: a JSON object or a string holding one.
    pub policy: Value,
    /// Longest session in seconds (900..=43200, default 3600).
    #[serde(default = "default_max_session")]
    pub max_session_seconds: u64,
}

fn default_max_session() -> u64 {
    DEFAULT_MAX_SESSION_SECONDS
}

/// Why a role definition was refused.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("role ARN {0:?} is not arn:aws:iam::<12-digit account>:role/<name>")]
    Arn(String),
    #[error("role {0}: trusted must name at least one account, access key or ARN")]
    NoTrust(String),
    #[error("role {0}: maxSessionSeconds must be 900..=43200")]
    MaxSession(String),
    #[error("role {arn}: policy: {source}")]
    Policy { arn: String, source: PolicyError },
}

impl Role {
    /// The policy as document text.
    pub fn policy_document(&self) -> String {
        match &self.policy {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The role's account (5th ARN field).
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }

    /// The role name (last path segment).
    pub fn name(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or_default()
    }

    fn check(&self) -> Result<Policy, RoleError> {
        let parts: Vec<&str> = self.arn.splitn(6, ':').collect();
        let ok = matches!(parts[..], ["arn", "aws", "iam", "", acct, res]
            if acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())
               && res.starts_with("role/") && !res.ends_with('/'));
        if !ok {
            return Err(RoleError::Arn(self.arn.clone()));
        }
        if self.trusted.is_empty() {
            return Err(RoleError::NoTrust(self.arn.clone()));
        }
        if !(900..=43_200).contains(&self.max_session_seconds) {
            return Err(RoleError::MaxSession(self.arn.clone()));
        }
        policy::parse(&self.policy_document()).map_err(|source| RoleError::Policy {
            arn: self.arn.clone(),
            source,
        })
    }
}

/// The policies a session acts under, as document text (captured into tokens it mints).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// The session's ARN (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
    pub principal: String,
    pub role_policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
}

impl Grant {
    /// Authorize `req` under the captured policies; `Err` carries AWS's deny message.
    pub fn authorize(&self, req: &policy::Request<'_>) -> Result<(), String> {
        let parsed = policy::parse(&self.role_policy).and_then(|role| {
            let session = self
                .session_policy
                .as_deref()
                .map(policy::parse)
                .transpose()?;
            Ok((role, session))
        });
        let refusal = match parsed {
            Ok((role, session)) => match policy::evaluate(&role, session.as_ref(), req) {
                Ok(()) => return Ok(()),
                Err(r) => r,
            },
            // Only validated documents are ever captured; refuse rather than allow.
            Err(_) => policy::Refusal::NoIdentityAllow,
        };
        let why = match refusal {
            policy::Refusal::ExplicitDeny => {
                "with an explicit deny in an identity-based policy".to_string()
            }
            policy::Refusal::NoIdentityAllow => format!(
                "because no identity-based policy allows the {} action",
                req.action
            ),
            policy::Refusal::NoSessionAllow => {
                format!("because no session policy allows the {} action", req.action)
            }
        };
        Err(format!(
            "User: {} is not authorized to perform: {} on resource: {} {why}",
            self.principal, req.action, req.resource
        ))
    }
}

/// A live role session and its temporary credentials (kept in the `--state`
/// file, like the tokens: AWS credentials outlive a restart of the service).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub role_arn: String,
    /// Account the session acts in (the role's).
    pub account_id: String,
    pub grant: Grant,
    /// Expiry in emulated epoch seconds.
    pub expires: f64,
}

/// Who signed a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub access_key_id: String,
    /// The account the request acts in.
    pub account_id: String,
    /// The principal ARN used in AWS's messages.
    pub arn: String,
    /// Set for role-session credentials: their permissions are evaluated.
    pub session: Option<Arc<Session>>,
}

impl Caller {
    /// A configured long-term key: an IAM user of its account.
    pub fn user(access_key_id: &str, account_id: &str) -> Self {
        Caller {
            access_key_id: access_key_id.to_string(),
            account_id: account_id.to_string(),
            arn: format!("arn:aws:iam::{account_id}:user/{access_key_id}"),
            session: None,
        }
    }

    /// A role session.
    pub fn of_session(session: Arc<Session>) -> Self {
        Caller {
            access_key_id: session.access_key_id.clone(),
            account_id: session.account_id.clone(),
            arn: session.grant.principal.clone(),
            session: Some(session),
        }
    }
}

/// An AssumeRole request after wire validation.
#[derive(Debug)]
pub struct AssumeRequest {
    pub role_arn: String,
    pub session_name: String,
    pub duration: Option<u64>,
    pub external_id: Option<String>,
    pub policy: Option<String>,
}

/// Why AssumeRole was refused (STS error codes).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssumeError {
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("{0}")]
    Validation(String),
}

/// The configured roles and the live sessions.
#[derive(Debug, Default)]
pub struct Roles {
    roles: Mutex<BTreeMap<String, Role>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

fn random_upper(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn random_text(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The `AROA…` id AWS gives a role, stable per ARN.
pub fn role_id(arn: &str) -> String {
    let digest = hex::encode_upper(Sha256::digest(arn.as_bytes()));
    format!("AROA{}", &digest[..17])
}

impl Roles {
    /// Add or replace a role after checking it.
    pub fn put(&self, role: Role) -> Result<(), RoleError> {
        role.check()?;
        self.roles
            .lock()
            .expect("roles lock")
            .insert(role.arn.clone(), role);
        Ok(())
    }

    /// All roles, by ARN.
    pub fn list(&self) -> Vec<Role> {
        self.roles
            .lock()
            .expect("roles lock")
            .values()
            .cloned()
            .collect()
    }

    /// Remove every role (live sessions keep working until they expire, as in AWS).
    pub fn clear(&self) {
        self.roles.lock().expect("roles lock").clear();
    }

    /// Every session handed out, expired or not (for the `--state` file).
    pub fn sessions(&self) -> Vec<Session> {
        let sessions = self.sessions.lock().expect("sessions lock");
        sessions.values().map(|s| Session::clone(s)).collect()
    }

    /// Put back the roles and sessions of a `--state` file.
    pub fn restore(&self, roles: Vec<Role>, sessions: Vec<Session>) {
        let mut map = self.roles.lock().expect("roles lock");
        map.extend(roles.into_iter().map(|r| (r.arn.clone(), r)));
        let mut live = self.sessions.lock().expect("sessions lock");
        live.extend(
            sessions
                .into_iter()
                .map(|s| (s.access_key_id.clone(), Arc::new(s))),
        );
    }

    /// The secret access keys and session tokens of every session handed
    /// out, expired or not (for leak scans).
    pub fn session_secrets(&self) -> Vec<String> {
        let sessions = self.sessions.lock().expect("sessions lock");
        sessions
            .values()
            .flat_map(|s| [s.secret_access_key.clone(), s.session_token.clone()])
            .collect()
    }

    /// The session holding `access_key_id`, expired or not.
    pub fn session(&self, access_key_id: &str) -> Option<Arc<Session>> {
        self.sessions
            .lock()
            .expect("sessions lock")
            .get(access_key_id)
            .cloned()
    }

    /// AssumeRole for `caller` at emulated time `now`.
    pub fn assume(
        &self,
        caller: &Caller,
        req: AssumeRequest,
        now: f64,
    ) -> Result<Arc<Session>, AssumeError> {
        let denied = || {
            AssumeError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn, req.role_arn
            ))
        };
        let role = self
            .roles
            .lock()
            .expect("roles lock")
            .get(&req.role_arn)
            .cloned()
            .ok_or_else(denied)?;
        let trusted = role
            .trusted
            .iter()
            .any(|t| *t == caller.account_id || *t == caller.access_key_id || *t == caller.arn);
        if !trusted || role.external_id != req.external_id {
            return Err(denied());
        }
        let seconds = session_seconds(&role, caller, req.duration)?;
        let session_policy = match req.policy {
            Some(doc) => {
                policy::parse(&doc).map_err(|e| AssumeError::MalformedPolicy(e.to_string()))?;
                Some(doc)
            }
            None => None,
        };
        let account = role.account().to_string();
        let session = Arc::new(Session {
            access_key_id: format!("ASIA{}", random_upper(16)),
            secret_access_key: random_text(30),
            session_token: format!("{SESSION_TOKEN_PREFIX}{}", random_text(96)),
            role_arn: role.arn.clone(),
            grant: Grant {
                principal: format!(
                    "arn:aws:sts::{account}:assumed-role/{}/{}",
                    role.name(),
                    req.session_name
                ),
                role_policy: role.policy_document(),
                session_policy,
            },
            account_id: account,
            expires: now + seconds as f64,
        });
        self.sessions
            .lock()
            .expect("sessions lock")
            .insert(session.access_key_id.clone(), session.clone());
        Ok(session)
    }
}

fn session_seconds(role: &Role, caller: &Caller, asked: Option<u64>) -> Result<u64, AssumeError> {
    let seconds = asked.unwrap_or(DEFAULT_SESSION_SECONDS);
    if caller.session.is_some() && seconds > CHAINED_MAX_SECONDS {
        return Err(AssumeError::Validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
        ));
    }
    if seconds > role.max_session_seconds {
        return Err(AssumeError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        ));
    }
    Ok(seconds)
}

#[cfg(test)]
#[path = "roles_tests.rs"]
mod tests;
