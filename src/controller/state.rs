//! The controller's memory of each PypiRepository, in one map keyed by uid
//! and cleared in one place ([`States::forget`]). Kept in memory because the
//! object in the watch cache can lag behind what the operator just did.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use kube::{Resource, ResourceExt};

use super::remote::SyncRecord;
use crate::crd::PypiRepositoryStatus;

/// A Kubernetes object uid: the key of per-object state (names can be reused).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Uid(String);

impl Uid {
    /// The uid of `obj` (empty for objects not yet stored, which never reach a reconcile).
    pub fn of(obj: &impl Resource) -> Self {
        Self(obj.uid().unwrap_or_default())
    }

    /// The uid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the controller remembers of one object.
#[derive(Clone, Debug, Default)]
pub struct ObjectState {
    /// Failed reconciles in a row, for backoff.
    pub attempts: u32,
    /// The last full comparison with CodeArtifact.
    pub synced: Option<SyncRecord>,
    /// When the token in the object's Secret must next be replaced, so that
    /// an object whose reconciles fail is still retried in time.
    pub token_due: Option<DateTime<Utc>>,
    /// The status the operator last wrote. The operator is the only writer
    /// of status, so this is the newest one even when the watch cache has
    /// not caught up; reconciles start from it.
    pub written: Option<PypiRepositoryStatus>,
}

/// Every object's state.
#[derive(Default)]
pub struct States(Mutex<HashMap<Uid, ObjectState>>);

impl States {
    /// Reads an object's state (default when there is none).
    pub fn read<T>(&self, uid: &Uid, f: impl FnOnce(&ObjectState) -> T) -> T {
        let map = self.0.lock().expect("state lock");
        match map.get(uid) {
            Some(s) => f(s),
            None => f(&ObjectState::default()),
        }
    }

    /// Changes an object's state.
    pub fn update<T>(&self, uid: &Uid, f: impl FnOnce(&mut ObjectState) -> T) -> T {
        let mut map = self.0.lock().expect("state lock");
        f(map.entry(uid.clone()).or_default())
    }

    /// Resets the failure count after a success, without bringing back the
    /// state of an object that was just forgotten.
    pub fn succeeded(&self, uid: &Uid) {
        if let Some(s) = self.0.lock().expect("state lock").get_mut(uid) {
            s.attempts = 0;
        }
    }

    /// Forgets everything about an object that is gone.
    pub fn forget(&self, uid: &Uid) {
        self.0.lock().expect("state lock").remove(uid);
    }

    /// How many objects have state (for tests and leak checks).
    pub fn len(&self) -> usize {
        self.0.lock().expect("state lock").len()
    }

    /// Whether no object has state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_per_uid_and_forgotten_in_one_call() {
        let states = States::default();
        let (a, b) = (Uid("a".into()), Uid("b".into()));
        states.update(&a, |s| s.attempts += 2);
        states.update(&b, |s| s.attempts += 1);
        assert_eq!(states.read(&a, |s| s.attempts), 2);
        states.forget(&a);
        assert_eq!(states.read(&a, |s| s.attempts), 0);
        assert_eq!(states.len(), 1);
    }
}
