//! The emulator's test credentials (`codeartifact_emulator::Config::for_tests`)
//! and SDK clients signed with them, for acting behind the operator's back.

use aws_credential_types::Credentials;
use aws_sdk_codeartifact as ca;
use codeartifact_emulator::Emulator;

/// One of the emulator's test key pairs and the account it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestKey {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: &'static str,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: &'static str,
    /// The 12-digit account the emulator maps the key to.
    pub account: &'static str,
}

/// The key the operator under test runs with (account 111122223333).
pub const OPERATOR_KEY: TestKey = TestKey {
    access_key_id: "AKIDEMULATOR",
    secret_access_key: "emulator-secret",
    account: "111122223333",
};

/// The second test account's key (account 444455556666): "someone else".
pub const OTHER_KEY: TestKey = TestKey {
    access_key_id: "AKIDOTHER",
    secret_access_key: "other-secret",
    account: "444455556666",
};

impl TestKey {
    /// The key pair whose access key id is `access_key_id`.
    ///
    /// # Panics
    /// If it is neither [`OPERATOR_KEY`] nor [`OTHER_KEY`].
    pub fn by_access_key(access_key_id: &str) -> Self {
        [OPERATOR_KEY, OTHER_KEY]
            .into_iter()
            .find(|k| k.access_key_id == access_key_id)
            .unwrap_or_else(|| panic!("{access_key_id} is not one of the emulator's test keys"))
    }

    /// An SDK client signed with this key, talking to `emulator`.
    pub fn sdk(&self, emulator: &Emulator) -> ca::Client {
        crate::tls::install_provider();
        let conf = ca::Config::builder()
            .behavior_version(ca::config::BehaviorVersion::latest())
            .region(ca::config::Region::new(emulator.region().to_string()))
            .credentials_provider(Credentials::new(
                self.access_key_id,
                self.secret_access_key,
                None,
                None,
                "testenv",
            ))
            .endpoint_url(emulator.base_url())
            .build();
        ca::Client::from_conf(conf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codeartifact_emulator::Config;

    #[test]
    fn the_keys_are_the_ones_the_emulator_accepts_in_tests() {
        let accepted: Vec<(String, String, String)> = Config::for_tests()
            .credentials
            .into_iter()
            .map(|c| (c.access_key_id, c.secret_access_key, c.account_id))
            .collect();
        for key in [OPERATOR_KEY, OTHER_KEY] {
            let triple = (
                key.access_key_id.to_string(),
                key.secret_access_key.to_string(),
                key.account.to_string(),
            );
            assert!(accepted.contains(&triple), "{key:?} not in {accepted:?}");
        }
    }

    #[test]
    fn keys_are_found_by_access_key() {
        assert_eq!(TestKey::by_access_key("AKIDOTHER"), OTHER_KEY);
        assert_eq!(TestKey::by_access_key("AKIDEMULATOR"), OPERATOR_KEY);
    }
}
