//! `make bench` (issues 7 and 17): 1,000 and then 5,000 PypiRepositories (100
//! and 500 namespaces of 10) over 10 domains on the real control plane,
//! against the in-process CodeArtifact emulator and the release operator
//! binary in strict tenancy (CodeArtifactDomains admit the namespaces).
//! Measures creation, an idle window, one token refresh cycle and the drain
//! for each size; prints the summary tables and writes
//! bench/results/<date>-<objects>.md.
//!
//! Not a test: `cargo test` does not run bench targets. Optional knobs for
//! quick runs: BENCH_NAMESPACES (`100,500`: one run per entry, each on a
//! fresh control plane; `500` alone for 5,000 objects), BENCH_PER_NAMESPACE (10),
//! BENCH_DOMAINS (10), BENCH_IDLE_SECONDS (300), BENCH_CLOCK_SPEED (derived
//! from the idle window), BENCH_OPERATOR_LOG (the operator's RUST_LOG, e.g.
//! `debug` to profile), BENCH_MALLOC_ARENA_MAX (2, as the image sets it;
//! empty for glibc's default), BENCH_OPERATOR_BIN (another operator build to
//! measure, such as a candidate fix), BENCH_IAM=1 (issue 13's costs: every
//! second domain goes through a role and hands out repository-scoped
//! read-only tokens; its report is `<date>-<objects>-iam.md`), BENCH_MANIFEST
//! (a file `kubectl apply`'d after the CRDs, before the workload: an
//! experiment's setup, such as bench/experiments/admission-finalizer.yaml). A run with other sizes or a shorter idle window
//! writes target/bench/<date>.md instead, so it cannot pass for the
//! committed figures.

mod apiserver;
mod audit;
mod cluster;
mod machine;
mod phase;
mod phases;
mod procfs;
mod report;
mod tables;
mod workload;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use codeartifact_emulator::{Config as EmulatorConfig, Emulator};
use testenv::{ControlPlane, Launch, OperatorProcess};

use crate::audit::AuditLog;
use crate::phase::Probe;
use crate::phases::World;
use crate::workload::{Fleet, Tracker};

/// The shortest token CodeArtifact issues, so the test clock needs the least speed-up.
const TOKEN_SECONDS: i64 = 900;
/// Time planned for creating everything before the idle window starts; the
/// clock speed is chosen so the first refresh falls after both.
const CREATE_BUDGET: Duration = Duration::from_secs(150);

/// The run's parameters.
pub struct Settings {
    pub namespaces: usize,
    pub per_namespace: usize,
    pub domains: usize,
    pub idle: Duration,
    pub token_seconds: i64,
    pub clock_speed: f64,
    pub rust_log: Option<String>,
    /// Another build to measure (say, a candidate fix) instead of this tree's.
    pub other_bin: Option<PathBuf>,
    /// IAM mode: half the domains use a role and repository-scoped tokens.
    pub iam: bool,
    /// The operator's MALLOC_ARENA_MAX (empty: unset, glibc's default).
    pub malloc_arena_max: String,
    /// Extra objects applied before the workload (an experiment's setup).
    pub manifest: Option<PathBuf>,
}

fn env_or<T: FromStr>(key: &str, default: T) -> Result<T> {
    match std::env::var(key) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{key}={v:?} is not a valid value")),
        Err(_) => Ok(default),
    }
}

impl Settings {
    /// One run's settings per entry of BENCH_NAMESPACES.
    fn all_from_env() -> Result<Vec<Self>> {
        let sizes = std::env::var("BENCH_NAMESPACES").unwrap_or_else(|_| "100,500".into());
        sizes
            .split(',')
            .map(|n| {
                let namespaces = n.trim().parse().map_err(|_| {
                    anyhow::anyhow!("BENCH_NAMESPACES={sizes:?} is not a list of numbers")
                })?;
                Ok(Self {
                    namespaces,
                    ..Self::from_env()?
                })
            })
            .collect()
    }

