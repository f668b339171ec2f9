//! End to end: drift made behind the operator's back is repaired on the next
//! resync; existing domains and repositories are adopted but never deleted.

mod common;

use std::time::Duration;

use aws_sdk_codeartifact as ca;
use codeartifact_emulator::Emulator;
use common::{Env, Options, setup};

/// An SDK client with the operator's own credentials, for changes behind its back.
fn sdk(emulator: &Emulator) -> ca::Client {
    testenv::OPERATOR_KEY.sdk(emulator)
}

async fn wait_repo(
    env: &Env,
    name: &str,
    what: &str,
    check: impl Fn(&codeartifact_emulator::RepositoryInfo) -> bool,
) {
    let ok = testenv::wait_for(Duration::from_secs(30), || async {
        env.emulator
            .repositories()
            .iter()
            .any(|r| r.name == name && check(r))
    })
    .await;
    assert!(
        ok.is_ok(),
        "{what}: {:?}\n{}",
        env.emulator.repositories(),
        env.operator.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_and_spec_changes_are_applied() {
    let env = setup(
        "drift",
        Options {
            operator_args: vec!["--resync-interval=2s".into()],
            ..Options::default()
        },
    )
    .await;
    env.create("apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: drifty\nspec:\n  domain:\n    name: drift\n  description: ours\n  tags:\n    team: a\n    cost: x\n").await;
    let obj = env.wait_ready("drifty").await;
    let arn = obj.status.unwrap().repository_arn.unwrap();

    let aws = sdk(&env.emulator);
    aws.disassociate_external_connection()
        .domain("drift")
        .repository("drifty")
        .external_connection("public:pypi")
        .send()
        .await
        .unwrap();
    aws.update_repository()
        .domain("drift")
        .repository("drifty")
        .description("changed by hand")
        .send()
        .await
        .unwrap();
    aws.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();

    wait_repo(&env, "drifty", "drift repaired", |r| {
        r.external_connections == ["public:pypi"]
            && r.description.as_deref() == Some("ours")
            && r.tags.get("team").map(String::as_str) == Some("a")
    })
    .await;
    let marker = env
        .emulator
        .repositories()
        .into_iter()
        .find(|r| r.name == "drifty")
        .unwrap()
        .tags;
    assert_eq!(
        marker
            .get("codeartifact-operator.dev/cluster")
            .map(String::as_str),
        Some("e2e"),
        "ownership marker kept: {marker:?}"
    );

    // Spec changes: connection off, one tag removed, description changed.
    env.patch_spec("drifty", serde_json::json!({"externalConnection": false, "description": "new", "tags": {"team": "a", "cost": null}})).await;
    wait_repo(&env, "drifty", "spec change applied", |r| {
        r.external_connections.is_empty()
            && r.description.as_deref() == Some("new")
            && !r.tags.contains_key("cost")
            && r.tags.contains_key("team")
    })
    .await;
    env.wait_ready("drifty").await;
    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_resources_are_adopted_and_never_deleted() {
    let env = setup("adopt", Options::default()).await;
    let aws = sdk(&env.emulator);
    aws.create_domain().domain("legacy").send().await.unwrap();
    aws.create_repository()
        .domain("legacy")
        .repository("old-repo")
        .description("theirs")
        .send()
        .await
        .unwrap();

    env.create("apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: old-repo\nspec:\n  domain:\n    name: legacy\n  description: managed now\n  deletionPolicy: Delete\n").await;
    env.wait_ready("old-repo").await;
    assert_eq!(
        env.emulator.call_count("CreateDomain"),
        1,
        "the existing domain is used, not recreated"
    );
    assert!(
        env.events()
            .await
            .iter()
            .any(|(_, r, _)| r == "RepositoryAdopted"),
        "{:?}",
        env.events().await
    );
    wait_repo(&env, "old-repo", "adopted settings managed", |r| {
        r.description.as_deref() == Some("managed now") && r.external_connections == ["public:pypi"]
    })
    .await;
    let tags = env
        .emulator
        .repositories()
        .into_iter()
        .find(|r| r.name == "old-repo")
        .unwrap()
        .tags;
    assert!(
        !tags.contains_key("codeartifact-operator.dev/uid"),
        "an adopted repository gets no ownership marker: {tags:?}"
    );

    // Even with deletionPolicy Delete, what the operator did not create stays.
    env.delete("old-repo").await;
    env.wait_gone("old-repo", Duration::from_secs(60)).await;
    assert!(
        env.emulator
            .repositories()
            .iter()
            .any(|r| r.name == "old-repo")
    );
    assert!(env.emulator.domains().iter().any(|d| d.name == "legacy"));
    assert!(
        env.events()
            .await
            .iter()
            .any(|(_, r, _)| r == "RepositoryKept"),
        "{:?}",
        env.events().await
    );
    env.assert_no_token_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_edited_secret_is_restored_at_once() {
    // A long resync: only the watch on owned Secrets can bring them back this fast.
    let opts = Options {
        operator_args: vec!["--resync-interval=10m".into()],
        ..Options::default()
    };
    let env = setup("secret-watch", opts).await;
    env.create("apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: watched\nspec:\n  domain:\n    name: watch\n").await;
    env.wait_ready("watched").await;
    let original = env.secret_data("watched-pypi").await;

    env.secrets()
        .delete("watched-pypi", &Default::default())
        .await
        .expect("delete the Secret");
    let secrets = env.secrets();
    testenv::wait_for(Duration::from_secs(15), || async {
        matches!(secrets.get_opt("watched-pypi").await, Ok(Some(_)))
    })
    .await
    .expect("the Secret is recreated");
    assert_eq!(
        env.secret_data("watched-pypi").await["token"],
        original["token"],
        "the fresh token is reused, not re-minted"
    );
    assert_eq!(env.emulator.call_count("GetAuthorizationToken"), 1);

    let patch = serde_json::json!({"stringData": {"pip.conf": "tampered"}});
    env.secrets()
        .patch(
            "watched-pypi",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("edit");
    testenv::wait_for(Duration::from_secs(15), || async {
        secrets.get("watched-pypi").await.is_ok_and(|s| {
            s.data
                .unwrap_or_default()
                .get("pip.conf")
                .map(|v| v.0.as_slice())
                == original.get("pip.conf").map(|v| v.as_bytes())
        })
    })
    .await
    .expect("an edited Secret is rewritten");
    env.assert_no_token_leaks().await;
}
