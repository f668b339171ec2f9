//! Unit tests of the Secret rendering.

use super::*;
use crate::crd::{DomainSpec, PypiRepositorySpec, SecretSpec};
use chrono::TimeZone;

const ENDPOINT: &str = "https://dom-111122223333.d.codeartifact.us-west-2.amazonaws.com/pypi/repo/";

fn token() -> IssuedToken {
    IssuedToken {
        token: AuthToken::new("tok123"),
        issued_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        expires_at: Utc.timestamp_opt(1_700_043_200, 0).unwrap(),
    }
}

fn repo(renderings: Option<Vec<Rendering>>) -> PypiRepository {
    let spec = PypiRepositorySpec {
        domain: DomainSpec {
            name: "dom".into(),
            owner: None,
            encryption_key: None,
            tags: Default::default(),
        },
        repository_name: None,
        description: None,
        mode: Default::default(),
        adopt: false,
        external_connection: Some(true),
        upstreams: vec![],
        tags: Default::default(),
        deletion_policy: Default::default(),
        token: Default::default(),
        secret: SecretSpec {
            name: None,
            renderings,
        },
    };
    let mut r = PypiRepository::new("repo", spec);
    r.metadata.namespace = Some("team".into());
    r.metadata.uid = Some("uid-1".into());
    r
}

#[test]
fn pip_conf_has_the_shape_aws_login_writes() {
    assert_eq!(
        pip_conf(ENDPOINT, &token().token),
        "[global]\nindex-url = https://aws:tok123@dom-111122223333.d.codeartifact.us-west-2.amazonaws.com/pypi/repo/simple/\n"
    );
}

#[test]
fn pypirc_has_the_shape_aws_login_writes() {
    let expected = "[distutils]\nindex-servers = \n\tpypi\n\tcodeartifact\n\n[codeartifact]\nrepository = https://dom-111122223333.d.codeartifact.us-west-2.amazonaws.com/pypi/repo/\nusername = aws\npassword = tok123\n\n";
    assert_eq!(pypirc(ENDPOINT, &token().token), expected);
}

#[test]
fn index_url_adds_simple_and_tolerates_a_missing_slash() {
    assert_eq!(index_url("http://h/pypi/r/"), "http://h/pypi/r/simple/");
    assert_eq!(index_url("http://h/pypi/r"), "http://h/pypi/r/simple/");
}

#[test]
fn unusual_token_characters_are_percent_encoded_in_urls() {
    let t = AuthToken::new("a/b:c@d");
    assert_eq!(
        with_credentials("http://h/x/", &t),
        "http://aws:a%2Fb%3Ac%40d@h/x/"
    );
}

#[test]
fn all_renderings_by_default() {
    let data = secret_data(ENDPOINT, &token(), &repo(None).renderings());
    let keys: Vec<_> = data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            ".pypirc",
            "PIP_INDEX_URL",
            "TWINE_PASSWORD",
            "TWINE_REPOSITORY_URL",
            "TWINE_USERNAME",
            "UV_DEFAULT_INDEX",
            "endpoint",
            "expiresAt",
            "pip.conf",
            "token"
        ]
    );
    assert_eq!(data["expiresAt"], "2023-11-15T10:13:20Z");
    assert_eq!(data["TWINE_REPOSITORY_URL"], ENDPOINT);
}

#[test]
fn only_the_chosen_renderings_are_written() {
    let data = secret_data(
        ENDPOINT,
        &token(),
        &repo(Some(vec![Rendering::PipConf])).renderings(),
    );
    let keys: Vec<_> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, ["endpoint", "expiresAt", "pip.conf", "token"]);
}

#[test]
fn secret_is_owned_labelled_and_annotated() {
    let s = build_secret(&repo(None), ENDPOINT, &token(), "scope-a");
    assert_eq!(s.metadata.name.as_deref(), Some("repo-pypi"));
    assert_eq!(s.metadata.namespace.as_deref(), Some("team"));
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("PypiRepository", "uid-1", Some(true))
    );
    assert_eq!(
        s.labels()["app.kubernetes.io/managed-by"],
        "codeartifact-operator"
    );
    assert_eq!(s.annotations()[ANNOTATION_TOKEN_SCOPE], "scope-a");
}

#[test]
fn stored_token_round_trips_only_for_the_same_owner_and_scope() {
    let s = build_secret(&repo(None), ENDPOINT, &token(), "scope-a");
    assert_eq!(stored_token(&s, "uid-1", "scope-a"), Some(token()));
    assert_eq!(stored_token(&s, "uid-2", "scope-a"), None);
    assert_eq!(stored_token(&s, "uid-1", "scope-b"), None);
}

#[test]
fn up_to_date_detects_changed_data_and_missing_labels() {
    let desired = build_secret(&repo(None), ENDPOINT, &token(), "scope-a");
    assert!(is_up_to_date(&desired, &desired));
    let mut other = desired.clone();
    other
        .data
        .as_mut()
        .unwrap()
        .insert("token".into(), ByteString(b"x".to_vec()));
    assert!(!is_up_to_date(&other, &desired));
    let mut unlabelled = desired.clone();
    unlabelled.metadata.labels = None;
    assert!(!is_up_to_date(&unlabelled, &desired));
}

#[test]
fn the_instance_label_fits_for_names_longer_than_63_characters() {
    let long = format!("{}-{}", "a".repeat(62), "b".repeat(100));
    let v = label_value(&long);
    assert_eq!(
        v,
        "a".repeat(62),
        "cut at 63, then the trailing '-' dropped"
    );
    assert_eq!(label_value("short-name"), "short-name");
    let mut r = repo(None);
    r.metadata.name = Some("x".repeat(253));
    let l = labels(&r);
    assert_eq!(l["app.kubernetes.io/instance"].len(), 63);
}