    fn from_env() -> Result<Self> {
        let idle = Duration::from_secs(env_or("BENCH_IDLE_SECONDS", 300)?);
        // A quarter of the lifetime before expiry: 0.75 × 900 emulated seconds
        // should last CREATE_BUDGET + idle real seconds.
        let derived = 0.75 * TOKEN_SECONDS as f64 / (CREATE_BUDGET + idle).as_secs_f64();
        Ok(Self {
            namespaces: 100,
            per_namespace: env_or("BENCH_PER_NAMESPACE", 10)?,
            domains: env_or("BENCH_DOMAINS", 10)?,
            idle,
            token_seconds: TOKEN_SECONDS,
            clock_speed: env_or("BENCH_CLOCK_SPEED", derived)?,
            rust_log: std::env::var("BENCH_OPERATOR_LOG")
                .ok()
                .filter(|s| !s.is_empty()),
            other_bin: std::env::var_os("BENCH_OPERATOR_BIN").map(PathBuf::from),
            iam: env_or("BENCH_IAM", 0u8)? == 1,
            malloc_arena_max: std::env::var("BENCH_MALLOC_ARENA_MAX")
                .unwrap_or_else(|_| "2".into()),
            manifest: std::env::var_os("BENCH_MANIFEST").map(PathBuf::from),
        })
    }

    /// How long a token lasts in real time under the emulator's clock.
    pub fn real_token_lifetime(&self) -> Duration {
        Duration::from_secs_f64(self.token_seconds as f64 / self.clock_speed)
    }

    /// The operator binary under test.
    pub fn operator_bin(&self) -> PathBuf {
        self.other_bin
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_codeartifact-operator")))
    }

    /// Whether this is a configuration the issues ask for (1,000 or 5,000
    /// objects), with this tree's build at default log level.
    fn is_reference(&self) -> bool {
        [100, 500].contains(&self.namespaces)
            && (self.per_namespace, self.domains, self.idle.as_secs()) == (10, 10, 300)
            && self.rust_log.is_none()
            && self.other_bin.is_none()
            && self.malloc_arena_max == "2"
            && self.manifest.is_none()
            // `cargo test --bench scale` builds a debug operator: not the figures.
            && !cfg!(debug_assertions)
    }
}

fn main() -> Result<()> {
    // up.sh turns the audit log on from the environment. Edition 2024 makes
    // set_var unsafe and this crate forbids unsafe code, so the benchmark
    // runs itself again with the variable set instead.
    if std::env::var("TESTENV_AUDIT_LOG").as_deref() != Ok("1") {
        let status = Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env("TESTENV_AUDIT_LOG", "1")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let all = Settings::all_from_env()?;
    // Two workers like the operator's machine share: the emulator and the
    // watch must not take more than their part.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for settings in &all {
        runtime.block_on(run(settings))?;
    }
    Ok(())
}

async fn run(settings: &Settings) -> Result<()> {
    let machine = machine::Machine::describe();
    let date = Utc::now().format("%Y-%m-%d").to_string();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = root.join("target/bench");
    std::fs::create_dir_all(&scratch)?;
    eprintln!("bench: starting a control plane with an audit log");
    let cp = tokio::task::spawn_blocking(ControlPlane::start).await??;
    let client = cluster::client(&cp).await?;
    let fleet = Fleet::new(
        settings.namespaces,
        settings.per_namespace,
        settings.domains,
        settings.iam,
    );
    let emulator = prepare(&cp, &client, &fleet, settings).await?;
    let log = scratch.join(format!("operator-{date}-{}.log", fleet.items.len()));
    let mut operator = OperatorProcess::start(launch(settings, &cp, &emulator, &log))?;
    operator.wait_ready(Duration::from_secs(120)).await?;
    // The platform team's part, done and settled before anything is measured.
    cluster::create_domains(&client, &fleet.domains, &fleet.scoped).await?;
    cluster::wait_domains_ready(&client, &fleet.domains).await?;
    // The operator's footprint with its caches synced and nothing to manage.
    let pid = operator.pid().context("the operator runs")?;
    let rss_start_kib = procfs::status_kib(&pid.to_string(), "VmRSS");
    let tracker = Tracker::spawn(client.clone());
    let audit = AuditLog::open(cp.dir().join("audit.log"))?;
    let mut probe = Probe::new(
        client.clone(),
        &emulator,
        &operator,
        audit,
        cluster::control_plane_pids(&cp)?,
    );
    let world = World {
        client: &client,
        fleet: &fleet,
        tracker: &tracker,
        emulator: &emulator,
        token_seconds: settings.token_seconds,
    };

    let steps = phases::all(
        &world,
        &mut probe,
        settings.idle,
        settings.real_token_lifetime(),
    )
    .await?;
    // Kept for profiling: every write with its time, user and resource.
    std::fs::copy(
        cp.dir().join("audit.log"),
        scratch.join(format!("audit-{date}-{}.log", fleet.items.len())),
    )?;
    let run = report::Run {
        settings,
        machine,
        steps,
        rss_start_kib,
        peak_rss_kib: probe.lifetime_peak_kib(),
        operator_cpu: probe.lifetime_cpu(),
        operator_log: log.strip_prefix(root).unwrap_or(&log).display().to_string(),
        tokens_per_cycle: fleet.tokens_per_cycle(),
        scoped_domains: fleet.scoped.len(),
    };
    write_report(root, &scratch, settings, &run, &date)
}

