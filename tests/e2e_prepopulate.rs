//! spec.prepopulate on the real control plane with the emulator: ten
//! requirements with dependencies are fetched through the repository's own
//! endpoint (so the external connection keeps them), the requirements that
//! match nothing are reported in status with the reason, then the connection
//! is cut and the real pip, with only the repository as its index, installs
//! each of the ten with its dependencies and fails cleanly on a package never
//! listed and on a version never fetched.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use aws_sdk_codeartifact as ca;
use codeartifact_operator::crd::{PrepopulateFailureReason as Why, PrepopulatePhase};
use common::python::{assert_ok, make_dist, make_wheel_requiring, pip_install, project_secret};
use common::reliability::sdk;
use common::{ACCESS_KEY, Env, Options, condition, setup};

/// The public stand-in's packages: (name, version, Requires-Dist).
const PUBLIC: &[(&str, &str, &[&str])] = &[
    ("alpha", "1.0", &["dep-common>=1"]),
    ("alpha", "2.0", &["dep-common>=1"]),
    ("beta", "1.0", &[]),
    ("beta", "2.0", &[]),
    ("beta", "2.5", &["dep-common<2", "dep-beta"]),
    ("beta", "3.0", &[]),
    (
        "gamma",
        "1.0",
        &[
            "dep-gamma; python_version >= \"3.8\"",
            "dep-never; python_version < \"3\"",
        ],
    ),
    ("gamma", "1.1rc1", &[]),
    ("delta", "1.0", &["dep-extra; extra == \"fast\""]),
    ("epsilon", "1.2.0", &[]),
    ("epsilon", "1.3", &[]),
    ("epsilon", "2.0", &[]),
    ("zeta", "0.1", &[]),
    ("eta", "1.0", &["dep-chain"]),
    ("theta", "1.0", &[]),
    ("theta", "1.1", &[]),
    ("iota", "4.2", &["dep-common"]),
    ("kappa", "0.5", &[]),
    ("kappa", "0.9", &[]),
    ("dep-common", "1.0", &[]),
    ("dep-common", "1.5", &[]),
    ("dep-common", "2.0", &[]),
    ("dep-beta", "1.0", &[]),
    ("dep-gamma", "1.0", &[]),
    ("dep-never", "1.0", &[]),
    ("dep-extra", "1.0", &[]),
    ("dep-chain", "1.0", &["dep-chain-two>=2"]),
    ("dep-chain-two", "2.1", &[]),
];

/// The ten requirements, each installed on its own after the cut, with the
/// modules pip must then have installed (the package and its dependencies).
const WANTED: &[(&str, &[&str])] = &[
    ("alpha==1.0", &["alpha", "dep_common"]),
    ("beta>=2,<3", &["beta", "dep_common", "dep_beta"]),
    ("gamma", &["gamma", "dep_gamma"]),
    ("delta[fast]", &["delta", "dep_extra"]),
    ("epsilon~=1.2", &["epsilon"]),
    ("zeta", &["zeta"]),
    ("eta", &["eta", "dep_chain", "dep_chain_two"]),
    ("theta!=1.1", &["theta"]),
    ("iota", &["iota", "dep_common"]),
    ("kappa>=0.5", &["kappa"]),
];

/// What the repository must hold after the run: the chosen version of each
/// requirement and dependency (dep-common twice: >=1 gives 2.0, beta's <2 gives 1.5).
const CACHED: &[&str] = &[
    "alpha==1.0",
    "beta==2.5",
    "delta==1.0",
    "dep-beta==1.0",
    "dep-chain==1.0",
    "dep-chain-two==2.1",
    "dep-common==1.5",
    "dep-common==2.0",
    "dep-extra==1.0",
    "dep-gamma==1.0",
    "epsilon==1.3",
    "eta==1.0",
    "gamma==1.0",
    "iota==4.2",
    "kappa==0.9",
    "theta==1.0",
    "zeta==0.1",
];

fn manifest() -> String {
    let mut reqs: Vec<&str> = WANTED.iter().map(|(r, _)| *r).collect();
    reqs.extend(["alpha>=5", "no-such-package", "kappa >="]);
    let list: Vec<String> = reqs.iter().map(|r| format!("      - {r:?}\n")).collect();
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: airgap\nspec:\n  domain:\n    name: prepop\n  prepopulate:\n    requirements:\n{}",
        list.concat()
    )
}

fn publish_public_packages(dir: &Path) {
    for (name, version, requires) in PUBLIC {
        make_wheel_requiring(name, version, dir, requires);
    }
    // zeta also has an sdist: one requested file keeps both.
    make_dist("zeta", "0.1", dir, true);
}

