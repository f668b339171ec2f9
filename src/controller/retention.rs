//! The retention step of a reconcile: when a run is due, one page of it
//! (`prune`), then what to report (status.retention, the `Retention`
//! condition, Events) and when to come back. A run never fails the
//! reconcile: its errors become the condition, a Warning Event and a
//! retry with backoff, while the repository and Secret stay served.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::runtime::events::EventType;

use super::backoff::{delay, until};
use super::context::Context;
use super::desired::Desired;
use super::prune::Pager;
use super::report;
use super::state::Uid;
use crate::aws::RepositoryPath;
use crate::crd::{
    CONDITION_RETENTION, EventReason, PypiRepository, PypiRepositoryStatus, Reason, RepositoryMode,
    RetentionStatus, set_condition,
};
use crate::error::Error;
use crate::retention::policy::Policy;
use crate::retention::schedule::{Due, Progress, STEP_PAUSE, due};

/// What the step reports: the new status.retention (when it changed), the
/// condition, and when retention wants the next reconcile.
#[derive(Debug, Default)]
pub struct Outcome {
    status: Option<RetentionStatus>,
    condition: Option<(bool, Reason, String)>,
    /// spec.retention is unset: status and condition go.
    off: bool,
    pub requeue: Option<Duration>,
}

impl Outcome {
    /// Writes this outcome into the status about to be written.
    pub fn apply_to(
        self,
        st: &mut PypiRepositoryStatus,
        generation: Option<i64>,
        now: DateTime<Utc>,
    ) {
        if self.off {
            st.retention = None;
            st.conditions.retain(|c| c.type_ != CONDITION_RETENTION);
            return;
        }
        if let Some(r) = self.status {
            st.retention = Some(Box::new(r));
        }
        if let Some((ok, reason, message)) = self.condition {
            let c = &mut st.conditions;
            set_condition(
                c,
                CONDITION_RETENTION,
                ok,
                reason,
                &message,
                generation,
                now,
            );
        }
    }
}

/// Runs the next page of retention when one is due.
pub async fn step(obj: &PypiRepository, ctx: &Context, d: &Desired, now: DateTime<Utc>) -> Outcome {
    let uid = Uid::of(obj);
    let Some(spec) = obj.spec.retention.as_ref() else {
        ctx.states.update(&uid, |s| s.retention = None);
        return Outcome {
            off: true,
            ..Outcome::default()
        };
    };
    if d.mode == RepositoryMode::Consume {
        // The CRD refuses this; an object stored before the rule existed gets a condition.
        let why = "spec.retention is ignored with mode Consume: a consumer removes nothing";
        return refused(Reason::InvalidSpec, why.into());
    }
    let policy = match Policy::from_spec(spec) {
        Ok(p) => p,
        Err(why) => return refused(Reason::InvalidSpec, why),
    };
    let generation = obj.metadata.generation.unwrap_or_default();
    let last = obj.status.as_ref().and_then(|s| s.retention.as_deref());
    let progress = ctx.states.read(&uid, |s| s.retention.as_deref().cloned());
    if let Due::At(at) = due(last, progress.as_ref(), generation, now) {
        return Outcome {
            requeue: until(at, now),
            ..Outcome::default()
        };
    }
    let mut p = progress
        .filter(|p| p.generation == generation)
        .unwrap_or_else(|| Progress::start(generation, now));
    let aws = ctx.aws_for(d).await;
    let pager = Pager {
        aws: &aws,
        at: RepositoryPath {
            domain: &d.domain,
            owner: d.owner.as_deref(),
            repository: &d.repository,
        },
        policy: &policy,
        metrics: &ctx.metrics.retention,
        now,
    };
    let result = pager.page(&mut p).await;
    match result {
        Ok(true) => finished(obj, ctx, &policy, p, now).await,
        Ok(false) => {
            p.step_done();
            ctx.states.update(&uid, |s| s.retention = Some(Box::new(p)));
            Outcome {
                condition: Some((true, Reason::RetentionRunning, "A run is under way".into())),
                requeue: Some(STEP_PAUSE),
                ..Outcome::default()
            }
        }
        Err(e) => failed(obj, ctx, p, &Error::Aws(e), now).await,
    }
}

fn refused(reason: Reason, why: String) -> Outcome {
    Outcome {
        condition: Some((false, reason, why)),
        ..Outcome::default()
    }
}

async fn finished(
    obj: &PypiRepository,
    ctx: &Context,
    policy: &Policy,
    p: Progress,
    now: DateTime<Utc>,
) -> Outcome {
    ctx.states.update(&Uid::of(obj), |s| s.retention = None);
    let seconds = (now - p.started).num_milliseconds() as f64 / 1000.0;
    ctx.metrics.retention.run_finished(seconds.max(0.0));
    let st = p.finish(policy.dry_run, policy.interval, now);
    let summary = summary(&st);
    if st.removed + st.would_remove > 0 {
        let verb = if st.dry_run { "DryRun" } else { "Prune" };
        report::normal(
            ctx,
            obj,
            EventReason::VersionsRemoved,
            verb,
            summary.clone(),
        )
        .await;
    }
    let requeue = Some(policy.interval);
    Outcome {
        status: Some(st),
        condition: Some((true, Reason::RetentionCompleted, summary)),
        requeue,
        ..Outcome::default()
    }
}

/// One line for the condition and the Event: counts and the first versions.
fn summary(st: &RetentionStatus) -> String {
    let (verb, n) = if st.dry_run {
        ("would remove", st.would_remove)
    } else {
        ("removed", st.removed)
    };
    let mut s = format!(
        "Last run {verb} {n} package versions in {} packages",
        st.packages
    );
    if st.failed > 0 {
        s.push_str(&format!("; CodeArtifact refused {}", st.failed));
    }
    if n > 0 {
        let shown: Vec<&str> = st.versions.iter().take(10).map(String::as_str).collect();
        let more = if n as usize > shown.len() {
            ", ..."
        } else {
            ""
        };
        s.push_str(&format!(": {}{more}", shown.join(", ")));
    }
    s
}

async fn failed(
    obj: &PypiRepository,
    ctx: &Context,
    mut p: Progress,
    err: &Error,
    now: DateTime<Utc>,
) -> Outcome {
    let class = err.retry_class();
    let at = p.failed_step(|n| delay(ctx.config.backoff, class, n), now);
    ctx.states
        .update(&Uid::of(obj), |s| s.retention = Some(Box::new(p)));
    ctx.metrics.retention.failed(err.category());
    let message = format!(
        "Retention run paused, resumed after a backoff: {}",
        err.report()
    );
    let recorder = ctx.recorder.clone();
    let reason = EventReason::RetentionFailed.as_str();
    crate::publish::event(
        &recorder,
        obj,
        EventType::Warning,
        reason,
        "Prune",
        message.clone(),
    )
    .await;
    Outcome {
        condition: Some((false, err.reason(), message)),
        requeue: until(at, now),
        ..Outcome::default()
    }
}