/// The operator under test with its default flags (strict tenancy, resync
/// 10m, backoff 2s..5m, all namespaces) apart from where it listens and the
/// cluster name in ownership tags.
fn launch(settings: &Settings, cp: &ControlPlane, emulator: &Emulator, log: &Path) -> Launch {
    let scratch = log.parent().unwrap_or(log);
    let mut launch = Launch::new(
        &settings.operator_bin(),
        cp.kubeconfig_path(),
        emulator,
        scratch,
    );
    // One log per day, named for the report that points to it.
    launch.log = log.to_path_buf();
    launch.args = vec![
        "--cluster-name=bench".to_string(),
        "--log-format=json".to_string(),
    ];
    launch.rust_log.clone_from(&settings.rust_log);
    // As the image sets it (Dockerfile); BENCH_MALLOC_ARENA_MAX= (empty)
    // measures glibc's default instead.
    if !settings.malloc_arena_max.is_empty() {
        launch
            .env
            .push(("MALLOC_ARENA_MAX".into(), settings.malloc_arena_max.clone()));
    }
    launch
}

/// The CRD, the namespaces (not measured) and the emulator on its test clock.
async fn prepare(
    cp: &ControlPlane,
    client: &kube::Client,
    fleet: &Fleet,
    settings: &Settings,
) -> Result<Emulator> {
    cp.install_crds(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crds"))?;
    cluster::create_namespaces(client, &fleet.namespaces).await?;
    if let Some(manifest) = &settings.manifest {
        apply_manifest(cp, manifest).await?;
    }
    let mut config = EmulatorConfig::for_tests();
    config.clock_speed = settings.clock_speed;
    let emulator = Emulator::start(config).await?;
    if settings.iam {
        emulator.add_role(cluster::bench_role())?;
    }
    Ok(emulator)
}

/// Applies an experiment's manifest, then gives admission policies in it the
/// few seconds kube-apiserver takes to start enforcing them.
async fn apply_manifest(cp: &ControlPlane, manifest: &Path) -> Result<()> {
    let status = cp.kubectl(["apply", "-f"]).arg(manifest).status()?;
    anyhow::ensure!(status.success(), "kubectl apply -f {}", manifest.display());
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

fn write_report(
    root: &Path,
    scratch: &Path,
    settings: &Settings,
    run: &report::Run,
    date: &str,
) -> Result<()> {
    let dir: PathBuf = if settings.is_reference() {
        root.join("bench/results")
    } else {
        scratch.to_path_buf()
    };
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!(
        "{date}-{}{}.md",
        settings.namespaces * settings.per_namespace,
        if settings.iam { "-iam" } else { "" }
    ));
    std::fs::write(&path, run.markdown(date))
        .with_context(|| format!("writing {}", path.display()))?;
    println!("\n{}", run.summary());
    println!("Report: {}", path.display());
    Ok(())
}
