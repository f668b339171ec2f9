//! What the operator knows of a Secret it wrote (or read back as up to
//! date), so that a reconcile between token refreshes need not GET the
//! Secret again. The watch on Secrets is metadata-only (no token in memory),
//! so it cannot tell whether the content is still right; but it does see
//! every change: any Secret event other than the echo of the operator's own
//! write, and every re-list, moves the object's Secret epoch on, and a memo
//! taken at an older epoch is void. The token value itself is not kept: the
//! memo holds a digest of the Secret with the token left out, and the
//! token's times.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};

use crate::aws::{AuthToken, IssuedToken};
use crate::crd::PypiRepository;
use crate::secret::build_secret;

/// The Secret as the operator last knew it to be right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretMemo {
    /// The object's Secret epoch before the Secret was read or written.
    pub epoch: u64,
    /// Digest of the Secret without its token (see [`shape`]).
    pub shape: u64,
    /// When the token in it was issued.
    pub issued_at: DateTime<Utc>,
    /// When the token in it expires.
    pub expires_at: DateTime<Utc>,
}

impl SecretMemo {
    /// The memo of a Secret rendered for `obj` with `token`, known right at `epoch`.
    pub fn new(
        obj: &PypiRepository,
        endpoint: &str,
        token: &IssuedToken,
        scope: &str,
        epoch: u64,
    ) -> Self {
        Self {
            epoch,
            shape: shape(obj, endpoint, token.issued_at, token.expires_at, scope),
            issued_at: token.issued_at,
            expires_at: token.expires_at,
        }
    }

    /// The token's times, with no value: for deciding when to refresh.
    pub fn times(&self) -> IssuedToken {
        IssuedToken {
            token: AuthToken::new(String::new()),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        }
    }

    /// Whether the Secret, still as remembered at `epoch`, is what `obj`
    /// would be given now with the same token. Pure.
    pub fn still_right(
        &self,
        obj: &PypiRepository,
        endpoint: &str,
        scope: &str,
        epoch: u64,
    ) -> bool {
        self.epoch == epoch
            && self.shape == shape(obj, endpoint, self.issued_at, self.expires_at, scope)
    }
}

/// A digest of everything the Secret for `obj` holds except the token's
/// value: keys, endpoint, client settings, labels, owner, annotations.
fn shape(
    obj: &PypiRepository,
    endpoint: &str,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    scope: &str,
) -> u64 {
    // A placeholder, not an empty value: the renderings are only written
    // for a URL-safe, non-empty token.
    let blank = IssuedToken {
        token: AuthToken::new("placeholder"),
        issued_at,
        expires_at,
    };
    let secret = build_secret(obj, endpoint, &blank, scope);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(&secret).unwrap_or_default().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn obj(spec: serde_json::Value) -> PypiRepository {
        let mut o = PypiRepository::new("web", serde_json::from_value(spec).unwrap());
        o.metadata.namespace = Some("team".into());
        o.metadata.uid = Some("u1".into());
        o
    }

    fn token(value: &str) -> IssuedToken {
        IssuedToken {
            token: AuthToken::new(value),
            issued_at: Utc.timestamp_opt(1_000, 0).unwrap(),
            expires_at: Utc.timestamp_opt(44_200, 0).unwrap(),
        }
    }

    #[test]
    fn a_memo_holds_for_the_same_secret_at_the_same_epoch_only() {
        let o = obj(serde_json::json!({"domain": {"name": "dom"}}));
        let memo = SecretMemo::new(&o, "http://e/", &token("secret-value"), "dom", 3);
        assert!(memo.still_right(&o, "http://e/", "dom", 3));
        assert!(
            !memo.still_right(&o, "http://e/", "dom", 4),
            "someone touched the Secret since"
        );
        assert!(
            !memo.still_right(&o, "http://other/", "dom", 3),
            "endpoint moved"
        );
        assert!(
            !memo.still_right(&o, "http://e/", "role:dom", 3),
            "scope changed"
        );
        let poetry = obj(
            serde_json::json!({"domain": {"name": "dom"}, "secret": {"renderings": ["poetry"]}}),
        );
        assert!(
            !memo.still_right(&poetry, "http://e/", "dom", 3),
            "client settings changed"
        );
    }

    #[test]
    fn the_memo_keeps_no_token_value() {
        let o = obj(serde_json::json!({"domain": {"name": "dom"}}));
        let a = SecretMemo::new(&o, "http://e/", &token("value-a"), "dom", 0);
        let b = SecretMemo::new(&o, "http://e/", &token("value-b"), "dom", 0);
        assert_eq!(a, b);
        assert!(!format!("{a:?}").contains("value-a"));
        assert_eq!(a.times().token.expose(), "");
        assert_eq!(a.times().expires_at, token("x").expires_at);
    }
}
