//! Emulator configuration: listen address, region, the accepted key pairs and optional folders/files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// One accepted SigV4 key pair and the AWS account it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The access key id (first part of `Credential=` in the Authorization header).
    pub access_key_id: String,
    /// The secret used to derive the signing key.
    pub secret_access_key: String,
    /// The 12-digit account that owns this key; it is the caller's account for every request.
    pub account_id: String,
}

/// Parse errors for `--credentials KEY:SECRET:ACCOUNT`.
#[derive(Debug, thiserror::Error)]
pub enum CredentialParseError {
    /// Not three colon-separated parts.
    #[error("expected KEY:SECRET:ACCOUNT, got {0} part(s)")]
    Shape(usize),
    /// A part is empty.
    #[error("access key id and secret must not be empty")]
    Empty,
    /// The account is not 12 digits.
    #[error("account id must be 12 digits, got {0:?}")]
    Account(String),
}

impl FromStr for Credential {
    type Err = CredentialParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The secret may itself hold ':' in theory, so the account is taken from the end.
        let (rest, account) = s.rsplit_once(':').ok_or(CredentialParseError::Shape(1))?;
        let (key, secret) = rest.split_once(':').ok_or(CredentialParseError::Shape(2))?;
        if key.is_empty() || secret.is_empty() {
            return Err(CredentialParseError::Empty);
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CredentialParseError::Account(account.to_string()));
        }
        Ok(Credential {
            access_key_id: key.to_string(),
            secret_access_key: secret.to_string(),
            account_id: account.to_string(),
        })
    }
}

/// Everything [`crate::Emulator::start`] needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The region used in ARNs and required in SigV4 credential scopes.
    pub region: String,
    /// Accepted key pairs; requests signed with anything else get AccessDeniedException.
    pub credentials: Vec<Credential>,
    /// Folder of wheels and sdists served through the `public:pypi` external connection.
    pub public_pypi_dir: Option<PathBuf>,
    /// JSON file holding all state across restarts; memory only when `None`.
    pub state_file: Option<PathBuf>,
    /// Token lifetimes run this many times faster than real time (1 = real time).
    pub clock_speed: f64,
}

impl Config {
    /// A configuration for in-process tests: a free port on 127.0.0.1, `us-west-2`, two accounts
    /// (`AKIDEMULATOR`/`emulator-secret`/`111122223333` and `AKIDOTHER`/`other-secret`/`444455556666`).
    pub fn for_tests() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-west-2".to_string(),
            credentials: vec![
                Credential {
                    access_key_id: "AKIDEMULATOR".to_string(),
                    secret_access_key: "emulator-secret".to_string(),
                    account_id: "111122223333".to_string(),
                },
                Credential {
                    access_key_id: "AKIDOTHER".to_string(),
                    secret_access_key: "other-secret".to_string(),
                    account_id: "444455556666".to_string(),
                },
            ],
            public_pypi_dir: None,
            state_file: None,
            clock_speed: 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_parses_and_rejects() {
        let c: Credential = "AKID:sec:ret:111122223333".parse().unwrap();
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.secret_access_key, "sec:ret");
        assert_eq!(c.account_id, "111122223333");
        assert!("AKID:secret".parse::<Credential>().is_err());
        assert!("AKID:secret:1234".parse::<Credential>().is_err());
        assert!(":secret:111122223333".parse::<Credential>().is_err());
    }
}
