//! Unit tests of the Secret rendering.

use super::*;
use crate::crd::{DomainSpec, IndexRole, PypiRepositorySpec, SecretSpec};
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
            index_name: None,
            index_role: IndexRole::Primary,
        },
        retention: None,
        permissions_policy: None,
        endpoint: None,
        prepopulate: None,
    };
    let mut r = PypiRepository::new("repo", spec);
    r.metadata.namespace = Some("team".into());
    r.metadata.uid = Some("uid-1".into());
    r
}

#[test]
fn pip_conf_has_the_shape_aws_login_writes() {
    assert_eq!(
        pip_conf(ENDPOINT, &token().token, IndexRole::Primary),
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
    let data = secret_data(ENDPOINT, &token(), &ClientSettings::of(&repo(None)));
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
        &ClientSettings::of(&repo(Some(vec![Rendering::PipConf]))),
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

fn settings(renderings: Vec<Rendering>, name: &str, role: IndexRole) -> ClientSettings {
    ClientSettings {
        renderings,
        index_name: name.into(),
        role,
    }
}

const SIMPLE: &str =
    "https://dom-111122223333.d.codeartifact.us-west-2.amazonaws.com/pypi/repo/simple/";
const SIMPLE_WITH_TOKEN: &str =
    "https://aws:tok123@dom-111122223333.d.codeartifact.us-west-2.amazonaws.com/pypi/repo/simple/";

#[test]
fn extra_index_role_renders_extra_index_url_for_pip() {
    assert_eq!(
        pip_conf(ENDPOINT, &token().token, IndexRole::Extra),
        format!("[global]\nextra-index-url = {SIMPLE_WITH_TOKEN}\n")
    );
    let data = secret_data(
        ENDPOINT,
        &token(),
        &settings(vec![Rendering::Env], "codeartifact", IndexRole::Extra),
    );
    assert_eq!(data["PIP_EXTRA_INDEX_URL"], SIMPLE_WITH_TOKEN);
    assert_eq!(data["UV_INDEX"], SIMPLE_WITH_TOKEN);
    assert!(!data.contains_key("PIP_INDEX_URL") && !data.contains_key("UV_DEFAULT_INDEX"));
}

#[test]
fn env_names_are_built_as_uv_and_poetry_build_them() {
    // uv: ASCII letters and digits upper-cased, every other character `_`.
    assert_eq!(uv_env_name("codeartifact"), "CODEARTIFACT");
    assert_eq!(uv_env_name("team-pkgs.v2_x"), "TEAM_PKGS_V2_X");
    // Poetry: upper-cased, only `-` becomes `_` (a '.' would stay, which is why the CRD refuses it).
    assert_eq!(poetry_env_name("team-pkgs"), "TEAM_PKGS");
    assert_eq!(poetry_env_name("a.b"), "A.B");
}

#[test]
fn uv_rendering_names_the_index_and_keeps_credentials_out_of_uv_toml() {
    let data = secret_data(
        ENDPOINT,
        &token(),
        &settings(vec![Rendering::Uv], "team-pkgs", IndexRole::Primary),
    );
    assert_eq!(
        data["uv.toml"],
        format!("[[index]]\nname = \"team-pkgs\"\nurl = \"{SIMPLE}\"\ndefault = true\n")
    );
    assert!(!data["uv.toml"].contains("tok123"));
    assert_eq!(data["UV_INDEX_TEAM_PKGS_USERNAME"], "aws");
    assert_eq!(data["UV_INDEX_TEAM_PKGS_PASSWORD"], "tok123");
    assert_eq!(data["UV_DEFAULT_INDEX"], SIMPLE_WITH_TOKEN);
    assert_eq!(
        uv_toml(ENDPOINT, "x", IndexRole::Extra),
        format!("[[index]]\nname = \"x\"\nurl = \"{SIMPLE}\"\n")
    );
}

#[test]
fn poetry_rendering_has_a_credential_free_source_and_basic_auth_keys() {
    let data = secret_data(
        ENDPOINT,
        &token(),
        &settings(vec![Rendering::Poetry], "codeartifact", IndexRole::Primary),
    );
    assert_eq!(
        data["poetry-source.toml"],
        format!(
            "[[tool.poetry.source]]\nname = \"codeartifact\"\nurl = \"{SIMPLE}\"\npriority = \"primary\"\n"
        )
    );
    assert_eq!(data["POETRY_HTTP_BASIC_CODEARTIFACT_USERNAME"], "aws");
    assert_eq!(data["POETRY_HTTP_BASIC_CODEARTIFACT_PASSWORD"], "tok123");
    assert!(
        poetry_source(ENDPOINT, "x", IndexRole::Extra).contains("priority = \"supplemental\"\n")
    );
}

#[test]
fn netrc_names_the_host_without_port_and_comes_with_a_bare_index_url() {
    let data = secret_data(
        ENDPOINT,
        &token(),
        &settings(vec![Rendering::Netrc], "codeartifact", IndexRole::Primary),
    );
    assert_eq!(
        data[".netrc"],
        "machine dom-111122223333.d.codeartifact.us-west-2.amazonaws.com login aws password tok123\n"
    );
    assert_eq!(data["indexUrl"], SIMPLE);
    assert_eq!(
        netrc("http://127.0.0.1:8080/pypi/d/x/r/", &token().token).as_deref(),
        Some("machine 127.0.0.1 login aws password tok123\n")
    );
    assert_eq!(netrc("not a url", &token().token), None);
}

#[test]
fn toml_values_are_quoted_so_odd_endpoints_cannot_add_lines() {
    let toml = uv_toml("http://h/a\"b\n[x]/", "n", IndexRole::Primary);
    assert_eq!(toml.lines().count(), 4, "{toml}");
    assert!(
        toml.contains(r#"url = "http://h/a\"b\n[x]/simple/""#),
        "{toml}"
    );
}

#[test]
fn a_token_outside_the_url_safe_set_is_never_rendered() {
    assert!(is_url_safe("eyJ2ZXIiOjEsImlzdSI6MTcw.abc-DEF_~9"));
    for bad in [
        "",
        "a b",
        "a\nindex-url = http://evil/",
        "a/b",
        "a@b",
        "a:b",
        "é",
    ] {
        assert!(!is_url_safe(bad), "{bad:?}");
    }
    let mut t = token();
    t.token = AuthToken::new("tok\nextra-index-url = http://evil/");
    let keys = every_rendering_keys(&t);
    assert_eq!(keys, ["endpoint", "expiresAt", "token"]);
}

/// The Secret's keys with every rendering on and token `t`.
fn every_rendering_keys(t: &IssuedToken) -> Vec<String> {
    let all = vec![
        Rendering::PipConf,
        Rendering::Pypirc,
        Rendering::Env,
        Rendering::Uv,
        Rendering::Poetry,
        Rendering::Netrc,
    ];
    let s = settings(all, "codeartifact", IndexRole::Primary);
    secret_data(ENDPOINT, t, &s).into_keys().collect()
}

#[test]
fn every_rendering_together_writes_each_tools_keys() {
    let keys = every_rendering_keys(&token());
    assert_eq!(
        keys,
        [
            ".netrc",
            ".pypirc",
            "PIP_INDEX_URL",
            "POETRY_HTTP_BASIC_CODEARTIFACT_PASSWORD",
            "POETRY_HTTP_BASIC_CODEARTIFACT_USERNAME",
            "TWINE_PASSWORD",
            "TWINE_REPOSITORY_URL",
            "TWINE_USERNAME",
            "UV_DEFAULT_INDEX",
            "UV_INDEX_CODEARTIFACT_PASSWORD",
            "UV_INDEX_CODEARTIFACT_USERNAME",
            "endpoint",
            "expiresAt",
            "indexUrl",
            "pip.conf",
            "poetry-source.toml",
            "token",
            "uv.toml",
        ]
    );
}

#[test]
fn usage_lists_each_renderings_keys_and_never_the_token() {
    let s = settings(
        vec![
            Rendering::PipConf,
            Rendering::Uv,
            Rendering::Poetry,
            Rendering::Netrc,
        ],
        "team-pkgs",
        IndexRole::Extra,
    );
    let u = usage(&s);
    let tools: Vec<_> = u.iter().map(|e| e.tool.as_str()).collect();
    assert_eq!(
        tools,
        [
            "pip",
            "uv",
            "poetry",
            "netrc (pip, uv, any tool that reads NETRC)"
        ]
    );
    assert!(
        u[0].how.contains("PIP_CONFIG_FILE=<dir>/pip.conf") && u[0].how.contains("extra-index-url")
    );
    assert_eq!(
        u[1].keys,
        [
            "uv.toml",
            "UV_INDEX_TEAM_PKGS_USERNAME",
            "UV_INDEX_TEAM_PKGS_PASSWORD"
        ]
    );
    assert_eq!(u[2].keys[1], "POETRY_HTTP_BASIC_TEAM_PKGS_USERNAME");
    // Every key usage names is one the Secret really has.
    let data = secret_data(ENDPOINT, &token(), &s);
    for e in &u {
        for k in &e.keys {
            assert!(data.contains_key(k), "{} names missing key {k}", e.tool);
        }
    }
    let default = usage(&ClientSettings::of(&repo(None)));
    assert_eq!(default.len(), 3);
    assert!(default[2].keys.contains(&"PIP_INDEX_URL".to_string()));
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
