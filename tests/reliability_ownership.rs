//! Reliability: under a deletion storm (every PypiRepository deleted at once,
//! mixed policies, one SIGKILL in the middle) the operator deletes only what
//! carries its ownership marker and has deletionPolicy Delete. Resources made
//! behind its back, by another cluster, or by an earlier PypiRepository of
//! the same name survive, even though their finalizers ran.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_codeartifact::types::Tag;
use common::reliability::sdk;
use common::{ACCESS_KEY, Env, Options, setup};
use kube::api::{DeleteParams, ListParams};

fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
        .collect()
}

/// Domains and repositories created behind the operator's back, as a person
/// or another tool in the same account would.
async fn foreign_resources(env: &Env) {
    let aws = sdk(&env.emulator, ACCESS_KEY);
    let other_cluster = [
        ("codeartifact-operator.dev/cluster", "other"),
        ("codeartifact-operator.dev/owner", "ns/x"),
        ("codeartifact-operator.dev/uid", "u-other"),
    ];
    for (domain, domain_tags) in [
        ("byhand", vec![]),
        ("byhand-empty", vec![]),
        ("their-cluster", tags(&other_cluster[..1])),
    ] {
        aws.create_domain()
            .domain(domain)
            .set_tags(Some(domain_tags))
            .send()
            .await
            .expect("create domain");
    }
    aws.create_repository()
        .domain("byhand")
        .repository("byhand-kept")
        .send()
        .await
        .expect("create repository");
    let earlier = [
        ("codeartifact-operator.dev/cluster", "e2e"),
        (
            "codeartifact-operator.dev/owner",
            "old/same-cluster-old-uid",
        ),
        ("codeartifact-operator.dev/uid", "u-earlier"),
    ];
    for (repo, repo_tags) in [
        ("untagged", vec![]),
        ("other-cluster", tags(&other_cluster)),
        ("same-cluster-old-uid", tags(&earlier)),
    ] {
        aws.create_repository()
            .domain("ours")
            .repository(repo)
            .set_tags(Some(repo_tags))
            .send()
            .await
            .expect("create repository");
    }
}

