//! Package-version retention: `policy` turns spec.retention into
//! compiled rules and decides which versions of a package go; `schedule`
//! decides when a run is due and carries a run's progress between
//! reconciles (both pure); `metrics` counts what runs do. The AWS calls are in `aws::versions`, the run itself in
//! `controller::retention`.

pub mod metrics;
pub mod policy;
pub mod schedule;

#[cfg(test)]
mod policy_tests;
