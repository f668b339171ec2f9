//! Test controls: per-operation call counters, fault injection and per-key deny rules.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Faults injected into a fraction of control-plane requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Fault {
    /// Fraction (0..=1) of requests answered with ThrottlingException (429, `Retry-After`).
    pub throttle: f64,
    /// Fraction (0..=1) of requests answered with InternalServerException (500).
    pub internal_error: f64,
    /// Each request waits a random time between zero and this before it is answered.
    #[serde(rename = "maxLatencyMs", with = "millis")]
    pub max_latency: Duration,
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// What an injected fault decided for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Injected {
    /// Answer normally.
    None,
    /// Answer 429.
    Throttle,
    /// Answer 500.
    InternalError,
}

/// Counters, faults and deny rules, shared by the server and the library API.
#[derive(Debug, Default)]
pub struct Harness {
    calls: Mutex<BTreeMap<String, u64>>,
    faults: Mutex<BTreeMap<String, Fault>>,
    denies: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

/// The wildcard that applies a fault or deny rule to every operation.
pub const ALL: &str = "*";

impl Harness {
    /// Count one received request for `operation`.
    pub fn count(&self, operation: &str) {
        *self
            .calls
            .lock()
            .expect("calls lock")
            .entry(operation.to_string())
            .or_default() += 1;
    }

    /// All counters.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().expect("calls lock").clone()
    }

    /// Zero every counter.
    pub fn reset_calls(&self) {
        self.calls.lock().expect("calls lock").clear();
    }

    /// Set the fault for one operation, or for all with `"*"`.
    pub fn set_fault(&self, operation: &str, fault: Fault) {
        self.faults
            .lock()
            .expect("faults lock")
            .insert(operation.to_string(), fault);
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.faults.lock().expect("faults lock").clear();
    }

    /// The configured faults by operation.
    pub fn faults(&self) -> BTreeMap<String, Fault> {
        self.faults.lock().expect("faults lock").clone()
    }

    /// The fault that applies: the operation's own entry wins over `"*"`.
    fn fault_for(&self, operation: &str) -> Option<Fault> {
        let faults = self.faults.lock().expect("faults lock");
        faults.get(operation).or_else(|| faults.get(ALL)).cloned()
    }

    /// Roll the dice for one request: returns the latency to add and the outcome.
    pub fn roll(&self, operation: &str) -> (Duration, Injected) {
        let Some(fault) = self.fault_for(operation) else {
            return (Duration::ZERO, Injected::None);
        };
        let mut rng = rand::rng();
        let latency = if fault.max_latency.is_zero() {
            Duration::ZERO
        } else {
            fault.max_latency.mul_f64(rng.random::<f64>())
        };
        let r: f64 = rng.random();
        let outcome = if r < fault.throttle {
            Injected::Throttle
        } else if r < fault.throttle + fault.internal_error {
            Injected::InternalError
        } else {
            Injected::None
        };
        (latency, outcome)
    }

    /// Deny `operation` (or every operation with `"*"`) to `access_key_id`.
    pub fn deny(&self, access_key_id: &str, operation: &str) {
        self.denies
            .lock()
            .expect("denies lock")
            .entry(access_key_id.to_string())
            .or_default()
            .insert(operation.to_string());
    }

    /// Remove every deny rule.
    pub fn clear_denies(&self) {
        self.denies.lock().expect("denies lock").clear();
    }

    /// The deny rules by access key.
    pub fn denies(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.denies.lock().expect("denies lock").clone()
    }

    /// Whether `access_key_id` is denied `operation`.
    pub fn is_denied(&self, access_key_id: &str, operation: &str) -> bool {
        self.denies
            .lock()
            .expect("denies lock")
            .get(access_key_id)
            .is_some_and(|ops| ops.contains(operation) || ops.contains(ALL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_fault_wins_over_wildcard_and_certain_faults_fire() {
        let h = Harness::default();
        h.set_fault(
            ALL,
            Fault {
                throttle: 1.0,
                ..Fault::default()
            },
        );
        h.set_fault(
            "ListDomains",
            Fault {
                internal_error: 1.0,
                ..Fault::default()
            },
        );
        assert_eq!(h.roll("CreateDomain").1, Injected::Throttle);
        assert_eq!(h.roll("ListDomains").1, Injected::InternalError);
        h.clear_faults();
        assert_eq!(h.roll("ListDomains"), (Duration::ZERO, Injected::None));
    }

    #[test]
    fn deny_rules_and_counters() {
        let h = Harness::default();
        h.deny("AKID", "GetAuthorizationToken");
        assert!(h.is_denied("AKID", "GetAuthorizationToken"));
        assert!(!h.is_denied("AKID", "ListDomains"));
        h.deny("AKID", ALL);
        assert!(h.is_denied("AKID", "ListDomains"));
        assert!(!h.is_denied("OTHER", "ListDomains"));
        h.count("ListDomains");
        h.count("ListDomains");
        assert_eq!(h.calls()["ListDomains"], 2);
        h.reset_calls();
        assert!(h.calls().is_empty());
    }

    #[test]
    fn fault_json_shape() {
        let f: Fault = serde_json::from_str(r#"{"throttle":0.5,"maxLatencyMs":250}"#).unwrap();
        assert_eq!(f.throttle, 0.5);
        assert_eq!(f.internal_error, 0.0);
        assert_eq!(f.max_latency, Duration::from_millis(250));
    }
}
