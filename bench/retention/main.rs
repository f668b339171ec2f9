//! `make bench`, retention part (issue 16 point 5): the AWS calls and the
//! time of one retention run over 1,000 package versions in 100 packages,
//! on the real control plane with the operator binary and the in-process
//! emulator (populated through its library: no twine). One PypiRepository,
//! rule "keep the 3 newest and anything younger than 7 days" over versions
//! published 0 to 27 days ago: a dry run, then the run that disposes.
//! Writes bench/results/<date>-retention.md (target/bench/ for a debug
//! build or other sizes, so it cannot pass for the reference figures).
//!
//! Knobs: BENCH_RETENTION_PACKAGES (100), BENCH_RETENTION_VERSIONS (10 per package).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use codeartifact_emulator::{Config as EmulatorConfig, Emulator, PackageAt};
use kube::api::{Api, Patch, PatchParams, PostParams};
use testenv::{ControlPlane, Launch, OperatorProcess, TempNamespace};

use codeartifact_operator::crd::{PypiRepository, RetentionStatus};

const DAY: f64 = 86_400.0;

/// One measured run.
struct Run {
    label: &'static str,
    seconds: f64,
    calls: BTreeMap<String, u64>,
    status: RetentionStatus,
}

fn env_or(key: &str, default: usize) -> Result<usize> {
    match std::env::var(key) {
        Ok(v) => v.trim().parse().with_context(|| format!("{key}={v:?}")),
        Err(_) => Ok(default),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let packages = env_or("BENCH_RETENTION_PACKAGES", 100)?;
    let per_package = env_or("BENCH_RETENTION_VERSIONS", 10)?;
    let cp = tokio::task::spawn_blocking(ControlPlane::start).await??;
    cp.install_crds(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crds"))?;
    let emulator = Emulator::start(EmulatorConfig::for_tests()).await?;
    let scratch = tempfile::tempdir()?;
    let mut launch = Launch::new(
        Path::new(env!("CARGO_BIN_EXE_codeartifact-operator")),
        cp.kubeconfig_path(),
        &emulator,
        scratch.path(),
    );
    launch.args = vec!["--tenancy=open".into(), "--cluster-name=bench".into()];
    let mut operator = OperatorProcess::start(launch)?;
    operator.wait_ready(Duration::from_secs(120)).await?;
    let ns = TempNamespace::create(&cp, "retention-bench").await?;
    let api: Api<PypiRepository> = Api::namespaced(cp.client().await, ns.name());
    let obj: PypiRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "codeartifact-operator.dev/v1alpha1", "kind": "PypiRepository",
        "metadata": {"name": "builds"},
        "spec": {"domain": {"name": "bench"}, "externalConnection": false},
    }))?;
    api.create(&PostParams::default(), &obj).await?;
    wait(&api, |o| {
        o.status
            .as_ref()
            .is_some_and(|s| s.repository_arn.is_some())
    })
    .await?;
    populate(&emulator, packages, per_package)?;

    let mut runs = Vec::new();
    for (label, dry_run) in [("dry run", true), ("dispose", false)] {
        runs.push(measure(&api, &emulator, label, dry_run).await?);
    }
    let report = report(packages, per_package, &runs);
    println!("{report}");
    let path = write(&report, packages == 100 && per_package == 10)?;
    println!("written to {}", path.display());
    drop(operator);
    ns.delete().await.ok();
    Ok(())
}

/// `packages` packages of `per_package` versions, version j of each
/// published 3 × (per_package - 1 - j) days ago (the newest today).
fn populate(emulator: &Emulator, packages: usize, per_package: usize) -> Result<()> {
    let now = Utc::now().timestamp() as f64;
    for p in 0..packages {
        let versions: Vec<(String, f64)> = (0..per_package)
            .map(|j| {
                let age = 3.0 * (per_package - 1 - j) as f64 * DAY + 60.0;
                (format!("1.0.{j}"), now - age)
            })
            .collect();
        let at = PackageAt {
            domain: "bench".into(),
            repository: "builds".into(),
            package: format!("pkg-{p:03}"),
        };
        emulator.seed_versions(&at, &versions, 2048)?;
    }
    Ok(())
}

/// Turns retention on (or changes it) and times the run it starts.
async fn measure(
    api: &Api<PypiRepository>,
    emulator: &Emulator,
    label: &'static str,
    dry_run: bool,
) -> Result<Run> {
    let spec = serde_json::json!({"spec": {"retention": {"dryRun": dry_run, "rules": [
        {"packages": "*", "keepNewest": 3, "keepYoungerThan": "168h"}]}}});
    emulator.reset_calls();
    let start = Instant::now();
    api.patch("builds", &PatchParams::default(), &Patch::Merge(&spec))
        .await?;
    let o = wait(api, |o| {
        o.status
            .as_ref()
            .and_then(|s| s.retention.as_ref())
            .is_some_and(|r| r.observed_generation == o.metadata.generation)
    })
    .await?;
    Ok(Run {
        label,
        seconds: start.elapsed().as_secs_f64(),
        calls: emulator.calls(),
        status: o
            .status
            .and_then(|s| s.retention)
            .map(|r| *r)
            .unwrap_or_default(),
    })
}

async fn wait(
    api: &Api<PypiRepository>,
    check: impl Fn(&PypiRepository) -> bool,
) -> Result<PypiRepository> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if let Some(o) = api.get_opt("builds").await?.filter(|o| check(o)) {
            return Ok(o);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("builds did not reach the expected state in 600 s")
}

fn report(packages: usize, per_package: usize, runs: &[Run]) -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut s = format!(
        "# Retention run cost ({})\n\n{packages} packages × {per_package} versions = {} versions, \
         version j published 3 × ({per_package} - 1 - j) days ago; rule `*`: keepNewest 3, \
         keepYoungerThan 168h. Operator build: {profile}. Time: from the spec patch to \
         status.retention for that generation (the run is paced: {} packages per reconcile, \
         {} s between pages).\n\n",
        Utc::now().format("%Y-%m-%d"),
        packages * per_package,
        codeartifact_operator::retention::schedule::PACKAGES_PER_STEP,
        codeartifact_operator::retention::schedule::STEP_PAUSE.as_secs(),
    );
    s.push_str("| Run | Time (s) | Removed / would remove | Calls in all | Calls by operation |\n|---|---|---|---|---|\n");
    for r in runs {
        let total: u64 = r.calls.values().sum();
        let by_op: Vec<String> = r.calls.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let chosen = r.status.removed + r.status.would_remove;
        let _ = writeln!(
            s,
            "| {} | {:.1} | {chosen} | {total} | {} |",
            r.label,
            r.seconds,
            by_op.join(", ")
        );
    }
    s
}

/// Reference figures go to bench/results/, anything else to target/bench/.
fn write(report: &str, reference_size: bool) -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = if reference_size && !cfg!(debug_assertions) {
        root.join("bench/results")
    } else {
        root.join("target/bench")
    };
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}-retention.md", Utc::now().format("%Y-%m-%d")));
    std::fs::write(&path, report)?;
    Ok(path)
}
