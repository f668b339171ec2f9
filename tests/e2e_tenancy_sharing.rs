//! Multi-tenant clusters (issue 11), part two, in `--tenancy=strict`:
//! adoption only with the opt-in (unstated settings left alone across
//! resyncs), an existing domain used without being changed, five namespaces
//! consuming one repository, a tenant poisoning its own Secret without
//! reaching anyone else, and finalizers only where deletion has work to do.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use codeartifact_operator::crd::FINALIZER;
use common::reliability::{assert_no_leaks, sdk};
use common::tenancy::{Strict, setup_strict};
use common::{ACCESS_KEY, EXAMPLE_FILES, EXAMPLE_REPOSITORIES, example_documents};
use k8s_openapi::ByteString;
use kube::api::{Patch, PatchParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_needs_the_opt_in_and_leaves_unstated_settings_alone() {
    let s = setup_strict("tenancy-adopt", 0, "2s").await;
    let domain = format!("legacy-{}", std::process::id());
    seed_legacy_domain(&s, &domain).await;
    let cad = format!("use-{}", std::process::id());
    s.apply_domain(
        &cad,
        serde_json::json!({"domainName": domain, "mode": "Use", "access": [
            {"namespaces": [s.ns(0)], "repositories": ["legacy"], "adopt": true}
        ]}),
    )
    .await;
    let used = s.wait_domain_ready(&cad).await;
    assert_eq!(
        used.status.as_ref().unwrap().created_by_operator,
        Some(false)
    );
    assert_eq!(used.status.as_ref().unwrap().repository_count, Some(2));
    let domain_before = s.env.emulator.domains();

    adopted_only_after_the_opt_in(&s, &domain).await;
    unstated_settings_stay_across_resyncs(&s).await;
    // The domain in mode Use was never changed.
    assert_eq!(s.env.emulator.domains(), domain_before);
    assert_eq!(
        s.env.emulator.call_count("CreateDomain"),
        1,
        "only the test's own"
    );
    s.env.assert_no_token_leaks().await;
    s.delete_domain(&cad).await;
}

/// A domain the operator did not create: tagged, with `legacy` (a
/// description and the upstream `base`) that nobody declared.
async fn seed_legacy_domain(s: &Strict, domain: &str) {
    let aws = sdk(&s.env.emulator, ACCESS_KEY);
    aws.create_domain()
        .domain(domain)
        .tags(
            aws_sdk_codeartifact::types::Tag::builder()
                .key("cost-center")
                .value("platform")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    aws.create_repository()
        .domain(domain)
        .repository("base")
        .send()
        .await
        .unwrap();
    aws.create_repository()
        .domain(domain)
        .repository("legacy")
        .description("theirs")
        .upstreams(
            aws_sdk_codeartifact::types::UpstreamRepository::builder()
                .repository_name("base")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Refused as `AlreadyExists` (naming `spec.adopt`) without tagging
/// anything, then adopted once the object says `adopt: true`.
async fn adopted_only_after_the_opt_in(s: &Strict, domain: &str) {
    s.create(0, "legacy", serde_json::json!({"domain": {"name": domain}}))
        .await;
    let (refused, _) = s
        .wait_ready_is(0, "legacy", "False", Some("AlreadyExists"))
        .await;
    assert!(
        common::condition(&refused, "Ready")
            .unwrap()
            .2
            .contains("spec.adopt: true"),
        "{refused:?}"
    );
    assert_eq!(s.env.emulator.call_count("TagResource"), 0);
    s.env
        .patch_spec("legacy", serde_json::json!({"adopt": true}))
        .await;
    s.wait_ready_is(0, "legacy", "True", None).await;
    // No waiting: the Event goes out before the status that says Ready.
    let events = s.env.events().await;
    assert!(
        events.iter().any(|(_, r, _)| r == "RepositoryAdopted"),
        "{events:?}"
    );
}

/// Three resyncs (2 s each) later the unstated settings are as they were.
async fn unstated_settings_stay_across_resyncs(s: &Strict) {
    tokio::time::sleep(Duration::from_secs(7)).await;
    let legacy = s
        .env
        .emulator
        .repositories()
        .into_iter()
        .find(|r| r.name == "legacy")
        .unwrap();
    assert_eq!(legacy.description.as_deref(), Some("theirs"));
    assert_eq!(legacy.upstreams, ["base"]);
    assert!(legacy.external_connections.is_empty());
    assert_eq!(
        legacy
            .tags
            .get("codeartifact-operator.dev/adopted")
            .map(String::as_str),
        Some("true")
    );
    for op in [
        "UpdateRepository",
        "AssociateExternalConnection",
        "DisassociateExternalConnection",
        "DeleteRepository",
    ] {
        assert_eq!(s.env.emulator.call_count(op), 0, "{op}");
    }
    assert!(
        s.env.emulator.call_count("DescribeRepository") >= 3,
        "it did resync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_namespaces_consume_one_repository_and_a_poisoned_secret_stays_its_own() {
    // Namespace 0 manages "shared"; 1..=5 consume it.
    let s = setup_strict("tenancy-share", 5, "10m").await;
    let domain = format!("share-{}", std::process::id());
    let cad = domain.clone();
    let label = format!("reader-{}", std::process::id());
    s.apply_domain(
        &cad,
        serde_json::json!({"access": [
            {"namespaces": [s.ns(0)], "repositories": ["shared"], "create": true, "delete": true},
            {"namespaceSelector": {"matchLabels": {label.clone(): "yes"}}, "repositories": ["shared"]},
        ]}),
    )
    .await;
    s.wait_domain_ready(&cad).await;
    the_owner_creates_shared_without_a_finalizer(&s, &domain).await;
    five_consumers_read_the_one_repository(&s, &domain, &label).await;
    a_poisoned_secret_stays_its_own(&s).await;
    deleting_consumers_never_touches_aws(&s).await;
    the_finalizer_follows_the_deletion_policy(&s).await;

    let namespaces: Vec<String> = (0..=5).map(|i| s.ns(i)).collect();
    let refs: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    let tokens = assert_no_leaks(&s.env.client, &s.env.emulator, &refs, &[&s.env.operator]).await;
    s.delete_domain(&cad).await;
    println!(
        "SUMMARY tenancy sharing: 5 consumers of one repository Ready with no finalizer; a tenant's not-URL-safe and well-formed tokens stayed in its own Secret and were replaced; 0 writes on consumer deletion; finalizer only with Delete; 0 of {tokens} tokens leaked"
    );
}

async fn the_owner_creates_shared_without_a_finalizer(s: &Strict, domain: &str) {
    s.create(0, "shared", serde_json::json!({"domain": {"name": domain}}))
        .await;
    let (owner, _) = s.wait_ready_is(0, "shared", "True", None).await;
    assert!(
        owner
            .metadata
            .finalizers
            .as_ref()
            .is_none_or(|f| !f.iter().any(|f| f == FINALIZER)),
        "Retain needs no finalizer"
    );
}

/// Namespaces 1..=5, labelled into the reader rule, each consume `shared`.
async fn five_consumers_read_the_one_repository(s: &Strict, domain: &str, label: &str) {
    for i in 1..=5 {
        s.label_namespace(i, label, Some("yes")).await;
        s.create(i, "pkgs", serde_json::json!({"domain": {"name": domain}, "repositoryName": "shared", "mode": "Consume"})).await;
    }
    let mut endpoints = Vec::new();
    for i in 1..=5 {
        let (o, _) = s.wait_ready_is(i, "pkgs", "True", None).await;
        assert!(
            o.metadata.finalizers.as_ref().is_none_or(Vec::is_empty),
            "a consumer has no finalizer"
        );
        endpoints.push(o.status.unwrap().repository_endpoint.unwrap());
        assert!(s.secret_token(i, "pkgs-pypi").await.is_some());
    }
    endpoints.dedup();
    assert_eq!(endpoints.len(), 1, "all read the one repository");
    assert_eq!(s.env.emulator.repositories().len(), 1);
}

/// Tenant 1 writes its own token and expiry into its Secret: the operator
/// replaces it, and nobody else's Secret changes.
async fn a_poisoned_secret_stays_its_own(s: &Strict) {
    let mut others: BTreeMap<usize, String> = BTreeMap::new();
    for i in 2..=5 {
        let sec = s.secrets(i).get("pkgs-pypi").await.unwrap();
        others.insert(i, sec.metadata.resource_version.unwrap());
    }
    for (token, note) in [
        ("evil\n[global]\nindex-url=http://evil/", "not URL-safe"),
        ("wellformedbutmine", "well-formed"),
    ] {
        let patch = serde_json::json!({
            "metadata": {"annotations": {
                "codeartifact-operator.dev/expires-at": "2099-01-01T00:00:00Z",
                "codeartifact-operator.dev/issued-at": "2020-01-01T00:00:00Z"}},
            "data": {"token": ByteString(token.as_bytes().to_vec())},
        });
        s.secrets(1)
            .patch("pkgs-pypi", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        // The operator rewrites tenant 1's Secret (the lifetime is implausible) ...
        let fixed = testenv::wait_for(Duration::from_secs(20), || async {
            s.secret_token(1, "pkgs-pypi")
                .await
                .is_some_and(|t| t != token)
        })
        .await;
        assert!(
            fixed.is_ok(),
            "{note} token was kept: {}",
            common::tenancy::tail(&s.env.operator.logs())
        );
    }
    // ... and nobody else's Secret changed.
    for i in 2..=5 {
        let sec = s.secrets(i).get("pkgs-pypi").await.unwrap();
        assert_eq!(
            sec.metadata.resource_version.as_ref(),
            Some(&others[&i]),
            "Secret of consumer {i} changed"
        );
        let pip = String::from_utf8(sec.data.unwrap()["pip.conf"].0.clone()).unwrap();
        assert!(
            !pip.contains("evil") && !pip.contains("wellformedbutmine"),
            "{pip}"
        );
    }
}

/// Consumers have no finalizer: they go at once, with no AWS write.
async fn deleting_consumers_never_touches_aws(s: &Strict) {
    let before = s.env.emulator.calls();
    for i in 1..=5 {
        s.repos(i)
            .delete("pkgs", &Default::default())
            .await
            .unwrap();
    }
    for i in 1..=5 {
        let api = s.repos(i);
        let gone = testenv::wait_for(Duration::from_secs(10), || async {
            matches!(api.get_opt("pkgs").await, Ok(None))
        })
        .await;
        assert!(gone.is_ok(), "consumer {i} not gone at once");
    }
    assert_eq!(
        common::tenancy::writes(&s.env.emulator.calls()),
        common::tenancy::writes(&before)
    );
    assert_eq!(s.env.emulator.repositories().len(), 1);
}

/// The finalizer comes with Delete and goes with Retain.
async fn the_finalizer_follows_the_deletion_policy(s: &Strict) {
    s.env
        .patch_spec("shared", serde_json::json!({"deletionPolicy": "Delete"}))
        .await;
    let has_finalizer = |want: bool| {
        let api = s.repos(0);
        async move {
            testenv::wait_for(Duration::from_secs(20), || async {
                api.get("shared").await.is_ok_and(|o| {
                    o.metadata
                        .finalizers
                        .unwrap_or_default()
                        .iter()
                        .any(|f| f == FINALIZER)
                        == want
                })
            })
            .await
            .is_ok()
        }
    };
    assert!(has_finalizer(true).await, "Delete adds the finalizer");
    s.env
        .patch_spec("shared", serde_json::json!({"deletionPolicy": "Retain"}))
        .await;
    assert!(has_finalizer(false).await, "Retain removes it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_work_in_strict_mode_with_the_platform_domains() {
    let s = setup_strict("tenancy-examples", 0, "10m").await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let platform = std::fs::read_to_string(root.join("deploy/platform/acme.yaml")).unwrap();
    let mut domains = Vec::new();
    for doc in platform.split("\n---\n") {
        let mut cad: codeartifact_operator::crd::CodeArtifactDomain =
            serde_saphyr::from_str(doc).expect("a CodeArtifactDomain");
        let name = cad.metadata.name.clone().unwrap();
        // The test's operator stops when it ends: leave nothing with a finalizer behind.
        cad.spec.deletion_policy = codeartifact_operator::crd::DeletionPolicy::Retain;
        s.apply_domain(&name, serde_json::to_value(&cad.spec).unwrap())
            .await;
        domains.push(name);
    }
    s.label_namespace(0, "pypi.acme.example/access", Some("manage"))
        .await;
    for file in EXAMPLE_FILES {
        for doc in example_documents(file) {
            s.env.create(&doc).await;
        }
    }
    for name in EXAMPLE_REPOSITORIES {
        s.wait_ready_is(0, name, "True", None).await;
    }
    // Upstreams and the external connection together, as AWS allows.
    s.create(0, "team-both", serde_json::json!({"domain": {"name": "acme"}, "upstreams": ["shared"], "externalConnection": true})).await;
    s.wait_ready_is(0, "team-both", "True", None).await;
    let both = s
        .env
        .emulator
        .repositories()
        .into_iter()
        .find(|r| r.name == "team-both")
        .unwrap();
    assert_eq!(
        (
            both.upstreams.as_slice(),
            both.external_connections.as_slice()
        ),
        (
            &["shared".to_string()][..],
            &["public:pypi".to_string()][..]
        )
    );
    for name in &domains {
        s.delete_domain(name).await;
    }
}
