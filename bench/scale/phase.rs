//! Measuring one phase of the run: the counters before and after (emulator
//! calls, CPU of every process involved, operator metrics), the audit-log
//! writes made in between, and the operator's largest RSS meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use codeartifact_emulator::Emulator;
use kube::Client;
use testenv::{OperatorProcess, metric_value};

use crate::apiserver;
use crate::audit::{self, Actor, AuditLog, Write};
use crate::procfs::{self, Peaks, Sampler};

/// Process names in CPU tables, in display order.
pub const OPERATOR: &str = "operator";
pub const BENCH: &str = "bench + emulator";
/// Everything else running on the (shared) machine meanwhile.
pub const OTHERS: &str = "other processes";

/// The operator's own count of AssumeRole credential loads.
const ROLE_LOADS: &str = r#"codeartifact_operator_aws_calls_total{operation="AssumeRole"}"#;

/// What one phase cost.
#[derive(Clone, Debug)]
pub struct PhaseResult {
    pub name: &'static str,
    pub elapsed: Duration,
    /// Emulator requests by operation (retries count once per attempt).
    pub aws_calls: BTreeMap<String, u64>,
    /// Credential loads through AssumeRole as the operator counts them
    /// (its `aws_calls_total{operation="AssumeRole"}`): one per load,
    /// whatever the SDK retried underneath. Next to the emulator's
    /// per-attempt count it separates retries from extra loads.
    pub role_loads: u64,
    /// Every write request kube-apiserver received, by anyone.
    pub writes: Vec<Write>,
    /// CPU seconds by process.
    pub cpu: Vec<(String, f64)>,
    /// Reconciles the operator started, and how many failed.
    pub reconciles: u64,
    pub failures: u64,
    /// Largest VmRSS and number of open sockets of the operator seen.
    pub peaks: Peaks,
    /// VmRSS of the operator when the phase ended, KiB.
    pub rss_end_kib: u64,
    /// The machine's 1-minute load average as the phase ended: it is
    /// shared, and timings only compare at similar load.
    pub load: String,
    /// kube-apiserver's requests by verb and resource, and watch events
    /// sent by kind, from every client (see `apiserver`).
    pub apiserver: BTreeMap<String, u64>,
}

impl PhaseResult {
    pub fn aws_total(&self) -> u64 {
        self.aws_calls.values().sum()
    }

    pub fn aws(&self, operation: &str) -> u64 {
        self.aws_calls.get(operation).copied().unwrap_or(0)
    }

    /// The operator's writes by resource.
    pub fn operator_writes(&self) -> BTreeMap<String, u64> {
        audit::by_resource(&self.writes)
    }

    pub fn operator_write_total(&self) -> u64 {
        self.writes
            .iter()
            .filter(|w| w.actor == Actor::Operator)
            .count() as u64
    }

    pub fn cpu_of(&self, process: &str) -> f64 {
        self.cpu
            .iter()
            .find(|(p, _)| p == process)
            .map_or(0.0, |(_, s)| *s)
    }
}

/// Counters at the start of a phase.
pub struct Start {
    at: Instant,
    calls: BTreeMap<String, u64>,
    cpu: Vec<(String, f64)>,
    operator: OperatorCounters,
    apiserver: apiserver::Counters,
}

/// The operator's counters a phase reports, from one /metrics scrape.
#[derive(Clone, Copy, Default)]
struct OperatorCounters {
    reconciles: f64,
    failures: f64,
    /// Credential loads through AssumeRole.
    role_loads: f64,
}

impl OperatorCounters {
    /// Reads them now; zeros when /metrics does not answer.
    async fn scrape(operator: &OperatorProcess) -> Self {
        let Ok(text) = operator.try_metrics().await else {
            return Self::default();
        };
        Self {
            reconciles: metric_value(&text, "codeartifact_operator_reconciles_total"),
            failures: metric_value(&text, "codeartifact_operator_reconcile_failures_total"),
            role_loads: metric_value(&text, ROLE_LOADS),
        }
    }
}

