use super::*;
use crate::access::Grant;
use crate::controller::ownership::Owner;
use crate::controller::tenancy::Admission;

fn desired_with(spec: serde_json::Value, grant: Option<Grant>) -> Desired {
    let obj: PypiRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
        "metadata": {"name": "web", "namespace": "team", "uid": "u1"}, "spec": spec,
    }))
    .unwrap();
    let admission = grant.map(|grant| Admission {
        grant,
        domain_owner: None,
        declared_by: "acme".into(),
        role: None,
        token_scope: crate::crd::TokenScope::Domain,
    });
    super::super::desired::desired(&obj, "us-west-2", "c1", admission.as_ref()).unwrap()
}

fn other() -> Owner {
    Owner {
        cluster: "c1".into(),
        namespace: "demo".into(),
        name: "python-packages".into(),
        uid: "u-demo".into(),
    }
}

const STRICT: Grant = Grant {
    create: true,
    adopt: true,
    delete: true,
};

#[test]
fn strict_tenancy_never_takes_another_objects_repository() {
    let d = desired_with(
        serde_json::json!({"domain": {"name": "acme"}, "adopt": true}),
        Some(STRICT),
    );
    let e = hold(
        &d,
        &Claim::Elsewhere("PypiRepository demo/python-packages in this cluster".into()),
    )
    .unwrap_err();
    assert!(matches!(e, Error::OwnedElsewhere { .. }));
    assert!(e.to_string().contains("demo/python-packages"), "{e}");
    let _ = other();
}

#[test]
fn strict_adoption_needs_the_opt_in_and_the_grant() {
    let plain = desired_with(
        serde_json::json!({"domain": {"name": "acme"}}),
        Some(STRICT),
    );
    let e = hold(&plain, &Claim::Unmarked).unwrap_err();
    assert!(e.to_string().contains("spec.adopt: true"), "{e}");
    let opted = desired_with(
        serde_json::json!({"domain": {"name": "acme"}, "adopt": true}),
        Some(STRICT),
    );
    assert_eq!(hold(&opted, &Claim::Unmarked).unwrap(), Hold::Stated);
    let no_grant = desired_with(
        serde_json::json!({"domain": {"name": "acme"}, "adopt": true}),
        Some(Grant {
            adopt: false,
            ..STRICT
        }),
    );
    let e = hold(&no_grant, &Claim::Unmarked).unwrap_err();
    assert!(e.to_string().contains("platform team"), "{e}");
}

#[test]
fn own_repositories_are_held_fully_and_adopted_ones_by_what_is_stated() {
    let d = desired_with(
        serde_json::json!({"domain": {"name": "acme"}}),
        Some(STRICT),
    );
    assert_eq!(
        hold(&d, &Claim::Ours { adopted: false }).unwrap(),
        Hold::Full { marker: true }
    );
    assert_eq!(
        hold(&d, &Claim::Ours { adopted: true }).unwrap(),
        Hold::Stated
    );
}

#[test]
fn open_tenancy_keeps_the_single_team_behaviour() {
    let d = desired_with(serde_json::json!({"domain": {"name": "acme"}}), None);
    assert_eq!(
        hold(&d, &Claim::Unmarked).unwrap(),
        Hold::Full { marker: false }
    );
    assert_eq!(
        hold(&d, &Claim::Elsewhere("cluster c2".into())).unwrap(),
        Hold::Full { marker: false }
    );
    assert_eq!(
        hold(&d, &Claim::Ours { adopted: false }).unwrap(),
        Hold::Full { marker: true }
    );
}
