//! Reliability: hostile or mistaken input. Invalid PypiRepositories are
//! rejected by the apiserver with a message that names the field (the table
//! is tests/fixtures/reliability/bad-input.yaml); the mistakes the schema
//! cannot see end in Ready=False with a message that says what to fix.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Instant;

use codeartifact_operator::crd::PypiRepository;
use common::reliability::{
    OTHER_ACCESS_KEY, OTHER_ACCOUNT, is_ready, manifest_yaml as yaml, not_ready, sdk,
};
use common::{ACCESS_KEY, Env, Options, setup};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use testenv::{ControlPlane, TempNamespace};

const TABLE: &str = include_str!("fixtures/reliability/bad-input.yaml");

/// The table, with every `{{c*n}}` in keys and strings expanded.
fn table() -> Value {
    let raw: Value = serde_saphyr::from_str(TABLE).expect("bad-input.yaml parses");
    expand(raw)
}

fn expand(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(expand_str(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(expand).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (expand_str(&k), expand(v)))
                .collect(),
        ),
        other => other,
    }
}

fn expand_str(s: &str) -> String {
    let mut out = s.to_string();
    while let Some(start) = out.find("{{") {
        let end = start + out[start..].find("}}").expect("closing }}");
        let (c, n) = out[start + 2..end].split_once('*').expect("{{c*n}}");
        let n: usize = n.parse().expect("a count");
        out.replace_range(start..end + 2, &c.repeat(n));
    }
    out
}

/// A PypiRepository manifest for one table entry.
fn manifest(case: &Value) -> Value {
    let name = case.get("name").and_then(Value::as_str).unwrap_or("web");
    let mut m = json!({"apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository", "metadata": {"name": name}});
    if let Some(spec) = case.get("spec") {
        m["spec"] = spec.clone();
    }
    m
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} missing in {case}"))
}

fn dynamic_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::erase::<PypiRepository>(&()),
    )
}

