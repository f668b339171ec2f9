//! The four steps of issue 7, each measured by the [`Probe`]: create the
//! fleet and wait for Ready, stay idle, live through one token refresh, and
//! delete everything with the Delete policy.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use codeartifact_emulator::Emulator;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::{Api, Client};

use crate::audit::Actor;
use crate::phase::{PhaseResult, Probe};
use crate::workload::{self, Fleet, Tracker};

/// No operator write for this long ends a phase's trailing activity.
const QUIET: Duration = Duration::from_secs(5);
/// At most this long is spent waiting for quiet.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
/// An idle window must end this long before a refresh is due to count as idle.
const IDLE_MARGIN: Duration = Duration::from_secs(20);
/// Generous bounds on waits, so a slow machine yields figures, not a hang.
const READY_TIMEOUT: Duration = Duration::from_secs(900);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(900);
const REFRESH_SLACK: Duration = Duration::from_secs(300);

/// What the bench works with.
pub struct World<'a> {
    pub client: &'a Client,
    pub fleet: &'a Fleet,
    pub tracker: &'a Tracker,
    pub emulator: &'a Emulator,
    pub token_seconds: i64,
}

/// The four measured steps.
pub struct Steps {
    pub create: CreateOutcome,
    pub idle: PhaseResult,
    pub refresh: RefreshOutcome,
    pub drain: DrainOutcome,
    /// The tokens minted at creation were due before an idle window could
    /// end, so the refresh was measured first.
    pub refresh_first: bool,
}

/// Runs the steps in order, placing the idle window where no refresh is due.
pub async fn all(
    w: &World<'_>,
    probe: &mut Probe<'_>,
    window: Duration,
    lifetime: Duration,
) -> Result<Steps> {
    eprintln!(
        "bench: creating {} PypiRepositories in {} namespaces",
        w.fleet.items.len(),
        w.fleet.namespaces.len()
    );
    let create = create(w, probe).await?;
    eprintln!(
        "bench: all Ready after {:.1} s",
        create.all_ready.as_secs_f64()
    );
    let due = next_refresh(w.tracker, lifetime);
    let idle_end = Utc::now() + chrono::TimeDelta::from_std(window + IDLE_MARGIN)?;
    let refresh_first = due.is_none_or(|d| d < idle_end);
    let (idle_result, refresh_result) = if refresh_first {
        eprintln!("bench: a refresh is due before an idle window could end; measuring it first");
        let r = refresh(w, probe, due).await?;
        eprintln!("bench: idle for {window:?}");
        (idle(probe, window).await?, r)
    } else {
        eprintln!("bench: idle for {window:?}");
        let i = idle(probe, window).await?;
        eprintln!("bench: waiting for the scheduled token refresh");
        (
            i,
            refresh(w, probe, next_refresh(w.tracker, lifetime)).await?,
        )
    };
    eprintln!("bench: deleting everything");
    let drain = drain(w, probe).await?;
    Ok(Steps {
        create,
        idle: idle_result,
        refresh: refresh_result,
        drain,
        refresh_first,
    })
}

/// Step 1: creation.
pub struct CreateOutcome {
    pub phase: PhaseResult,
    /// Create request sent → Ready seen, per PypiRepository, sorted.
    pub latencies: Vec<Duration>,
    /// First create sent → last create answered.
    pub submitted: Duration,
    /// First create sent → last Ready seen.
    pub all_ready: Duration,
}

