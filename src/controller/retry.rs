//! The error policy: when a failed reconcile is tried again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::backoff;
use super::context::Context;
use super::state::Uid;
use crate::crd::PypiRepository;
use crate::error::{Error, RetryClass};

/// Decides when a failed object is retried: transient errors back off
/// quickly, errors that need a fix back off slowly, and a spec that cannot
/// work waits for a change. Either way the object comes back no later than
/// its Secret's token is due, since a failing reconcile still refreshes the
/// token of a repository that exists. Status and the Warning Event were
/// already written by the reconcile itself.
pub fn error_policy(obj: Arc<PypiRepository>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(err.category());
    let class = err.retry_class();
    let key = Uid::of(obj.as_ref());
    let attempt = ctx.states.update(&key, |s| {
        s.attempts += 1;
        s.attempts
    });
    let token_due = ctx.until_token_due(&key, Utc::now());
    if class == RetryClass::Permanent {
        tracing::warn!(object = %obj.name_any(), namespace = obj.namespace().unwrap_or_default(), error = %err.report(), "waiting for a spec change");
        return retry(None, token_due);
    }
    let delay = backoff::jitter(
        backoff::delay(ctx.config.backoff, class, attempt),
        rand::random::<f64>(),
    );
    let delay = token_due.map_or(delay, |due| delay.min(due));
    tracing::warn!(
        object = %obj.name_any(),
        namespace = obj.namespace().unwrap_or_default(),
        error = %err.report(),
        attempt,
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// After `backoff` (`None`: wait for a spec change), but never later than
/// the Secret's token is due.
fn retry(backoff: Option<Duration>, token_due: Option<Duration>) -> Action {
    match (backoff, token_due) {
        (Some(b), Some(t)) => Action::requeue(b.min(t)),
        (Some(d), None) | (None, Some(d)) => Action::requeue(d),
        (None, None) => Action::await_change(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_object_is_retried_no_later_than_its_token_is_due() {
        let (s, min) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(
            retry(None, None),
            Action::await_change(),
            "nothing due: wait for a spec change"
        );
        assert_eq!(
            retry(None, Some(min)),
            Action::requeue(min),
            "a spec error still comes back for the token"
        );
        assert_eq!(
            retry(Some(5 * min), Some(min)),
            Action::requeue(min),
            "a long backoff is cut short"
        );
        assert_eq!(retry(Some(s), Some(min)), Action::requeue(s));
    }
}
