//! One authenticated control-plane call: decoded query members, JSON body and caller identity,
//! plus the opaque pagination used by the list operations.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use crate::config::Credential;
use crate::error::ApiError;
use crate::sigv4::decode;
use crate::validate;

/// Default page size when `maxResults` is absent.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// A request after routing and authentication.
pub struct Call<'a> {
    /// The signer.
    pub caller: &'a Credential,
    query: HashMap<String, String>,
    body: &'a [u8],
    /// The `Host` header, if any.
    host: Option<String>,
}

/// Decode a raw query string (RFC 3986; `+` is a literal plus); the first value of a key wins.
pub fn parse_query(raw: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(decode(k)).or_insert_with(|| decode(v));
    }
    out
}

impl<'a> Call<'a> {
    /// A call from its parts.
    pub fn new(
        caller: &'a Credential,
        raw_query: &str,
        body: &'a [u8],
        host: Option<String>,
    ) -> Self {
        Call {
            caller,
            query: parse_query(raw_query),
            body,
            host,
        }
    }

    /// The `Host` header the client sent.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// An optional query member.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A required query member.
    pub fn req(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name).ok_or_else(|| validate::missing(name))
    }

    /// The JSON body as `T`; an empty body is `{}`.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes = if self.body.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else {
            self.body
        };
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::cannot_parse(format!("Could not parse request body into json: {e}"))
        })
    }

    /// `domain` (validated).
    pub fn domain(&self) -> Result<&str, ApiError> {
        let d = self.req("domain")?;
        validate::domain_name("domain", d)?;
        Ok(d)
    }

    /// `domain-owner` (validated), defaulting to the caller's account.
    pub fn owner(&self) -> Result<String, ApiError> {
        owner_or_caller(self.opt("domain-owner"), "domain-owner", self.caller)
    }

    /// A repository name member (validated).
    pub fn repository(&self, field: &str) -> Result<&str, ApiError> {
        let r = self.req(field)?;
        validate::repository_name(field, r)?;
        Ok(r)
    }

    /// `max-results` from the query (1..=1000).
    pub fn max_results(&self) -> Result<Option<usize>, ApiError> {
        self.opt("max-results")
            .map(|raw| validate::int_range("max-results", raw, 1, 1000).map(|n| n as usize))
            .transpose()
    }
}

/// A domain owner member (validated), defaulting to the caller's account.
pub fn owner_or_caller(
    given: Option<&str>,
    field: &str,
    caller: &Credential,
) -> Result<String, ApiError> {
    match given {
        Some(o) => {
            validate::account_id(field, o)?;
            Ok(o.to_string())
        }
        None => Ok(caller.account_id.clone()),
    }
}

/// One page of `items` (already in output order, keys unique) after the item named by `token`.
/// The token is the base64url of the last key returned; if that item has since gone, the page
/// resumes at the first key greater than it.
pub fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    max: Option<usize>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let after = token
        .map(|t| {
            validate::non_space("nextToken", t, 2000)?;
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::field("The pagination token is invalid."))
        })
        .transpose()?;
    let start = match &after {
        None => 0,
        Some(a) => items
            .iter()
            .position(|i| key(i) == *a)
            .map(|p| p + 1)
            .or_else(|| items.iter().position(|i| key(i) > *a))
            .unwrap_or(items.len()),
    };
    let limit = max.unwrap_or(DEFAULT_PAGE_SIZE);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = match page.last() {
        Some(last) if start + page.len() < total => Some(URL_SAFE_NO_PAD.encode(key(last))),
        _ => None,
    };
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_is_rfc3986_and_order_independent() {
        let a = parse_query("domain=my-domain&external-connection=public%3Apypi&x=a+b%20c");
        let b = parse_query("x=a+b%20c&external-connection=public%3Apypi&domain=my-domain");
        assert_eq!(a, b);
        assert_eq!(a["external-connection"], "public:pypi");
        assert_eq!(a["x"], "a+b c");
    }

    #[test]
    fn pagination_walks_all_items_exactly_once() {
        let items: Vec<String> = (0..7).map(|i| format!("item{i}")).collect();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) =
                paginate(items.clone(), |s| s.clone(), Some(3), token.as_deref()).unwrap();
            assert!(page.len() <= 3);
            seen.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let (all, none) = paginate(items.clone(), |s| s.clone(), None, None).unwrap();
        assert_eq!((all.len(), none), (7, None));
        assert!(paginate(items, |s| s.clone(), None, Some("%%%")).is_err());
    }
}
