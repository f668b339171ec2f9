//! The schema refuses index names, renderings and roles the tools cannot
//! use, naming the field, and the README's CI runner pod is a valid Pod.

use codeartifact_operator::crd::PypiRepository;
use kube::api::PostParams;

use super::common::readme::example;
use super::repo;
use crate::common::{Env, Options, run, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_refuses_index_names_the_tools_cannot_round_trip_and_validates_the_ci_pod_example() {
    let env = setup("clients-schema", Options::default()).await;
    for (i, bad) in [
        "team_pkgs",
        "Team",
        "team2",
        "team.pkgs",
        "-team",
        "team--pkgs",
        "pypi",
    ]
    .iter()
    .enumerate()
    {
        let manifest = repo(&format!("bad-{i}"), &format!("    indexName: \"{bad}\"\n"));
        let mut obj: PypiRepository = serde_saphyr::from_str(&manifest).expect("manifest parses");
        obj.metadata.namespace = Some(env.ns.name().to_string());
        let err = env
            .repos()
            .create(&PostParams::default(), &obj)
            .await
            .expect_err(&format!("indexName {bad:?} must be refused"));
        assert!(
            err.to_string().contains("spec.secret.indexName"),
            "{bad}: {err}"
        );
    }
    let manifest = repo("bad-rendering", "    renderings: [npmrc]\n");
    let err = run_err(&env, &manifest);
    assert!(err.contains("spec.secret.renderings"), "{err}");
    let manifest = repo("bad-role", "    indexRole: Secondary\n");
    let err = run_err(&env, &manifest);
    assert!(err.contains("spec.secret.indexRole"), "{err}");

    env.create(&repo(
        "good",
        "    indexName: team-pkgs\n    indexRole: Extra\n",
    ))
    .await;
    env.wait_ready("good").await;

    // The README's CI runner pod is a valid Pod for the apiserver.
    let pod = env.tmp.path().join("ci-pod.yaml");
    std::fs::write(&pod, example("ci-pod")).expect("write pod");
    run(env
        .cp
        .kubectl(["create", "--dry-run=server", "-n", env.ns.name(), "-f"])
        .arg(&pod));
}

/// `kubectl create` of a manifest that must fail; returns its error output.
fn run_err(env: &Env, manifest: &str) -> String {
    let file = env.tmp.path().join("bad.yaml");
    std::fs::write(&file, manifest).expect("write manifest");
    let out = env
        .cp
        .kubectl(["create", "-n", env.ns.name(), "-f"])
        .arg(&file)
        .output()
        .expect("run kubectl");
    assert!(!out.status.success(), "{manifest} must be refused");
    String::from_utf8_lossy(&out.stderr).to_string()
}
