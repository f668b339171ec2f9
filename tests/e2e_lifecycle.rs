//! End to end on the real control plane with the emulator: a PypiRepository
//! becomes Ready, its Secret works with the real twine and pip, every example
//! in deploy/examples is accepted and reconciled, and deletion follows the policy.

mod common;

use std::time::Duration;

use common::python::{assert_ok, make_dist, pip_install, project_secret, twine_upload};
use common::{
    EXAMPLE_FILES, EXAMPLE_REPOSITORIES, Options, condition, example_documents, run, setup,
};
use kube::ResourceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_example_becomes_ready_and_pip_installs_what_twine_uploaded() {
    let env = setup("lifecycle", Options::default()).await;
    env.create(&example_documents("basic.yaml")[0]).await;
    let obj = env.wait_ready("python-packages").await;

    let st = obj.status.clone().expect("status");
    let endpoint = st.repository_endpoint.clone().expect("endpoint");
    assert_eq!(st.domain_owner.as_deref(), Some(common::ACCOUNT));
    assert_eq!(
        st.domain_arn.as_deref(),
        Some("arn:aws:codeartifact:us-west-2:111122223333:domain/acme")
    );
    assert_eq!(
        st.repository_arn.as_deref(),
        Some("arn:aws:codeartifact:us-west-2:111122223333:repository/acme/python-packages")
    );
    assert!(
        endpoint.starts_with(&env.emulator.base_url()) && endpoint.ends_with("/python-packages/"),
        "{endpoint}"
    );
    assert_eq!(st.index_url, Some(format!("{endpoint}simple/")));
    assert_eq!(st.secret_name.as_deref(), Some("python-packages-pypi"));
    assert_eq!(st.token_lifetime.as_deref(), Some("12h"));
    assert_eq!(condition(&obj, "Synced").map(|c| c.0), Some("True".into()));

    // kubectl shows the printer columns.
    let table = run(&mut env.cp.kubectl(["get", "pypirepo", "-n", env.ns.name()]));
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "DOMAIN",
            "REPOSITORY",
            "READY",
            "TOKEN",
            "LIFETIME",
            "AGE"
        ],
        "{table}"
    );
    assert!(
        table.contains("python-packages") && table.contains("acme") && table.contains("True"),
        "{table}"
    );

    // The Secret is owned, labelled and complete.
    let secret = env
        .secrets()
        .get("python-packages-pypi")
        .await
        .expect("Secret");
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(secret.owner_references()[0].uid, obj.uid().unwrap());
    assert_eq!(
        secret.labels()["app.kubernetes.io/managed-by"],
        "codeartifact-operator"
    );
    let data = env.secret_data("python-packages-pypi").await;
    for key in [
        "pip.conf",
        ".pypirc",
        "PIP_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "TWINE_REPOSITORY_URL",
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
        "token",
        "endpoint",
        "expiresAt",
    ] {
        assert!(data.contains_key(key), "Secret lacks {key}");
    }
    assert_eq!(data["TWINE_REPOSITORY_URL"], endpoint);
    assert!(
        env.emulator.issued_tokens().contains(&data["token"]),
        "the Secret holds a token the emulator issued"
    );

    // Real twine uploads with the .pypirc and real pip installs with the pip.conf.
    let dir = env.tmp.path().join("mounted-secret");
    project_secret(&data, &dir);
    let dists = make_dist("internal-lib", "1.0.0", &env.tmp.path().join("dist"), true);
    assert_ok("twine upload", &twine_upload(&dir, &dists));
    assert_ok(
        "pip install internal-lib",
        &pip_install(&dir, "internal-lib==1.0.0"),
    );
    assert!(
        dir.join("site-internal-lib__1.0.0/internal_lib/__init__.py")
            .exists()
    );
    // A public package comes through the external connection.
    assert_ok(
        "pip install requests-lite",
        &pip_install(&dir, "requests-lite"),
    );

    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_is_accepted_and_reconciled() {
    let env = setup("examples", Options::default()).await;
    for file in EXAMPLE_FILES {
        for doc in example_documents(file) {
            env.create(&doc).await;
        }
    }
    for name in EXAMPLE_REPOSITORIES {
        env.wait_ready(name).await;
    }

    let repos = env.emulator.repositories();
    let find = |n: &str| {
        repos
            .iter()
            .find(|r| r.name == n)
            .unwrap_or_else(|| panic!("{n} not in CodeArtifact"))
    };
    assert_eq!(find("team-a").upstreams, ["shared"]);
    assert!(find("team-a").external_connections.is_empty());
    assert_eq!(find("shared").external_connections, ["public:pypi"]);
    assert!(find("private-packages").external_connections.is_empty());
    assert!(
        repos.iter().any(|r| r.name == "ci-cache"),
        "repositoryName overrides metadata.name"
    );

    let private = env.secret_data("private-pip").await;
    assert_eq!(
        private.keys().map(String::as_str).collect::<Vec<_>>(),
        ["endpoint", "expiresAt", "pip.conf", "token"]
    );
    let ci = env.repos().get("ci").await.unwrap().status.unwrap();
    assert_eq!(ci.token_lifetime.as_deref(), Some("15m"));
    let expires = secret_expiry(&env, "ci-pypi").await;
    let lifetime = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!(
        (800..=900).contains(&lifetime),
        "the short-token example asks for 900 s, got {lifetime}"
    );

    // Delete policy: repository, then the (empty, operator-created) domain; the Secret is collected.
    env.delete("scratch").await;
    env.wait_gone("scratch", Duration::from_secs(60)).await;
    assert!(
        !env.emulator
            .repositories()
            .iter()
            .any(|r| r.name == "scratch")
    );
    assert!(
        !env.emulator
            .domains()
            .iter()
            .any(|d| d.name == "acme-scratch")
    );
    let secrets = env.secrets();
    testenv::wait_gone(&secrets, "scratch-pypi", Duration::from_secs(120))
        .await
        .expect("the Secret is garbage-collected with its PypiRepository");

    // Retain (the default): CodeArtifact is untouched.
    env.delete("private-packages").await;
    env.wait_gone("private-packages", Duration::from_secs(60))
        .await;
    assert!(
        env.emulator
            .repositories()
            .iter()
            .any(|r| r.name == "private-packages")
    );
    // Without a finalizer (Retain) the Event follows the deletion, from the watch.
    let retained = testenv::wait_for(Duration::from_secs(20), || async {
        env.events()
            .await
            .iter()
            .any(|(_, reason, _)| reason == "Retained")
    })
    .await;
    let events = env.events().await;
    assert!(retained.is_ok(), "{events:?}");
    assert!(
        events
            .iter()
            .any(|(_, reason, _)| reason == "RepositoryDeleted"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(_, reason, _)| reason == "DomainDeleted"),
        "{events:?}"
    );

    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_repository_out_deletes_the_shared_domain() {
    let env = setup("last-out", Options::default()).await;
    let names: Vec<String> = (0..5).map(|i| format!("member-{i}")).collect();
    for n in &names {
        let manifest = format!(
            "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {n}\nspec:\n  domain:\n    name: shared-domain\n  deletionPolicy: Delete\n"
        );
        env.create(&manifest).await;
    }
    for n in &names {
        env.wait_ready(n).await;
    }
    assert_eq!(env.emulator.call_count("CreateDomain"), 1);
    let minted: Vec<String> = env
        .operator
        .logs()
        .lines()
        .filter(|l| l.contains("minted") || l.contains("GetAuthorizationToken"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        env.emulator.call_count("GetAuthorizationToken"),
        1,
        "one token serves the five: {minted:#?}"
    );

    for (i, n) in names.iter().enumerate() {
        env.delete(n).await;
        env.wait_gone(n, Duration::from_secs(60)).await;
        let left = env
            .emulator
            .repositories()
            .iter()
            .filter(|r| r.domain == "shared-domain")
            .count();
        assert_eq!(left, names.len() - i - 1, "{n}'s repository is deleted");
        let domain_exists = env
            .emulator
            .domains()
            .iter()
            .any(|d| d.name == "shared-domain");
        assert_eq!(
            domain_exists,
            left > 0,
            "the domain goes with the last repository, not before"
        );
    }
    let events = env.events().await;
    let kept = events.iter().filter(|(_, r, _)| r == "DomainKept").count();
    assert_eq!(kept, names.len() - 1, "{events:?}");
    assert!(
        events
            .iter()
            .any(|(_, r, note)| r == "DomainKept" && note.contains("still holds")),
        "{events:?}"
    );
    env.assert_no_token_leaks().await;
}

/// The expiry of the token in a Secret, from the operator's annotation.
async fn secret_expiry(env: &common::Env, name: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let secret = env.secrets().get(name).await.expect("Secret");
    chrono::DateTime::parse_from_rfc3339(
        &secret.annotations()["codeartifact-operator.dev/expires-at"],
    )
    .expect("RFC 3339 expiry")
}