/// The apiserver's answer to a dry-run create: `Ok` or the error text.
async fn try_create(api: &Api<DynamicObject>, obj: &Value) -> Result<(), String> {
    let obj: DynamicObject = serde_json::from_value(obj.clone()).expect("DynamicObject");
    let pp = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    api.create(&pp, &obj)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `kubectl create --dry-run=server --validate=strict`, as a user would run it.
fn kubectl_strict(cp: &ControlPlane, ns: &str, obj: &Value) -> Result<(), String> {
    let mut child = cp
        .kubectl([
            "create",
            "--dry-run=server",
            "--validate=strict",
            "-n",
            ns,
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(obj.to_string().as_bytes())
        .expect("write manifest");
    let out = child.wait_with_output().expect("kubectl output");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// Checks one rejection; returns a line for the failure list, if any.
fn judge(label: &str, result: Result<(), String>, expect: &str) -> Option<String> {
    match result {
        Ok(()) => Some(format!("ACCEPTED: {label}")),
        Err(msg) if !msg.contains(expect) => {
            Some(format!("message does not name {expect:?}: {label}: {msg}"))
        }
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_manifests_are_rejected_with_the_field_named() {
    let cp = ControlPlane::shared();
    common::reliability::install_crd_on(cp);
    let client = cp.client().await;
    let ns = TempNamespace::create(cp, "badinput")
        .await
        .expect("namespace");
    let api = dynamic_api(&client, ns.name());
    let table = table();
    let started = Instant::now();
    let mut failures = Vec::new();
    let creates = table["create"].as_array().expect("create cases");
    for case in creates {
        let obj = manifest(case);
        let res = if case.get("strict").and_then(Value::as_bool) == Some(true) {
            kubectl_strict(cp, ns.name(), &obj)
        } else {
            try_create(&api, &obj).await
        };
        failures.extend(judge(text(case, "case"), res, text(case, "expect")));
    }
    let updates = table["update"].as_array().expect("update cases");
    failures.extend(immutable_updates(&client, ns.name(), updates).await);
    let valid = table["valid"].as_array().expect("valid cases");
    for case in valid {
        if let Err(msg) = try_create(&api, &manifest(case)).await {
            failures.push(format!(
                "REJECTED valid edge case: {}: {msg}",
                text(case, "case")
            ));
        }
    }
    let total = creates.len() + updates.len();
    println!(
        "SUMMARY bad input: {total} invalid manifests ({} creates, {} updates of immutable or dependent fields), {} rejected with the field named; {} valid edge cases accepted; {:.1} s",
        creates.len(),
        updates.len(),
        total
            - failures
                .iter()
                .filter(|f| !f.starts_with("REJECTED"))
                .count(),
        valid.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(total >= 40, "the table should hold at least 40 cases");
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Creates the two valid base objects, then tries every update case with a
/// server-side dry run; returns the problems found.
async fn immutable_updates(client: &Client, ns: &str, cases: &[Value]) -> Vec<String> {
    let api = dynamic_api(client, ns);
    let full = json!({"domain": {"name": "dom", "owner": "111122223333", "encryptionKey": "alias/k"}, "repositoryName": "full-repo", "token": {"refreshBefore": "1h"}});
    let bare = json!({"domain": {"name": "dom"}});
    for (name, spec) in [("full", full), ("bare", bare)] {
        let obj: DynamicObject =
            serde_json::from_value(manifest(&json!({"name": name, "spec": spec})))
                .expect("DynamicObject");
        api.create(&PostParams::default(), &obj)
            .await
            .expect("create a valid base object");
    }
    let pp = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let mut problems = Vec::new();
    for case in cases {
        let patch = Patch::Merge(json!({"spec": case["patch"]}));
        let res = api
            .patch(text(case, "base"), &pp, &patch)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        problems.extend(judge(text(case, "case"), res, text(case, "expect")));
    }
    // Mutable fields stay mutable.
    let change = json!({"spec": {"description": "new", "deletionPolicy": "Delete", "upstreams": ["up-a"], "domain": {"tags": {"a": "b"}}}});
    let res = api.patch("full", &pp, &Patch::Merge(change)).await;
    problems.extend(
        res.err()
            .map(|e| format!("REJECTED a change to mutable fields: {e}")),
    );
    problems
}

/// A domain in another account whose policy does not let the operator in
/// (the emulator's deny rule stands in for the missing domain policy).
async fn other_account_without_permission(env: &Env) -> String {
    let other = sdk(&env.emulator, OTHER_ACCESS_KEY);
    other
        .create_domain()
        .domain("theirs")
        .send()
        .await
        .expect("create the other account's domain");
    env.emulator.deny(ACCESS_KEY, "DescribeDomain");
    let borrowed = format!("  domain:\n    name: theirs\n    owner: \"{OTHER_ACCOUNT}\"\n");
    env.create(&yaml("borrowed", &borrowed)).await;
    let denied = not_ready(env, "borrowed", "AccessDenied").await;
    assert!(
        denied.contains("codeartifact:DescribeDomain") && denied.contains("not authorized"),
        "{denied}"
    );
    denied
}

/// An upstream that does not exist (yet).
async fn missing_upstream(env: &Env) -> String {
    env.create(&yaml(
        "orphan",
        "  domain:\n    name: mine\n  upstreams: [parent]\n",
    ))
    .await;
    let missing = not_ready(env, "orphan", "UpstreamNotFound").await;
    assert!(
        missing.contains("spec.upstreams") && missing.contains("mine"),
        "{missing}"
    );
    missing
}

/// An upstream cycle, made by an update.
async fn upstream_cycle(env: &Env) -> String {
    env.create(&yaml("ring-a", "  domain:\n    name: mine\n"))
        .await;
    env.create(&yaml(
        "ring-b",
        "  domain:\n    name: mine\n  upstreams: [ring-a]\n",
    ))
    .await;
    env.wait_ready("ring-a").await;
    env.wait_ready("ring-b").await;
    env.patch_spec("ring-a", json!({"upstreams": ["ring-b"]}))
        .await;
    let cycle = not_ready(env, "ring-a", "InvalidSpec").await;
    assert!(
        cycle.contains("upstream") && cycle.contains("cycle"),
        "{cycle}"
    );
    cycle
}

/// A tag key with a control character, which only CodeArtifact checks.
async fn control_character_in_a_tag_key(env: &Env) -> String {
    env.create(&yaml(
        "tabbed",
        "  domain:\n    name: mine\n  tags:\n    \"cost\\tcenter\": x\n",
    ))
    .await;
    let tabbed = not_ready(env, "tabbed", "InvalidSpec").await;
    assert!(tabbed.contains("tags"), "{tabbed}");
    tabbed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_the_schema_cannot_see_end_not_ready_with_what_to_fix() {
    let env = setup("runtime-invalid", Options::default()).await;
    let started = Instant::now();
    env.create(&yaml("fine", "  domain:\n    name: mine\n"))
        .await;
    env.wait_ready("fine").await;
    let messages = [
        other_account_without_permission(&env).await,
        missing_upstream(&env).await,
        upstream_cycle(&env).await,
        control_character_in_a_tag_key(&env).await,
    ];

    // Bad objects do not hold up good ones, and fixing the cause heals them.
    assert!(is_ready(&env.repos().get("fine").await.expect("fine")));
    env.emulator.clear_denies();
    env.create(&yaml("parent", "  domain:\n    name: mine\n"))
        .await;
    env.patch_spec("ring-a", json!({"upstreams": null})).await;
    env.patch_spec(
        "tabbed",
        json!({"tags": {"cost\tcenter": null, "cost center": "x"}}),
    )
    .await;
    for name in ["borrowed", "orphan", "ring-a", "tabbed"] {
        env.wait_ready(name).await;
    }
    let tokens = env.assert_no_token_leaks().await;
    println!(
        "SUMMARY runtime-invalid: 4 mistakes (other account's domain without permission, missing upstream, upstream cycle, control character in a tag key) ended Ready=False with an actionable message, all 4 Ready after the fix, {:.1} s; 0 of {tokens} tokens leaked",
        started.elapsed().as_secs_f64()
    );
    eprintln!("messages:\n  {}", messages.join("\n  "));
}