fn repo(name: &str, domain: &str, policy: &str, repository: Option<&str>) -> String {
    let repository = repository
        .map(|r| format!("  repositoryName: {r}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: {domain}\n  deletionPolicy: {policy}\n{repository}"
    )
}

/// `(object, domain, policy, repository name if not the object's, survives)`.
fn objects() -> Vec<(
    String,
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
)> {
    let mut out = vec![
        // Adopted, never ours: kept although their policy is Delete.
        (
            "adopt-byhand".to_string(),
            "byhand",
            "Delete",
            Some("byhand-kept"),
            true,
        ),
        ("untagged".to_string(), "ours", "Delete", None, true),
        ("other-cluster".to_string(), "ours", "Delete", None, true),
        (
            "same-cluster-old-uid".to_string(),
            "ours",
            "Delete",
            None,
            true,
        ),
        // Ours, in domains that are not ours: the repositories go, the domains stay.
        ("in-byhand".to_string(), "byhand", "Delete", None, false),
        (
            "in-byhand-empty".to_string(),
            "byhand-empty",
            "Delete",
            None,
            false,
        ),
        (
            "in-their-cluster".to_string(),
            "their-cluster",
            "Delete",
            None,
            false,
        ),
        // Retain in a domain the operator creates: repository and domain stay.
        ("kept-alone".to_string(), "retained", "Retain", None, true),
    ];
    for i in 0..6 {
        out.push((format!("ours-delete-{i}"), "ours", "Delete", None, false));
        out.push((format!("ours-retain-{i}"), "ours", "Retain", None, true));
    }
    // A domain the operator creates and empties: it goes with its last repository.
    for i in 0..4 {
        out.push((format!("solo-{i}"), "emptied", "Delete", None, false));
    }
    out
}

/// Deletes every PypiRepository at once and SIGKILLs the operator 0.3 s
/// later; returns the seconds until all of them are gone.
async fn delete_everything_during_a_kill(env: &mut Env) -> f64 {
    let started = Instant::now();
    let api = env.repos();
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("delete all");
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.operator.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.operator.start_again();
    let gone = testenv::wait_for(Duration::from_secs(120), || async {
        api.list(&Default::default())
            .await
            .is_ok_and(|l| l.items.is_empty())
    })
    .await;
    let left = api.list(&Default::default()).await.map(|l| {
        l.items
            .into_iter()
            .map(|o| o.metadata.name)
            .collect::<Vec<_>>()
    });
    assert!(
        gone.is_ok(),
        "finalizers stuck: {left:?}\n{}",
        env.operator.logs()
    );
    started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_storm_removes_only_what_the_operator_owns_and_may_delete() {
    let mut env = setup("ownership", Options::default()).await;
    // The operator creates domain "ours" (with its marker) before anything else goes in.
    env.create(&repo("seed", "ours", "Retain", None)).await;
    env.wait_ready("seed").await;
    foreign_resources(&env).await;
    let objects = objects();
    for (name, domain, policy, repository, _) in &objects {
        env.create(&repo(name, domain, policy, *repository)).await;
    }
    for (name, ..) in &objects {
        env.wait_ready(name).await;
    }
    let before: BTreeMap<String, BTreeMap<String, String>> = env
        .emulator
        .repositories()
        .into_iter()
        .map(|r| (r.name, r.tags))
        .collect();

    let storm = delete_everything_during_a_kill(&mut env).await;

    let (kept, removed) = check_survivors(&env, &objects, &before);
    let events = env.events().await;
    for repository in [
        "byhand-kept",
        "untagged",
        "other-cluster",
        "same-cluster-old-uid",
    ] {
        let said = events
            .iter()
            .any(|(_, reason, note)| reason == "RepositoryKept" && note.contains(repository));
        assert!(said, "an Event says {repository} was kept: {events:?}");
    }
    let tokens = env.assert_no_token_leaks().await;
    println!(
        "SUMMARY ownership: {} PypiRepositories deleted at once (one SIGKILL during it), all gone in {storm:.1} s; {removed} owned Delete repositories and 1 emptied own domain removed; kept: {kept} repositories (4 adopted without our marker, {} Retain) and 5 domains (2 made by hand, 1 of another cluster, 2 of ours still in use); 0 of {tokens} tokens leaked",
        objects.len() + 1,
        objects.iter().filter(|o| o.2 == "Retain").count() + 1,
    );
}

/// Compares CodeArtifact with the expectation; returns (repositories kept, removed).
fn check_survivors(
    env: &Env,
    objects: &[(String, &str, &str, Option<&str>, bool)],
    before: &BTreeMap<String, BTreeMap<String, String>>,
) -> (usize, usize) {
    let mut want: BTreeSet<(String, String)> = objects
        .iter()
        .filter(|o| o.4)
        .map(|(n, d, _, r, _)| (d.to_string(), r.unwrap_or(n).to_string()))
        .collect();
    want.insert(("ours".into(), "seed".into()));
    let found = env.emulator_repositories();
    assert_eq!(found, want, "repositories after the storm");
    let domains: BTreeSet<String> = env.emulator.domains().into_iter().map(|d| d.name).collect();
    let want_domains: BTreeSet<String> = [
        "byhand",
        "byhand-empty",
        "their-cluster",
        "ours",
        "retained",
    ]
    .map(String::from)
    .into();
    assert_eq!(
        domains, want_domains,
        "only the emptied domain the operator created is gone"
    );
    // Adoption never put this operator's marker on what it did not create.
    for r in env.emulator.repositories() {
        if let Some(old) = before.get(&r.name) {
            for key in [
                "codeartifact-operator.dev/cluster",
                "codeartifact-operator.dev/uid",
            ] {
                assert_eq!(
                    r.tags.get(key),
                    old.get(key),
                    "{} kept its {key} tag",
                    r.name
                );
            }
        }
    }
    (found.len(), objects.iter().filter(|o| !o.4).count())
}
