//! Prometheus metrics. Every label has a bounded set of values, and no
//! metric ever carries a token.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::retention::metrics::RetentionMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCallLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

/// The operator's metrics and the registry that serves them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    failures: Family<CategoryLabels, Counter>,
    duration: Histogram,
    aws_calls: Family<AwsCallLabels, Counter>,
    token_refreshes: Family<OutcomeLabels, Counter>,
    expiries: Arc<TokenExpiries>,
    /// Package-version retention's metrics.
    pub retention: RetentionMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric under the `codeartifact_operator` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("codeartifact_operator");
        let reconciles = Counter::default();
        registry.register("reconciles", "Reconciliations started", reconciles.clone());
        let failures = Family::<CategoryLabels, Counter>::default();
        registry.register(
            "reconcile_failures",
            "Reconciliations that failed, by error category",
            failures.clone(),
        );
        // 5 ms to about 40 s: a reconcile is a few AWS calls plus Kubernetes writes.
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconciliation",
            duration.clone(),
        );
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        registry.register(
            "aws_calls",
            "CodeArtifact API calls, by operation and outcome",
            aws_calls.clone(),
        );
        let token_refreshes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "token_refreshes",
            "Authorization tokens minted, by outcome",
            token_refreshes.clone(),
        );
        let expiries = Arc::new(TokenExpiries::default());
        registry.register_collector(Box::new(expiries.clone()));
        let retention = RetentionMetrics::register(&mut registry);
        Self {
            retention,
            registry,
            reconciles,
            failures,
            duration,
            aws_calls,
            token_refreshes,
            expiries,
        }
    }

    /// Counts a reconciliation and returns a guard that records its duration when dropped.
    pub fn reconcile_started(&self) -> ReconcileTimer<'_> {
        self.reconciles.inc();
        ReconcileTimer {
            histogram: &self.duration,
            start: std::time::Instant::now(),
        }
    }

    /// Counts a failed reconciliation.
    pub fn reconcile_failed(&self, category: &str) {
        self.failures
            .get_or_create(&CategoryLabels {
                category: category.to_string(),
            })
            .inc();
    }

    /// Counts one CodeArtifact call.
    pub fn aws_call(&self, operation: &str, outcome: &str) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts one token mint attempt.
    pub fn token_refresh(&self, outcome: &str) {
        self.token_refreshes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Records when the token in a PypiRepository's Secret expires (epoch seconds).
    pub fn set_token_expiry(&self, namespace: &str, name: &str, expires_at: i64) {
        self.expiries
            .0
            .lock()
            .expect("expiry map lock")
            .insert((namespace.to_string(), name.to_string()), expires_at);
    }

    /// Forgets a deleted PypiRepository.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.expiries
            .0
            .lock()
            .expect("expiry map lock")
            .remove(&(namespace.to_string(), name.to_string()));
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Records a reconcile's duration when dropped.
pub struct ReconcileTimer<'a> {
    histogram: &'a Histogram,
    start: std::time::Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

/// Seconds until each Secret's token expires, computed at scrape time so the
/// gauge counts down without the operator writing anything.
#[derive(Debug, Default)]
struct TokenExpiries(Mutex<BTreeMap<(String, String), i64>>);

impl Collector for TokenExpiries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = Utc::now().timestamp();
        let entries = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        let mut metric = encoder.encode_descriptor(
            "token_expires_in_seconds",
            "Seconds until the token in each PypiRepository's Secret expires (negative once expired)",
            None,
            MetricType::Gauge,
        )?;
        for ((namespace, name), expires_at) in entries {
            let labels = vec![
                ("namespace".to_string(), namespace),
                ("name".to_string(), name),
            ];
            metric
                .encode_family(&labels)?
                .encode_gauge(&(expires_at - now))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_series_family() {
        let m = Metrics::new();
        drop(m.reconcile_started());
        m.reconcile_failed("throttled");
        m.aws_call("CreateRepository", "success");
        m.token_refresh("success");
        m.set_token_expiry("team-a", "repo", Utc::now().timestamp() + 100);
        let text = m.encode();
        for needle in [
            "codeartifact_operator_reconciles_total 1",
            "codeartifact_operator_reconcile_failures_total{category=\"throttled\"} 1",
            "codeartifact_operator_reconcile_duration_seconds_count 1",
            "codeartifact_operator_aws_calls_total{operation=\"CreateRepository\",outcome=\"success\"} 1",
            "codeartifact_operator_token_refreshes_total{outcome=\"success\"} 1",
            "codeartifact_operator_token_expires_in_seconds{namespace=\"team-a\",name=\"repo\"}",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        m.forget("team-a", "repo");
        assert!(!m.encode().contains("name=\"repo\""));
    }
}
