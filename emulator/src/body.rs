//! Reading request bodies with size limits, and percent-decoding of paths, query strings and
//! form bodies. A leaf module: every front end (control plane, STS, PyPI, admin) uses it.

use std::collections::HashMap;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, header};
use percent_encoding::percent_decode_str;

use crate::error::ApiError;

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("Request body exceeds the limit of {limit} bytes"))
}

/// Read a whole body of at most `limit` bytes. A request with neither `Content-Length` nor
/// `Transfer-Encoding` has an empty body (the SDK sends such POSTs).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` reports both an exceeded limit and a broken connection as errors.
        tracing::debug!(error = %e, "reading request body failed");
        too_large(limit)
    })
}

/// RFC 3986 percent-decoding (a `+` stays a `+`).
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
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

/// Decode an `application/x-www-form-urlencoded` body (`+` is a space, as botocore sends it);
/// the first value of a key wins.
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
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
    fn form_decoding_treats_plus_as_space() {
        let f = parse_form(b"Action=AssumeRole&Policy=%7B%22a%22%3A+1%7D&RoleSessionName=s%20x");
        assert_eq!(f["Action"], "AssumeRole");
        assert_eq!(f["Policy"], "{\"a\": 1}");
        assert_eq!(f["RoleSessionName"], "s x");
    }
}