/// Everything needed to measure phases.
pub struct Probe<'a> {
    client: Client,
    emulator: &'a Emulator,
    operator: &'a OperatorProcess,
    /// The operator's PID, for /proc.
    pid: String,
    audit: AuditLog,
    /// `(name, pid)` of every process whose CPU is reported.
    processes: Vec<(String, String)>,
    sampler: Sampler,
    ticks: f64,
}

impl<'a> Probe<'a> {
    pub fn new(
        client: Client,
        emulator: &'a Emulator,
        operator: &'a OperatorProcess,
        audit: AuditLog,
        control_plane: Vec<(String, String)>,
    ) -> Self {
        let pid = operator.pid().expect("the operator runs");
        let mut processes = vec![(OPERATOR.to_string(), pid.to_string())];
        processes.extend(control_plane);
        processes.push((BENCH.to_string(), "self".to_string()));
        Self {
            client,
            emulator,
            operator,
            pid: pid.to_string(),
            audit,
            processes,
            sampler: Sampler::spawn(pid),
            ticks: procfs::clock_ticks(),
        }
    }

    /// CPU seconds so far of each process, then of the whole machine.
    fn cpu(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .processes
            .iter()
            .map(|(name, pid)| (name.clone(), procfs::cpu_seconds(pid, self.ticks)))
            .collect();
        out.push((OTHERS.to_string(), procfs::machine_busy_seconds(self.ticks)));
        out
    }

    /// Starts a phase: drops writes made before it and resets the sampler's window.
    pub async fn start(&mut self) -> Result<Start> {
        self.audit.take()?;
        self.sampler.take();
        Ok(Start {
            at: Instant::now(),
            calls: self.emulator.calls(),
            cpu: self.cpu(),
            operator: OperatorCounters::scrape(self.operator).await,
            apiserver: apiserver::scrape(&self.client).await?,
        })
    }

    /// Waits until the operator has made no write for `quiet` (at most
    /// `limit`), so a phase also counts the writes that trail its end condition.
    pub async fn settle(&mut self, quiet: Duration, limit: Duration) -> Result<()> {
        let started = Instant::now();
        let mut last = Instant::now();
        while last.elapsed() < quiet && started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if self.audit.poll()? > 0 {
                last = Instant::now();
            }
        }
        Ok(())
    }

    /// Ends a phase begun with `start`.
    pub async fn finish(&mut self, name: &'static str, start: Start) -> Result<PhaseResult> {
        let elapsed = start.at.elapsed();
        let calls = self.emulator.calls();
        let aws_calls = calls
            .iter()
            .map(|(op, n)| (op.clone(), n - start.calls.get(op).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let mut cpu: Vec<(String, f64)> = self
            .cpu()
            .into_iter()
            .zip(&start.cpu)
            .map(|((p, now), (_, before))| (p, now - before))
            .collect();
        // The machine's total minus the processes listed is what others used.
        let listed: f64 = cpu[..cpu.len() - 1].iter().map(|(_, s)| s).sum();
        if let Some((_, machine)) = cpu.last_mut() {
            *machine = (*machine - listed).max(0.0);
        }
        let now = OperatorCounters::scrape(self.operator).await;
        let reconciles = now.reconciles - start.operator.reconciles;
        let failures = now.failures - start.operator.failures;
        let role_loads = now.role_loads - start.operator.role_loads;
        let apiserver = apiserver::delta(&start.apiserver, &apiserver::scrape(&self.client).await?);
        Ok(PhaseResult {
            name,
            elapsed,
            apiserver,
            aws_calls,
            writes: self.audit.take()?,
            cpu,
            reconciles: reconciles.max(0.0) as u64,
            failures: failures.max(0.0) as u64,
            role_loads: role_loads.max(0.0) as u64,
            peaks: self.sampler.take(),
            rss_end_kib: procfs::status_kib(&self.pid, "VmRSS"),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
                .unwrap_or_else(|| "?".into()),
        })
    }

    /// The operator's peak RSS over its whole life (VmHWM), KiB.
    pub fn lifetime_peak_kib(&self) -> u64 {
        procfs::status_kib(&self.pid, "VmHWM")
    }

    /// The operator's CPU seconds over its whole life.
    pub fn lifetime_cpu(&self) -> f64 {
        procfs::cpu_seconds(&self.pid, self.ticks)
    }
}
