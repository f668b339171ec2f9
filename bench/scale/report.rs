//! The results as Markdown: the summary table against the targets
//! (also printed to stdout), the machine, the method, and the detail of
//! every phase.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Settings;
use crate::machine::Machine;
use crate::phase::{BENCH, OPERATOR, OTHERS, PhaseResult};
use crate::phases::Steps;
use crate::tables::detail;

/// Issues 7 and 17's targets. AWS calls: issue 7's 4, plus the look before
/// each create that strict tenancy makes (issue 11).
const READY_TARGET: Duration = Duration::from_secs(60);
const CALLS_PER_REPO_TARGET: f64 = 5.0;
const RSS_TARGET_MIB: f64 = 64.0;
const CREATE_WRITES_TARGET: f64 = 3.0;
const REFRESH_WRITES_TARGET: f64 = 1.0;
const DRAIN_TARGET: Duration = Duration::from_secs(120);

/// Everything measured in one run.
pub struct Run<'a> {
    pub settings: &'a Settings,
    pub machine: Machine,
    pub steps: Steps,
    /// VmHWM and total CPU seconds of the operator.
    pub peak_rss_kib: u64,
    /// VmRSS once the operator was ready, before any PypiRepository existed.
    pub rss_start_kib: u64,
    pub operator_cpu: f64,
    pub operator_log: String,
    /// GetAuthorizationToken calls a refresh cycle needs (see `Fleet::tokens_per_cycle`).
    pub tokens_per_cycle: u64,
    /// Domains with repository-scoped tokens through a role (IAM mode).
    pub scoped_domains: usize,
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// One summary row; `met` is `None` for rows without a target.
fn row(out: &mut String, measure: &str, target: &str, result: &str, met: Option<bool>) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "",
    };
    let _ = writeln!(out, "| {measure} | {target} | {result} | {verdict} |");
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Run<'_> {
    fn n(&self) -> f64 {
        (self.settings.namespaces * self.settings.per_namespace) as f64
    }

    fn phases(&self) -> [&PhaseResult; 4] {
        [
            &self.steps.create.phase,
            &self.steps.idle,
            &self.steps.refresh.phase,
            &self.steps.drain.phase,
        ]
    }

    /// The summary table: the targets first, then context.
    pub fn summary(&self) -> String {
        let mut out = String::from("| Measure | Target | Result | |\n|---|---|---|---|\n");
        self.target_rows(&mut out);
        self.context_rows(&mut out);
        out
    }

    fn target_rows(&self, out: &mut String) {
        let n = self.n();
        let c = &self.steps.create;
        let title = format!("All {n} PypiRepositories Ready (first create sent → last Ready)");
        let ready = format!("{} (load {})", secs(c.all_ready), c.phase.load);
        row(
            out,
            &title,
            &format!("≤ {}", secs(READY_TARGET)),
            &ready,
            Some(c.all_ready <= READY_TARGET),
        );
        self.write_rows(out);
        let d = &self.steps.drain;
        let gone = format!("{} (load {})", secs(d.objects_gone), d.phase.load);
        row(
            out,
            "Drain with deletionPolicy Delete: first delete → all objects gone",
            &format!("≤ {}", secs(DRAIN_TARGET)),
            &gone,
            Some(d.objects_gone <= DRAIN_TARGET),
        );
        let per_repo = c.phase.aws_total() as f64 / n;
        let calls = format!("{per_repo:.2} ({} calls)", c.phase.aws_total());
        row(
            out,
            "AWS calls per PypiRepository at creation (strict tenancy)",
            &format!("≤ {CALLS_PER_REPO_TARGET}"),
            &calls,
            Some(per_repo <= CALLS_PER_REPO_TARGET),
        );
        let minted = self.steps.refresh.phase.aws("GetAuthorizationToken");
        let expected = self.tokens_per_cycle;
        let target = if self.scoped_domains == 0 {
            format!("= {expected} (domains)")
        } else {
            let domain_scoped = self.settings.domains - self.scoped_domains;
            let objects = expected - domain_scoped as u64;
            format!(
                "= {expected} ({domain_scoped} domain-scoped domains + {objects} objects with repository-scoped tokens)"
            )
        };
        row(
            out,
            "GetAuthorizationToken calls per refresh cycle",
            &target,
            &minted.to_string(),
            Some(minted == expected),
        );
        let idle = &self.steps.idle;
        let idle_writes = idle.operator_write_total();
        let title = format!("Kubernetes writes while idle ({})", secs(idle.elapsed));
        let result = format!("{idle_writes} (AWS calls: {})", idle.aws_total());
        row(
            out,
            &title,
            "0 (no refresh was due)",
            &result,
            Some(idle_writes == 0),
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        let rss_mib = mib(self.peak_rss_kib);
        let result = format!(
            "{rss_mib:.1} MiB (RSS with no objects {:.1}, after creation {:.1}, end of idle {:.1})",
            mib(self.rss_start_kib),
            mib(self.steps.create.phase.rss_end_kib),
            mib(self.steps.idle.rss_end_kib)
        );
        let target = format!("< {RSS_TARGET_MIB} MiB");
        row(
            out,
            "Operator peak RSS (VmHWM)",
            &target,
            &result,
            Some(rss_mib < RSS_TARGET_MIB),
        );
    }

    fn write_rows(&self, out: &mut String) {
        let n = self.n();
        let writes = self.steps.create.phase.operator_write_total();
        let per = writes as f64 / n;
        row(
            out,
            "Kubernetes writes per PypiRepository at creation",
            &format!("≤ {CREATE_WRITES_TARGET}"),
            &format!("{per:.2} ({writes} writes)"),
            Some(per <= CREATE_WRITES_TARGET),
        );
        let writes = self.steps.refresh.phase.operator_write_total();
        let per = writes as f64 / n;
        row(
            out,
            "Kubernetes writes per PypiRepository per token refresh",
            &format!("≤ {REFRESH_WRITES_TARGET}"),
            &format!("{per:.2} ({writes} writes)"),
            Some(per <= REFRESH_WRITES_TARGET),
        );
    }

    fn context_rows(&self, out: &mut String) {
        let n = self.n();
        let c = &self.steps.create;
        let lat = |p| secs(percentile(&c.latencies, p));
        row(
            out,
            "Create → Ready per object, p50 / p99 / max",
            "",
            &format!("{} / {} / {}", lat(0.5), lat(0.99), lat(1.0)),
            None,
        );
        let minted = self.steps.refresh.phase.aws("GetAuthorizationToken");
        let ratio = if minted > 0 {
            format!("{:.0}× fewer", n / minted as f64)
        } else {
            "n/a".into()
        };
        row(
            out,
            "Naive design (one token per Secret per cycle)",
            "",
            &format!("{n} calls per cycle: this design makes {ratio}"),
            None,
        );
        let per_phase = self
            .phases()
            .map(|p| format!("{:.1}", p.cpu_of(OPERATOR)))
            .join(" / ");
        let title = "Operator CPU seconds (create / idle / refresh / drain; whole run)";
        row(
            out,
            title,
            "",
            &format!("{per_phase}; {:.1}", self.operator_cpu),
            None,
        );
        if self.scoped_domains > 0 {
            let assumed = self
                .phases()
                .map(|p| format!("{} ({})", p.aws("AssumeRole"), p.role_loads))
                .join(" / ");
            let title = format!(
                "AssumeRole requests to STS (operator's credential loads) (create / idle / refresh / drain; {} of {} domains through a role, repository-scoped tokens)",
                self.scoped_domains, self.settings.domains
            );
            row(out, &title, "", &assumed, None);
        }
        let d = &self.steps.drain;
        let title = "Drain: repositories gone from CodeArtifact / Secrets collected";
        let result = format!("{} / {}", secs(d.codeartifact_empty), secs(d.secrets_gone));
        row(out, title, "", &result, None);
    }

    /// The whole report.
    pub fn markdown(&self, date: &str) -> String {
        let mut out = format!(
            "# Scale benchmark, {date}, {} objects\n\n`make bench` (bench/scale), issues 7 and 17. Generated by the benchmark; the analysis at the end is written by hand.\n\n## Summary\n\n",
            self.n()
        );
        out.push_str(&self.summary());
        out.push_str("\n## Machine\n\n");
        out.push_str(&self.machine.markdown());
        out.push_str(&self.method());
        let arenas = match self.settings.malloc_arena_max.as_str() {
            "" => "unset (glibc's default: up to 8 arenas per core)".to_string(),
            n => format!("`MALLOC_ARENA_MAX={n}`, as the image sets it"),
        };
        let _ = writeln!(out, "- The operator's allocator: glibc with {arenas}.");
        if let Some(manifest) = &self.settings.manifest {
            let _ = writeln!(
                out,
                "- Experiment (`BENCH_MANIFEST`): `{}` was applied after the CRDs, before the workload.",
                manifest.display()
            );
        }
        if self.scoped_domains > 0 {
            let _ = writeln!(
                out,
                "- IAM mode (`BENCH_IAM=1`, issue 13 point 5): {} of the {} domains name the role `{}` (emulator: trusted by the operator's account, 1 h sessions) and their rule has `tokenScope: RepositoryRead`, so each of their objects gets its own token minted through AssumeRole with a session policy for its one repository.",
                self.scoped_domains,
                self.settings.domains,
                crate::cluster::BENCH_ROLE
            );
        }
        out.push_str(&self.cost_table());
        for (title, phase) in [
            ("Step 1: create", &self.steps.create.phase),
            ("Step 2: idle", &self.steps.idle),
            ("Step 3: one token refresh cycle", &self.steps.refresh.phase),
            ("Step 4: delete all (drain)", &self.steps.drain.phase),
        ] {
            out.push_str(&format!("\n## {title}\n\n"));
            out.push_str(&self.step_notes(phase.name));
            out.push_str(&detail(phase, self.n()));
        }
        out
    }

    fn method(&self) -> String {
        let s = self.settings;
        let lifetime = s.real_token_lifetime();
        format!(
            "\n## Method\n\n\
             - A fresh control plane (etcd, kube-apiserver, kube-controller-manager from tests/control-plane) with `TESTENV_AUDIT_LOG=1`: kube-apiserver logs every write request (create, update, patch, delete; no-op ones included) at Metadata level. Writes are attributed by user and User-Agent: the benchmark's client sends its own User-Agent, kube-controller-manager has its own user, the operator is the rest of the admin user's requests.\n\
             - The CodeArtifact emulator runs in the benchmark process; AWS calls are its per-operation request counters (a retried call counts once per attempt).\n\
             - The operator is the binary `{}` as a child process, watching all namespaces with default flags (strict tenancy: {} CodeArtifactDomains, created and Ready before the first measured phase, admit the benchmark's namespaces by label; resync 10m, backoff 2s to 5m, logs at `info` unless `BENCH_OPERATOR_LOG` is set{}). CPU is utime+stime from /proc/<pid>/stat; memory is VmHWM from /proc/<pid>/status, and VmRSS sampled every 200 ms for per-phase peaks.\n\
             - {} PypiRepositories: {} namespaces × {}, spread round-robin over {} domains, each with `deletionPolicy: Delete` and `token.durationSeconds: {}`; created by {} concurrent clients. \"Ready\" is the first watch event with Ready=True for the current generation.\n\
             - Emulator clock at {:.2}×: a {} s token lives {} of real time and is refreshed a quarter of its life before expiry, i.e. every {}. The speed is chosen so that the first refresh comes just after the idle window{}.\n\
             - Each phase ends once the operator has made no write for 5 s; writes and calls after that count toward the next phase.\n\
             - Operator log: `{}`.\n",
            s.operator_bin().display(),
            s.domains,
            s.rust_log
                .as_deref()
                .map(|f| format!("; this run: `RUST_LOG={f}`"))
                .unwrap_or_default(),
            self.n(),
            s.namespaces,
            s.per_namespace,
            s.domains,
            s.token_seconds,
            crate::workload::CLIENT_CONCURRENCY,
            s.clock_speed,
            s.token_seconds,
            secs(lifetime),
            secs(lifetime.mul_f64(0.75)),
            if self.steps.refresh_first {
                " (in this run creation was slower than planned, so the refresh was measured before the idle window)"
            } else {
                ""
            },
            self.operator_log,
        )
    }

    fn cost_table(&self) -> String {
        let cpu_names: Vec<String> = self
            .steps
            .create
            .phase
            .cpu
            .iter()
            .map(|(p, _)| p.clone())
            .collect();
        let mut out = String::from(
            "\n## Cost per phase\n\n| Phase | Duration | AWS calls | Operator writes | Reconciles (failed) | Operator peak RSS | Operator RSS at end | Operator peak open sockets |",
        );
        for p in &cpu_names {
            let _ = write!(out, " CPU s: {p} |");
        }
        out.push_str(&format!(
            "\n|---|---|---|---|---|---|---|---|{}\n",
            "---|".repeat(cpu_names.len())
        ));
        for p in self.phases() {
            let _ = write!(
                out,
                "| {} (load {}) | {} | {} | {} | {} ({}) | {:.1} MiB | {:.1} MiB | {} |",
                p.name,
                p.load,
                secs(p.elapsed),
                p.aws_total(),
                p.operator_write_total(),
                p.reconciles,
                p.failures,
                p.peaks.rss_kib as f64 / 1024.0,
                p.rss_end_kib as f64 / 1024.0,
                p.peaks.sockets
            );
            for name in &cpu_names {
                let _ = write!(out, " {:.1} |", p.cpu_of(name));
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "\n`{BENCH}` is this benchmark's process: its watch, its clients and the in-process emulator. `{OTHERS}` is the rest of the machine's busy time (/proc/stat): other developers' builds and tests share it."
        );
        out
    }

    fn step_notes(&self, phase: &str) -> String {
        let c = &self.steps.create;
        match phase {
            "create" => format!(
                "Create requests took {} to send; the last PypiRepository was Ready {} after the first create. Create → Ready: p50 {}, p90 {}, p99 {}, max {}.\n\n",
                secs(c.submitted),
                secs(c.all_ready),
                secs(percentile(&c.latencies, 0.5)),
                secs(percentile(&c.latencies, 0.9)),
                secs(percentile(&c.latencies, 0.99)),
                secs(percentile(&c.latencies, 1.0))
            ),
            "refresh" => format!(
                "The refresh started {} into the phase; its writes spanned {} (kube-apiserver timestamps). A naive operator that mints one token per Secret would make {} GetAuthorizationToken calls per cycle.\n\n",
                secs(self.steps.refresh.waited),
                secs(self.steps.refresh.burst),
                self.n()
            ),
            "drain" => format!(
                "Delete requests took {} to send. All PypiRepositories were gone {} after the first delete, their repositories were gone from CodeArtifact after {}, and kube-controller-manager had garbage-collected every Secret after {} (checked once a second).\n\n",
                secs(self.steps.drain.submitted),
                secs(self.steps.drain.objects_gone),
                secs(self.steps.drain.codeartifact_empty),
                secs(self.steps.drain.secrets_gone)
            ),
            _ => String::new(),
        }
    }
}
