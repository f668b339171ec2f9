//! When a pre-population runs, and what status and condition it reports. Pure,
//! with `now` passed in: a spec runs once, again after a failure (with backoff),
//! and continues while work is left.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::plan::Plan;
use crate::crd::{PrepopulatePhase, PrepopulateSpec, PrepopulateStatus, Reason};

/// The delay before a run that continues unfinished work.
pub const CONTINUE_AFTER: Duration = Duration::from_secs(1);
/// The first retry delay after a run with failures; doubled per failed run.
pub const RETRY_BASE: Duration = Duration::from_secs(30);
/// The longest retry delay.
pub const RETRY_MAX: Duration = Duration::from_secs(3600);

/// What to do with spec.prepopulate in this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Nothing to do; the status stays as it is.
    Keep,
    /// A failed run is retried at this time.
    RetryAt(DateTime<Utc>),
    /// Run: start over (`fresh`) or continue the plan in memory.
    Run { fresh: bool },
}

/// Hash of the spec: a changed spec means a new pre-population.
pub fn spec_hash(spec: &PrepopulateSpec) -> String {
    let json = serde_json::to_vec(spec).expect("the spec serialises");
    let digest = Sha256::digest(&json);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Whether (and how) to run, from what status last said.
pub fn decide(hash: &str, last: Option<&PrepopulateStatus>, now: DateTime<Utc>) -> Decision {
    let Some(last) = last.filter(|l| l.spec_hash == hash) else {
        return Decision::Run { fresh: true };
    };
    match last.phase {
        PrepopulatePhase::Complete => Decision::Keep,
        PrepopulatePhase::InProgress => Decision::Run { fresh: false },
        PrepopulatePhase::Failed => {
            let at = last
                .last_run_time
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map_or(now, |t| t.with_timezone(&Utc) + retry_delay(last.attempts));
            if at <= now {
                Decision::Run { fresh: true }
            } else {
                Decision::RetryAt(at)
            }
        }
    }
}

/// Delay before retrying after `attempts` failed runs in a row.
pub fn retry_delay(attempts: u32) -> chrono::Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
    let delay = RETRY_BASE.saturating_mul(factor).min(RETRY_MAX);
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
}

/// The status after a run over `plan`; `last` is the previous status (for the attempt count).
pub fn status_after(
    plan: &Plan,
    last: Option<&PrepopulateStatus>,
    now: DateTime<Utc>,
) -> PrepopulateStatus {
    let failures = plan.failures().to_vec();
    let phase = if !plan.is_done() {
        PrepopulatePhase::InProgress
    } else if failures.is_empty() {
        PrepopulatePhase::Complete
    } else {
        PrepopulatePhase::Failed
    };
    let previous = last
        .filter(|l| l.spec_hash == plan.spec_hash)
        .map_or(0, |l| l.attempts);
    let attempts = match phase {
        PrepopulatePhase::Failed => previous + 1,
        PrepopulatePhase::InProgress => previous,
        PrepopulatePhase::Complete => 0,
    };
    PrepopulateStatus {
        spec_hash: plan.spec_hash.clone(),
        phase,
        cached: plan.cached_list(),
        failed: failures,
        attempts,
        last_run_time: Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    }
}

/// The Prepopulated condition for a status: (true?, reason, message).
pub fn condition(st: &PrepopulateStatus) -> (bool, Reason, String) {
    let n = st.cached.len();
    match st.phase {
        PrepopulatePhase::Complete => (
            true,
            Reason::Prepopulated,
            format!("{n} package versions are cached in the repository"),
        ),
        PrepopulatePhase::InProgress => (
            false,
            Reason::PrepopulateInProgress,
            format!("{n} package versions cached so far; continuing"),
        ),
        PrepopulatePhase::Failed => {
            let names: Vec<String> = st
                .failed
                .iter()
                .take(5)
                .map(|f| format!("{} ({:?})", f.requirement, f.reason))
                .collect();
            let more = st.failed.len().saturating_sub(names.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            (
                false,
                Reason::PrepopulateFailed,
                format!(
                    "{n} package versions cached; {} failed: {}{more} (see status.prepopulate.failed); retried with backoff",
                    st.failed.len(),
                    names.join(", ")
                ),
            )
        }
    }
}
