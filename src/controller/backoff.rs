//! Per-object retry delays: capped exponential, with jitter so that many
//! objects failing together do not retry in lockstep. Pure arithmetic plus a
//! small map of attempt counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::RetryClass;

/// Backoff settings.
#[derive(Clone, Copy, Debug)]
pub struct BackoffConfig {
    /// First delay for transient errors.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

/// Errors that need someone to act start this many times slower than
/// transient ones: a fix in IAM takes minutes, not seconds.
const NEEDS_FIX_FACTOR: u32 = 15;

/// The delay before retry number `attempt` (1-based), before jitter.
pub fn delay(config: BackoffConfig, class: RetryClass, attempt: u32) -> Duration {
    let base = match class {
        RetryClass::NeedsFix => config.base.saturating_mul(NEEDS_FIX_FACTOR),
        _ => config.base,
    };
    let exp = attempt.saturating_sub(1).min(20);
    base.saturating_mul(1u32 << exp).min(config.max)
}

/// Spreads a delay by up to ±10% using `unit` in [0, 1).
pub fn jitter(d: Duration, unit: f64) -> Duration {
    d.mul_f64(0.9 + 0.2 * unit.clamp(0.0, 1.0))
}

/// Attempt counts per object, reset on success.
#[derive(Default)]
pub struct Attempts(Mutex<HashMap<String, u32>>);

impl Attempts {
    /// Records a failure and returns the attempt number.
    pub fn failed(&self, key: &str) -> u32 {
        let mut map = self.0.lock().expect("attempts lock");
        let n = map.entry(key.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    /// Forgets an object's failures.
    pub fn succeeded(&self, key: &str) {
        self.0.lock().expect("attempts lock").remove(key);
    }
}

/// How long until `due`: at least a second, so that a token due right now
/// cannot cause a busy loop; `None` once it has passed.
pub fn until(due: DateTime<Utc>, now: DateTime<Utc>) -> Option<Duration> {
    (due - now)
        .to_std()
        .ok()
        .map(|d| d.max(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: BackoffConfig = BackoffConfig {
        base: Duration::from_secs(2),
        max: Duration::from_secs(300),
    };

    #[test]
    fn transient_doubles_from_base_up_to_the_cap() {
        let d: Vec<_> = (1..=9)
            .map(|a| delay(C, RetryClass::Transient, a).as_secs())
            .collect();
        assert_eq!(d, [2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(delay(C, RetryClass::Transient, 1000), C.max);
    }

    #[test]
    fn needs_fix_starts_slower() {
        assert_eq!(delay(C, RetryClass::NeedsFix, 1), Duration::from_secs(30));
        assert_eq!(delay(C, RetryClass::NeedsFix, 5), Duration::from_secs(300));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let d = Duration::from_secs(100);
        assert_eq!(jitter(d, 0.0), Duration::from_secs(90));
        assert!(jitter(d, 0.999) <= Duration::from_secs(110));
    }

    #[test]
    fn attempts_count_up_and_reset() {
        let a = Attempts::default();
        assert_eq!(a.failed("x"), 1);
        assert_eq!(a.failed("x"), 2);
        assert_eq!(a.failed("y"), 1);
        a.succeeded("x");
        assert_eq!(a.failed("x"), 1);
    }

    #[test]
    fn a_token_due_now_waits_a_second_and_a_past_one_does_not_count() {
        let now = Utc::now();
        assert_eq!(
            until(now + chrono::TimeDelta::milliseconds(100), now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            until(now + chrono::TimeDelta::minutes(10), now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(until(now - chrono::TimeDelta::seconds(1), now), None);
    }
}
