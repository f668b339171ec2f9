//! SigV4 verification: rebuild the canonical request from what was received and compare signatures.
//!
//! The key derivation and HMAC come from the `aws-sigv4` crate; this module only assembles the
//! canonical request and string to sign, which depend on the received request, not on a client.
//! Clients sign different header sets (the Rust SDK signs `host;x-amz-date;x-amz-user-agent`,
//! botocore signs nearly every header), so the `SignedHeaders` list is taken as given.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

use crate::body::decode;
#[cfg(test)]
use crate::config::Credential;

/// The signing name of CodeArtifact.
pub const SERVICE: &str = "codeartifact";
/// Largest accepted difference between `x-amz-date` and the server clock (AWS uses 15 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// RFC 3986 unreserved characters stay as they are; everything else is `%XX`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Like [`UNRESERVED`] but keeps `/` (path encoding).
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Why a signature was refused; the message goes into AccessDeniedException.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    Missing,
    /// The header is not a well-formed SigV4 header.
    #[error(
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters ({0})"
    )]
    Malformed(String),
    /// The access key id is not configured.
    #[error("The security token included in the request is invalid (unknown access key {0})")]
    UnknownKey(String),
    /// Wrong region or service in the credential scope.
    #[error("Credential should be scoped to a valid region and service ({0})")]
    Scope(String),
    /// `x-amz-date` is absent, malformed or too far from now.
    #[error("Signature expired or not yet valid: {0}")]
    Time(String),
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    Mismatch,
}

/// The parts of a received request that the signature covers.
pub struct Received<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Raw path as received (still percent-encoded).
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: &'a str,
    /// All received headers.
    pub headers: &'a HeaderMap,
    /// The body bytes.
    pub body: &'a [u8],
}

struct AuthHeader<'a> {
    key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_auth(value: &str) -> Result<AuthHeader<'_>, AuthError> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| AuthError::Malformed("algorithm must be AWS4-HMAC-SHA256".into()))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').unwrap_or(("", ""));
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed, signature)
    else {
        return Err(AuthError::Malformed("missing parameter".into()));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(AuthError::Malformed(format!(
            "bad credential scope {credential}"
        )));
    };
    Ok(AuthHeader {
        key,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}

/// Parse `YYYYMMDDTHHMMSSZ` into a time.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The canonical query string: decoded pairs re-encoded per RFC 3986, sorted by key then value.
pub fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The canonical URI: the received (already encoded) path encoded once more, as both the Rust
/// SDK (`double_uri_encode`) and botocore do for non-S3 services.
pub fn canonical_uri(raw_path: &str) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    utf8_percent_encode(path, PATH).to_string()
}

fn canonical_headers(headers: &HeaderMap, signed: &str) -> Result<String, AuthError> {
    let mut out = String::new();
    for name in signed.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| {
                let text = String::from_utf8_lossy(v.as_bytes());
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        if values.is_empty() {
            return Err(AuthError::Malformed(format!(
                "signed header {name} is missing"
            )));
        }
        out.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Ok(out)
}

/// The canonical request for `req` given the client's `SignedHeaders` list.
pub fn canonical_request(req: &Received<'_>, signed_headers: &str) -> Result<String, AuthError> {
    let payload_hash = match req.headers.get("x-amz-content-sha256") {
        Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        None => hex::encode(Sha256::digest(req.body)),
    };
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        canonical_headers(req.headers, signed_headers)?,
        signed_headers,
        payload_hash
    ))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Check a CodeArtifact request's signature against key pairs; returns the signer. The server
/// resolves signers through [`verify_with`] (long-term keys and role sessions alike).
#[cfg(test)]
pub fn verify<'c>(
    req: &Received<'_>,
    credentials: &'c [Credential],
    region: &str,
    now: SystemTime,
) -> Result<&'c Credential, AuthError> {
    verify_with(req, region, SERVICE, now, |key| {
        credentials
            .iter()
            .find(|c| c.access_key_id == key)
            .map(|c| (c, c.secret_access_key.clone()))
    })
}

/// Check the request's signature for `service`; `find` maps the access key id to the signer and
/// its secret (or `None` for an unknown key). Returns the signer.
pub fn verify_with<T>(
    req: &Received<'_>,
    region: &str,
    service: &str,
    now: SystemTime,
    find: impl FnOnce(&str) -> Option<(T, String)>,
) -> Result<T, AuthError> {
    let auth = parse_auth(header(req.headers, "authorization").ok_or(AuthError::Missing)?)?;
    let (signer, secret) =
        find(auth.key).ok_or_else(|| AuthError::UnknownKey(auth.key.to_string()))?;
    if auth.region != region || auth.service != service {
        return Err(AuthError::Scope(format!(
            "expected {region}/{service}, got {}/{}",
            auth.region, auth.service
        )));
    }
    let amz_date =
        header(req.headers, "x-amz-date").ok_or(AuthError::Time("no x-amz-date".into()))?;
    let signed_at = parse_amz_date(amz_date).ok_or(AuthError::Time(amz_date.into()))?;
    let skew = now
        .duration_since(signed_at)
        .unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW || !amz_date.starts_with(auth.date) {
        return Err(AuthError::Time(format!(
            "{amz_date} is more than 15 minutes from the server time"
        )));
    }
    if !auth.signed_headers.split(';').any(|h| h == "host") {
        return Err(AuthError::Malformed("host must be signed".into()));
    }
    let canonical = canonical_request(req, auth.signed_headers)?;
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}/{}/{}/aws4_request\n{}",
        auth.date,
        auth.region,
        auth.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = generate_signing_key(&secret, signed_at, region, service);
    let expected = calculate_signature(key, string_to_sign.as_bytes());
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(signer)
    } else {
        Err(AuthError::Mismatch)
    }
}

/// The access key id named in the `Authorization` header, if the header is well formed.
pub fn access_key_of(headers: &HeaderMap) -> Option<&str> {
    parse_auth(header(headers, "authorization")?)
        .ok()
        .map(|a| a.key)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