pub async fn create(w: &World<'_>, probe: &mut Probe<'_>) -> Result<CreateOutcome> {
    let start = probe.start().await?;
    let t0 = Instant::now();
    let sent = workload::create_all(w.client, w.fleet, w.token_seconds).await?;
    let submitted = t0.elapsed();
    w.tracker
        .wait(w.fleet, READY_TIMEOUT, "Ready", |_, s| s.ready_at.is_some())
        .await?;
    probe.settle(QUIET, SETTLE_LIMIT).await?;
    let phase = probe.finish("create", start).await?;
    let seen = w.tracker.snapshot();
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(k, at)| Some(seen.get(k)?.ready_at?.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    let last_ready = seen.values().filter_map(|s| s.ready_at).max().unwrap_or(t0);
    Ok(CreateOutcome {
        phase,
        latencies,
        submitted,
        all_ready: last_ready.saturating_duration_since(t0),
    })
}

/// Step 2: nothing changes for `window`; whatever the operator does is overhead.
pub async fn idle(probe: &mut Probe<'_>, window: Duration) -> Result<PhaseResult> {
    let start = probe.start().await?;
    tokio::time::sleep(window).await;
    probe.finish("idle", start).await
}

/// When the tokens now in the Secrets are due for replacement: a quarter of
/// their (real) lifetime before the earliest expiry.
pub fn next_refresh(tracker: &Tracker, real_lifetime: Duration) -> Option<DateTime<Utc>> {
    let earliest = tracker
        .snapshot()
        .values()
        .filter_map(|s| DateTime::parse_from_rfc3339(s.token_expires_at.as_deref()?).ok())
        .min()?
        .with_timezone(&Utc);
    Some(earliest - chrono::TimeDelta::from_std(real_lifetime / 4).ok()?)
}

/// Step 3: one scheduled token refresh.
pub struct RefreshOutcome {
    pub phase: PhaseResult,
    /// Phase start → the first operator write of the refresh.
    pub waited: Duration,
    /// First to last operator write of the refresh (kube-apiserver's clock).
    pub burst: Duration,
}

pub async fn refresh(
    w: &World<'_>,
    probe: &mut Probe<'_>,
    due: Option<DateTime<Utc>>,
) -> Result<RefreshOutcome> {
    let start = probe.start().await?;
    let phase_start = Utc::now();
    let before: HashMap<String, Option<String>> = w
        .tracker
        .snapshot()
        .into_iter()
        .map(|(k, s)| (k, s.token_expires_at))
        .collect();
    let wait_for = due
        .and_then(|d| (d - Utc::now()).to_std().ok())
        .unwrap_or_default()
        + REFRESH_SLACK;
    w.tracker
        .wait(w.fleet, wait_for, "given a new token", |k, s| {
            s.token_expires_at.is_some() && before.get(k).is_none_or(|b| b != &s.token_expires_at)
        })
        .await?;
    probe.settle(QUIET, SETTLE_LIMIT).await?;
    let phase = probe.finish("refresh", start).await?;
    let times: Vec<DateTime<Utc>> = phase
        .writes
        .iter()
        .filter(|w| w.actor == Actor::Operator)
        .map(|w| w.at)
        .collect();
    let (first, last) = (
        times.iter().min().copied().unwrap_or(phase_start),
        times.iter().max().copied().unwrap_or(phase_start),
    );
    Ok(RefreshOutcome {
        waited: (first - phase_start).to_std().unwrap_or_default(),
        burst: (last - first).to_std().unwrap_or_default(),
        phase,
    })
}

/// Step 4: delete everything with deletionPolicy Delete.
pub struct DrainOutcome {
    pub phase: PhaseResult,
    /// First delete sent → last delete answered.
    pub submitted: Duration,
    /// Deletes sent → every PypiRepository gone (finalizers released).
    pub objects_gone: Duration,
    /// Deletes sent → no repository left in the emulator (the domains stay:
    /// their CodeArtifactDomains keep them, as the platform team declared).
    pub codeartifact_empty: Duration,
    /// Deletes sent → every credentials Secret garbage-collected.
    pub secrets_gone: Duration,
}

pub async fn drain(w: &World<'_>, probe: &mut Probe<'_>) -> Result<DrainOutcome> {
    let start = probe.start().await?;
    let t0 = Instant::now();
    workload::delete_all(w.client, w.fleet).await?;
    let submitted = t0.elapsed();
    let gone = w
        .tracker
        .wait(w.fleet, DRAIN_TIMEOUT, "deleted", |_, s| {
            s.gone_at.is_some()
        })
        .await?;
    let empty = poll(FINE, DRAIN_TIMEOUT, "CodeArtifact emptied", || async {
        w.emulator.repositories().is_empty()
    })
    .await?;
    let secrets: Api<Secret> = Api::all(w.client.clone());
    let managed = ListParams::default().labels(workload::MANAGED_BY);
    // Once a second: each check LISTs up to every Secret, and at 100 ms the
    // benchmark's LISTs competed with the garbage collector it waits for
    // (1,318 LISTs in the 5,000-object drain of 2026-11-30).
    let secrets_gone = poll(
        COARSE,
        DRAIN_TIMEOUT,
        "Secrets garbage-collected",
        || async {
            secrets
                .list_metadata(&managed)
                .await
                .is_ok_and(|l| l.items.is_empty())
        },
    )
    .await?;
    probe.settle(QUIET, SETTLE_LIMIT).await?;
    Ok(DrainOutcome {
        phase: probe.finish("drain", start).await?,
        submitted,
        objects_gone: gone - t0,
        codeartifact_empty: empty - t0,
        secrets_gone: secrets_gone - t0,
    })
}

/// The figures' resolution where a check is cheap...
const FINE: Duration = Duration::from_millis(100);
/// ...and where each check is a LIST that loads kube-apiserver.
const COARSE: Duration = Duration::from_secs(1);

/// Polls `check` `every` so often until it holds.
async fn poll<F, Fut>(every: Duration, timeout: Duration, what: &str, check: F) -> Result<Instant>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    testenv::wait_for_every(every, timeout, check)
        .await
        .with_context(|| format!("not {what}"))
}
