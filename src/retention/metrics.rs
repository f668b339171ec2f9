//! Retention's metrics: versions removed (or that a dry run would remove),
//! run durations and failed steps. Labels are bounded: an outcome from a
//! fixed set and the failure category from `error::Category`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: &'static str,
}

/// What happened to a version a run chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum VersionOutcome {
    Disposed,
    Deleted,
    /// A dry run would have removed it.
    DryRun,
    /// CodeArtifact refused it (changed meanwhile).
    Refused,
}

/// The retention metrics, registered with the operator's.
#[derive(Debug)]
pub struct RetentionMetrics {
    versions: Family<OutcomeLabels, Counter>,
    runs: Histogram,
    failures: Family<CategoryLabels, Counter>,
}

impl RetentionMetrics {
    /// Creates and registers the metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let versions = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "retention_versions",
            "Package versions chosen by retention runs, by outcome (disposed, deleted, dry_run, refused)",
            versions.clone(),
        );
        // 0.1 s to about 27 min: a run is paced a page of packages at a time.
        let runs = Histogram::new(exponential_buckets(0.1, 2.0, 15));
        registry.register(
            "retention_run_duration_seconds",
            "Time from the start to the end of one retention run",
            runs.clone(),
        );
        let failures = Family::<CategoryLabels, Counter>::default();
        registry.register(
            "retention_failures",
            "Retention steps that failed, by error category",
            failures.clone(),
        );
        RetentionMetrics {
            versions,
            runs,
            failures,
        }
    }

    /// Counts `n` versions with `outcome`.
    pub fn versions(&self, outcome: VersionOutcome, n: usize) {
        self.versions
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc_by(n as u64);
    }

    /// Records a finished run's duration.
    pub fn run_finished(&self, seconds: f64) {
        self.runs.observe(seconds);
    }

    /// Counts a failed step.
    pub fn failed(&self, category: &'static str) {
        self.failures
            .get_or_create(&CategoryLabels { category })
            .inc();
    }
}
