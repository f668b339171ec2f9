//! Unit tests for SigV4 canonicalisation and verification.

use super::*;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use http::HeaderValue;

fn creds() -> Vec<Credential> {
    vec![Credential {
        access_key_id: "AKIDTEST".into(),
        secret_access_key: "secret/with+chars".into(),
        account_id: "111122223333".into(),
    }]
}

/// Sign with the crate's own full request signer (as the Rust SDK does) and return the headers.
fn sdk_signed(method: &str, uri: &str, body: &[u8], secret: &str, at: SystemTime) -> HeaderMap {
    let identity =
        aws_credential_types::Credentials::new("AKIDTEST", secret, None, None, "t").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name("codeartifact")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = [("host", "127.0.0.1:8787")];
    let signable =
        SignableRequest::new(method, uri, host.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8787")
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut req);
    req.headers().clone()
}

#[test]
fn aws_get_vanilla_vector() {
    // From the AWS SigV4 test suite ("get-vanilla", shipped in the aws-sigv4 crate).
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    let req = Received {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        body: b"",
    };
    let canonical = canonical_request(&req, "host;x-amz-date").unwrap();
    assert_eq!(
        canonical,
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let at = parse_amz_date("20150830T123600Z").unwrap();
    let key = generate_signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        at,
        "us-east-1",
        "service",
    );
    assert_eq!(
        calculate_signature(key, sts.as_bytes()),
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn query_is_decoded_reencoded_and_sorted() {
    assert_eq!(
        canonical_query("repository=r&domain=d&external-connection=public%3Apypi"),
        "domain=d&external-connection=public%3Apypi&repository=r"
    );
    assert_eq!(
        canonical_query("next-token=a%20b%2Fc%2Bd%3D&a=~x"),
        "a=~x&next-token=a%20b%2Fc%2Bd%3D"
    );
    assert_eq!(canonical_query(""), "");
    assert_eq!(canonical_uri("/v1/domain"), "/v1/domain");
    assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
}

#[test]
fn amz_dates_parse() {
    let t = parse_amz_date("20261128T171910Z").unwrap();
    assert_eq!(
        t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
        1_795_886_350
    );
    assert!(parse_amz_date("2026-11-28T17:19:10Z").is_none());
    assert!(parse_amz_date("20261328T171910Z").is_none());
}

#[test]
fn round_trip_with_the_sdk_signer() {
    let now = SystemTime::now();
    let body = br#"{"maxResults":10}"#;
    let uri = "http://127.0.0.1:8787/v1/repository?domain=d&repository=r%20x";
    let mut headers = sdk_signed("POST", uri, body, "secret/with+chars", now);
    headers.insert("user-agent", HeaderValue::from_static("unsigned/1.0"));
    let req = Received {
        method: "POST",
        path: "/v1/repository",
        query: "domain=d&repository=r%20x",
        headers: &headers,
        body,
    };
    let accepted = creds();
    let who = verify(&req, &accepted, "us-west-2", now).unwrap();
    assert_eq!(who.account_id, "111122223333");

    // Same request, different body: mismatch.
    let tampered = Received { body: b"{}", ..req };
    assert_eq!(
        verify(&tampered, &creds(), "us-west-2", now).unwrap_err(),
        AuthError::Mismatch
    );
    // Wrong region configured on the server.
    assert!(matches!(
        verify(&req, &creds(), "eu-west-1", now),
        Err(AuthError::Scope(_))
    ));
    // Too much clock skew.
    let later = now + Duration::from_secs(16 * 60);
    assert!(matches!(
        verify(&req, &creds(), "us-west-2", later),
        Err(AuthError::Time(_))
    ));
}

#[test]
fn wrong_secret_unknown_key_and_missing_header_are_refused() {
    let now = SystemTime::now();
    let uri = "http://127.0.0.1:8787/v1/domains";
    let headers = sdk_signed("POST", uri, b"{}", "not-the-secret", now);
    let req = Received {
        method: "POST",
        path: "/v1/domains",
        query: "",
        headers: &headers,
        body: b"{}",
    };
    assert_eq!(
        verify(&req, &creds(), "us-west-2", now).unwrap_err(),
        AuthError::Mismatch
    );
    let mut other = creds();
    other[0].access_key_id = "AKIDELSE".into();
    assert!(matches!(
        verify(&req, &other, "us-west-2", now),
        Err(AuthError::UnknownKey(_))
    ));
    let empty = HeaderMap::new();
    let bare = Received {
        headers: &empty,
        ..req
    };
    assert_eq!(
        verify(&bare, &creds(), "us-west-2", now).unwrap_err(),
        AuthError::Missing
    );
}
