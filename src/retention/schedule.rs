//! When retention runs (pure, `now` passed in) and what a run carries from
//! one reconcile to the next: a run walks the repository's packages a page
//! at a time, so it never holds a reconcile slot for long.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::crd::{MAX_LISTED_VERSIONS, RetentionStatus, to_time};

/// Packages examined per reconcile.
pub const PACKAGES_PER_STEP: i32 = 10;
/// The pause between two pages of one run.
pub const STEP_PAUSE: Duration = Duration::from_secs(1);

/// A run under way.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// The generation whose spec the run applies.
    pub generation: i64,
    /// When it started.
    pub started: DateTime<Utc>,
    /// ListPackages' token for the next page; `None` before the first.
    pub next_page: Option<String>,
    /// Packages examined so far (a set: a page retried after a failure
    /// is not counted twice).
    pub packages: BTreeSet<String>,
    /// `package==version` of what was removed (or, dry run, would be).
    pub versions: BTreeSet<String>,
    /// `package==version` of what CodeArtifact refused to remove.
    pub refused: BTreeSet<String>,
    /// Failed steps in a row.
    pub attempts: u32,
    /// After a failed step: not before this time.
    pub retry_at: Option<DateTime<Utc>>,
}

impl Progress {
    /// A run starting at `now` for `generation`.
    pub fn start(generation: i64, now: DateTime<Utc>) -> Self {
        Progress {
            generation,
            started: now,
            next_page: None,
            packages: BTreeSet::new(),
            versions: BTreeSet::new(),
            refused: BTreeSet::new(),
            attempts: 0,
            retry_at: None,
        }
    }

    /// Records a failed step, retried after `delay(attempt)` (1-based),
    /// and returns when.
    pub fn failed_step(
        &mut self,
        delay: impl FnOnce(u32) -> Duration,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        self.attempts += 1;
        let at = now + chrono::Duration::from_std(delay(self.attempts)).unwrap_or_default();
        self.retry_at = Some(at);
        at
    }

    /// Records a step that worked: failures no longer count.
    pub fn step_done(&mut self) {
        self.attempts = 0;
        self.retry_at = None;
    }

    /// The status once the run finished at `now`.
    pub fn finish(self, dry_run: bool, interval: Duration, now: DateTime<Utc>) -> RetentionStatus {
        let next = now + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::days(1));
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let chosen = count(self.versions.len());
        let (removed, would_remove) = if dry_run { (0, chosen) } else { (chosen, 0) };
        RetentionStatus {
            last_run_time: Some(to_time(now)),
            next_run_time: Some(to_time(next)),
            observed_generation: Some(self.generation),
            dry_run,
            packages: count(self.packages.len()),
            removed,
            would_remove,
            failed: count(self.refused.len()),
            versions: self
                .versions
                .into_iter()
                .take(MAX_LISTED_VERSIONS)
                .collect(),
        }
    }
}

/// What the scheduler says for one reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum Due {
    /// Run a step now (continuing `Progress`, or a new run).
    Now,
    /// Nothing to do until then.
    At(DateTime<Utc>),
}

/// Whether a step is due: a run under way continues unless it waits for a
/// retry; otherwise a run starts when none has run for this generation, or
/// when the next run time has come.
pub fn due(
    last: Option<&RetentionStatus>,
    progress: Option<&Progress>,
    generation: i64,
    now: DateTime<Utc>,
) -> Due {
    if let Some(p) = progress.filter(|p| p.generation == generation) {
        return match p.retry_at {
            Some(at) if at > now => Due::At(at),
            _ => Due::Now,
        };
    }
    let Some(last) = last.filter(|l| l.observed_generation == Some(generation)) else {
        return Due::Now;
    };
    match last.next_run_time.as_ref().map(from_time) {
        Some(at) if at > now => Due::At(at),
        _ => Due::Now,
    }
}

fn from_time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.0.as_second(), 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    fn last(generation: i64, next: i64) -> RetentionStatus {
        RetentionStatus {
            observed_generation: Some(generation),
            next_run_time: Some(to_time(t(next))),
            ..RetentionStatus::default()
        }
    }

    #[test]
    fn a_first_run_or_a_changed_spec_is_due_at_once() {
        assert_eq!(due(None, None, 1, t(100)), Due::Now);
        assert_eq!(due(Some(&last(1, 500)), None, 2, t(100)), Due::Now);
        assert_eq!(due(Some(&last(1, 500)), None, 1, t(100)), Due::At(t(500)));
        assert_eq!(due(Some(&last(1, 500)), None, 1, t(500)), Due::Now);
    }

    #[test]
    fn a_run_under_way_continues_unless_it_waits_for_a_retry() {
        let mut p = Progress::start(1, t(100));
        assert_eq!(due(Some(&last(1, 900)), Some(&p), 1, t(101)), Due::Now);
        let at = p.failed_step(|n| Duration::from_secs(10 * u64::from(n)), t(101));
        assert_eq!(at, t(111));
        assert_eq!(due(None, Some(&p), 1, t(105)), Due::At(t(111)));
        assert_eq!(
            p.failed_step(|n| Duration::from_secs(10 * u64::from(n)), t(111)),
            t(131)
        );
        p.step_done();
        assert_eq!(due(None, Some(&p), 1, t(112)), Due::Now);
        // A spec change abandons the old run: a new one starts.
        assert_eq!(due(Some(&last(1, 900)), Some(&p), 2, t(112)), Due::Now);
    }

    #[test]
    fn a_finished_run_reports_counts_and_the_next_run() {
        let mut p = Progress::start(3, t(0));
        p.packages.insert("a".into());
        p.versions.extend(["a==1".to_string(), "a==2".to_string()]);
        let st = p.clone().finish(false, Duration::from_secs(3600), t(60));
        assert_eq!((st.removed, st.would_remove, st.packages), (2, 0, 1));
        assert_eq!(st.next_run_time, Some(to_time(t(3660))));
        assert_eq!(st.observed_generation, Some(3));
        let dry = p.finish(true, Duration::from_secs(3600), t(60));
        assert_eq!((dry.removed, dry.would_remove), (0, 2));
        assert_eq!(dry.versions, ["a==1", "a==2"]);
    }
}