async fn versions(c: &ca::Client, package: &str) -> Vec<String> {
    let req = c
        .list_package_versions()
        .domain("prepop")
        .repository("airgap");
    let res = req
        .format(ca::types::PackageFormat::Pypi)
        .package(package)
        .send()
        .await;
    res.map(|r| {
        r.versions()
            .iter()
            .map(|v| v.version().to_string())
            .collect()
    })
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepopulated_packages_install_with_their_dependencies_after_the_cut() {
    let env = setup("prepop", Options::default()).await;
    publish_public_packages(&env.tmp.path().join("public-pypi"));
    env.create(&manifest()).await;
    let obj = env
        .wait_until("airgap", Duration::from_secs(120), |o| {
            let st = o.status.as_ref().and_then(|s| s.prepopulate.as_ref());
            st.is_some_and(|p| p.phase == PrepopulatePhase::Failed)
        })
        .await;
    assert_status(&env, &obj).await;
    // The calls: one page per project and one file per cached version, nothing twice.
    let logs = env.operator.logs();
    let slice = logs
        .lines()
        .find(|l| l.contains("prepopulate slice"))
        .expect("a slice is logged");
    eprintln!("first prepopulate slice: {slice}");
    for (field, n) in [("items", 20), ("pages", 17), ("files", 17), ("metadata", 0)] {
        assert!(
            slice.contains(&format!("\"{field}\":{n}")),
            "{field} should be {n}: {slice}"
        );
    }

    // The cut: the connection goes, and with it every package never fetched.
    env.patch_spec("airgap", serde_json::json!({"externalConnection": false}))
        .await;
    let c = sdk(&env.emulator, ACCESS_KEY);
    testenv::wait_for(Duration::from_secs(60), || async {
        let r = c
            .describe_repository()
            .domain("prepop")
            .repository("airgap")
            .send()
            .await;
        r.is_ok_and(|r| {
            r.repository()
                .is_some_and(|r| r.external_connections().is_empty())
        })
    })
    .await
    .expect("the external connection is removed");
    assert_eq!(
        versions(&c, "alpha").await,
        ["1.0"],
        "only the chosen version is kept"
    );
    assert!(
        versions(&c, "dep-never").await.is_empty(),
        "its marker excludes Python 3.12"
    );

    let secret = env.tmp.path().join("secret");
    project_secret(&env.secret_data("airgap-pypi").await, &secret);
    for (requirement, modules) in WANTED {
        let out = pip_install(&secret, requirement);
        assert_ok(&format!("pip install {requirement} in the air gap"), &out);
        let site = secret.join(format!(
            "site-{}",
            requirement.replace(['=', '<', '>'], "_")
        ));
        for m in *modules {
            assert!(
                site.join(m).join("__init__.py").exists(),
                "{requirement}: {m} installed"
            );
        }
    }
    for never in ["requests-lite", "alpha==2.0", "dep-never"] {
        let out = pip_install(&secret, never);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{never} must not install");
        assert!(
            err.contains("No matching distribution found"),
            "{never}: {err}"
        );
    }
    assert!(env.assert_no_token_leaks().await > 0);
}

async fn assert_status(env: &Env, obj: &codeartifact_operator::crd::PypiRepository) {
    let st = obj.status.as_ref().unwrap().prepopulate.as_ref().unwrap();
    let cached: BTreeSet<&str> = st.cached.iter().map(String::as_str).collect();
    assert_eq!(
        cached,
        CACHED.iter().copied().collect(),
        "status.prepopulate.cached"
    );
    let failed: Vec<(&str, Why)> = st
        .failed
        .iter()
        .map(|f| (f.requirement.as_str(), f.reason))
        .collect();
    assert_eq!(
        failed,
        [
            ("kappa >=", Why::InvalidRequirement),
            ("alpha>=5", Why::NoVersionMatches),
            ("no-such-package", Why::NotFound),
        ],
        "{:#?}",
        st.failed
    );
    let (status, reason, message) = condition(obj, "Prepopulated").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "PrepopulateFailed")
    );
    assert!(message.contains("alpha>=5 (NoVersionMatches)"), "{message}");
    let (ready, _, _) = condition(obj, "Ready").unwrap();
    assert_eq!(
        ready, "True",
        "a failed requirement does not make the repository unready"
    );
    let events = env.events().await;
    assert!(
        events.iter().any(|(t, r, n)| t == "Warning"
            && r == "PrepopulateFailed"
            && n.contains("no-such-package")),
        "{events:#?}"
    );
}

/// Creates a PypiRepository with `spec` (YAML lines under `spec:`) and returns the apiserver's refusal.
async fn refused(env: &Env, spec: &str) -> String {
    let doc = format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: bad\nspec:\n  domain:\n    name: prepop\n{spec}"
    );
    let mut obj: codeartifact_operator::crd::PypiRepository = serde_saphyr::from_str(&doc).unwrap();
    obj.metadata.namespace = Some(env.ns.name().to_string());
    let res = env.repos().create(&Default::default(), &obj).await;
    res.expect_err("the apiserver refuses it").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_url_requirements_and_prepopulate_in_consume_mode() {
    let env = setup("prepop-schema", Options::default()).await;
    let url = "  prepopulate:\n    requirements: [\"pkg @ https://example.com/pkg.whl\"]\n";
    let e = refused(&env, url).await;
    assert!(e.contains("spec.prepopulate.requirements[0]"), "{e}");
    let e = refused(&env, "  prepopulate:\n    requirements: []\n").await;
    assert!(e.contains("spec.prepopulate.requirements"), "{e}");
    let old = "  prepopulate:\n    requirements: [a]\n    pythonVersion: \"2.7\"\n";
    let e = refused(&env, old).await;
    assert!(e.contains("spec.prepopulate.pythonVersion"), "{e}");
    let consume = "  mode: Consume\n  prepopulate:\n    requirements: [a]\n";
    let e = refused(&env, consume).await;
    assert!(e.contains("spec.prepopulate needs spec.mode Manage"), "{e}");
}
