//! [`wait_for`]: polling with a deadline, for conditions the tests cannot watch
//! for directly (garbage collection, namespace deletion, CRD establishment),
//! and [`wait_gone`] for the most common one: an object deleted.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Between two checks: short enough to notice a change quickly, long enough
/// not to load two shared cores with requests.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Calls `condition` until it returns `true`, at least once, and fails once
/// `timeout` has passed without success.
///
/// ```no_run
/// # async fn demo(cp: &testenv::ControlPlane) -> anyhow::Result<()> {
/// use std::time::Duration;
/// testenv::wait_for(Duration::from_secs(30), || async {
///     cp.kubectl(["get", "namespace", "default"]).status().is_ok_and(|s| s.success())
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn wait_for<F, Fut>(timeout: Duration, condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for_every(POLL_INTERVAL, timeout, condition).await?;
    Ok(())
}

/// Like [`wait_for`], checking every `interval`; returns the moment the
/// condition was first seen to hold (for measurements).
pub async fn wait_for_every<F, Fut>(
    interval: Duration,
    timeout: Duration,
    mut condition: F,
) -> Result<Instant>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if condition().await {
            return Ok(Instant::now());
        }
        if started.elapsed() >= timeout {
            bail!("condition not met within {timeout:?}");
        }
        tokio::time::sleep(interval).await;
    }
}

/// Waits until `api` answers that `name` does not exist (an error answer
/// does not count as gone).
pub async fn wait_gone<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<()>
where
    K: Resource + Clone + Debug + DeserializeOwned,
{
    wait_for(timeout, || async {
        matches!(api.get_opt(name).await, Ok(None))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_once_the_condition_holds() {
        let mut calls = 0;
        wait_for(Duration::from_secs(5), || {
            calls += 1;
            let done = calls >= 3;
            async move { done }
        })
        .await
        .unwrap();
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn fails_after_the_timeout() {
        let err = wait_for(Duration::from_millis(300), || async { false })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not met"), "{err}");
    }
}
