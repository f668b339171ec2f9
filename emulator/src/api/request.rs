//! One authenticated control-plane call: decoded query members, JSON body and caller identity,
//! plus the opaque pagination used by the list operations.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use bytes::Bytes;

use crate::body::parse_query;
use crate::error::ApiError;
use crate::roles::Caller;
use crate::validate;

/// Default page size when `maxResults` is absent.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// A request after routing and authentication.
pub struct Call {
    /// The signer.
    pub caller: Caller,
    query: HashMap<String, String>,
    body: Bytes,
    /// The `Host` header, if any.
    host: Option<String>,
}

impl Call {
    /// A call from its parts.
    pub fn new(caller: Caller, raw_query: &str, body: Bytes, host: Option<String>) -> Self {
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
            &self.body[..]
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
        owner_or_caller(self.opt("domain-owner"), "domain-owner", &self.caller)
    }

    /// `domain`, `domain-owner` and `repository`: the repository a call names
    /// (validated in that order).
    pub fn repository_path(&self) -> Result<(&str, String, &str), ApiError> {
        Ok((
            self.domain()?,
            self.owner()?,
            self.repository("repository")?,
        ))
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
    caller: &Caller,
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
