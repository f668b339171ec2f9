//! Step 3b of a reconcile: spec.prepopulate. Runs when the spec changed, while
//! work is left (a bounded slice per reconcile, the rest kept in the object's
//! state) and after a failed run once its backoff has passed; never in Consume
//! mode. Fetches through the repository's own endpoint with the shared token
//! of the Secret's scope (the same permissions as the Secret's). Its failures never fail the reconcile: they are reported in
//! status.prepopulate, the Prepopulated condition and an Event.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::context::Context;
use super::credentials::{RepositoryRef, shared_token};
use super::desired::Desired;
use super::report;
use super::state::Uid;
use crate::aws::AuthToken;
use crate::crd::{
    CONDITION_PREPOPULATED, EventReason, PrepopulatePhase, PrepopulateStatus, PypiRepository,
    PypiRepositoryStatus, Reason, RepositoryMode, set_condition,
};
use crate::prepopulate::fetch::Fetcher;
use crate::prepopulate::run::{Slice, run_slice};
use crate::prepopulate::schedule::{self, CONTINUE_AFTER, Decision};
use crate::prepopulate::{Plan, Target};

/// What step 3b leaves for status, Events and the next requeue.
#[derive(Debug, Default)]
pub struct Outcome {
    /// status.prepopulate (`None` without spec.prepopulate).
    pub status: Option<PrepopulateStatus>,
    /// Come back this soon (unfinished work, or a retry).
    pub requeue: Option<Duration>,
    /// A run finished in this reconcile.
    pub finished: bool,
}

/// Runs a slice of the pre-population when one is due.
pub async fn step(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    repository: &RepositoryRef<'_>,
    now: DateTime<Utc>,
) -> Outcome {
    let last = obj
        .status
        .as_ref()
        .and_then(|s| s.prepopulate.as_deref().cloned());
    let Some(spec) = obj
        .spec
        .prepopulate
        .as_ref()
        .filter(|_| obj.spec.mode == RepositoryMode::Manage)
    else {
        return Outcome::default();
    };
    let hash = schedule::spec_hash(spec);
    let fresh = match schedule::decide(&hash, last.as_ref(), now) {
        Decision::Keep => return kept(last, None),
        Decision::RetryAt(at) => return kept(last, (at - now).to_std().ok()),
        Decision::Run { fresh } => fresh,
    };
    let token = match shared_token(ctx, d, repository.arn, now).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "spec.prepopulate has no token");
            return kept(last, Some(schedule::RETRY_BASE));
        }
    };
    let (target, fetcher) = match tools(&spec.python_version, repository.endpoint, &token.token) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "spec.prepopulate cannot run");
            return kept(last, Some(schedule::RETRY_BASE));
        }
    };
    let uid = Uid::of(obj);
    let mut plan = ctx
        .states
        .update(&uid, |s| s.prepopulate.take().map(|p| *p))
        .filter(|p| !fresh && p.spec_hash == hash)
        .unwrap_or_else(|| Plan::new(spec, hash, &target));
    let slice = run_slice(&mut plan, &fetcher, &target).await;
    let st = schedule::status_after(&plan, last.as_ref(), Utc::now());
    log_slice(&slice, &plan, &st);
    let requeue = match st.phase {
        PrepopulatePhase::InProgress => {
            ctx.states
                .update(&uid, |s| s.prepopulate = Some(Box::new(plan)));
            Some(CONTINUE_AFTER)
        }
        PrepopulatePhase::Failed => schedule::retry_delay(st.attempts).to_std().ok(),
        PrepopulatePhase::Complete => None,
    };
    Outcome {
        finished: st.phase != PrepopulatePhase::InProgress,
        status: Some(st),
        requeue,
    }
}

/// The target environment and the endpoint reader. The CRD's pattern admits
/// only `3.X`, which always parses, and the endpoint comes from CodeArtifact.
fn tools(python: &str, endpoint: &str, token: &AuthToken) -> Result<(Target, Fetcher), String> {
    let target = Target::new(python)?;
    let fetcher = Fetcher::new(endpoint, token).map_err(|e| e.to_string())?;
    Ok((target, fetcher))
}

fn log_slice(slice: &Slice, plan: &Plan, st: &PrepopulateStatus) {
    tracing::info!(
        items = slice.items,
        pages = slice.pages,
        files = slice.files,
        metadata = slice.metadata,
        pending = plan.pending(),
        cached = st.cached.len(),
        failed = st.failed.len(),
        "prepopulate slice"
    );
}

fn kept(last: Option<PrepopulateStatus>, requeue: Option<Duration>) -> Outcome {
    Outcome {
        status: last,
        requeue,
        finished: false,
    }
}

impl Outcome {
    /// Puts status.prepopulate and the Prepopulated condition into `st`
    /// (both go when spec.prepopulate is removed).
    pub fn apply(
        &self,
        st: &mut PypiRepositoryStatus,
        generation: Option<i64>,
        now: DateTime<Utc>,
    ) {
        st.prepopulate = self.status.clone().map(Box::new);
        match &self.status {
            Some(p) => {
                let (ok, reason, message) = schedule::condition(p);
                set_condition(
                    &mut st.conditions,
                    CONDITION_PREPOPULATED,
                    ok,
                    reason,
                    &message,
                    generation,
                    now,
                );
            }
            None => st.conditions.retain(|c| c.type_ != CONDITION_PREPOPULATED),
        }
    }

    /// An Event when a run finished: Normal when everything is cached,
    /// Warning naming the failures otherwise.
    pub async fn report(&self, ctx: &Context, obj: &PypiRepository) {
        let Some(st) = self.status.as_ref().filter(|_| self.finished) else {
            return;
        };
        let (_, _, message) = schedule::condition(st);
        if st.phase == PrepopulatePhase::Complete {
            report::normal(ctx, obj, EventReason::Prepopulated, "Prepopulate", message).await;
        } else {
            report::warning(
                ctx,
                obj,
                EventReason::Failed(Reason::PrepopulateFailed),
                "Prepopulate",
                message,
            )
            .await;
        }
    }
}
