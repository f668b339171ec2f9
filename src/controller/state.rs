//! The controller's memory of each PypiRepository, in one map keyed by uid
//! and cleared in one place ([`States::forget`]). Kept in memory because the
//! object in the watch cache can lag behind what the operator just did.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::{Resource, ResourceExt};

use super::remote::SyncRecord;
use super::secret_memo::SecretMemo;
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
    /// The resourceVersion of the Secret as the operator last wrote it: the
    /// watch event of that write is the operator's own echo, not news.
    pub secret_version: Option<String>,
    /// The status the operator last wrote, until the watch cache has caught
    /// up with it. The operator is the only writer of status, so this is the
    /// newest one while the cache lags; reconciles start from it. Dropped
    /// once the cache holds it, so that a settled object's status is kept
    /// once (in the cache), not twice.
    /// Boxed, like the other rarely set members: every object has a state
    /// and the map reserves each entry's full size (8,192 entries for 5,000
    /// objects), so the inline status made every entry 1.1 KiB (issue 17).
    pub written: Option<Box<PypiRepositoryStatus>>,
    /// The retention run under way, between its steps.
    pub retention: Option<Box<crate::retention::schedule::Progress>>,
    /// spec.prepopulate work left after the last reconcile's slice.
    pub prepopulate: Option<Box<crate::prepopulate::Plan>>,
    /// Moves on with every change to the object's Secret that the operator
    /// did not make, and with every re-list of Secrets.
    pub secret_epoch: u64,
    /// The Secret as last known right (void once the epoch moved on).
    pub secret_memo: Option<SecretMemo>,
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

    /// The status last written for `uid` when the watch cache (`cached`)
    /// does not hold it yet; forgets that copy once it does.
    pub fn newer_status(
        &self,
        uid: &Uid,
        cached: Option<&PypiRepositoryStatus>,
    ) -> Option<PypiRepositoryStatus> {
        let mut map = self.0.lock().expect("state lock");
        let state = map.get_mut(uid)?;
        if state.written.as_deref() == cached {
            state.written = None;
        }
        state.written.as_deref().cloned()
    }

    /// Whether a Secret event only reports the operator's own last write to
    /// it (same resourceVersion). Such an echo wakes no reconcile, which
    /// saves one reconcile (and a Secret read) per Secret write; any other
    /// change, such as someone editing or deleting the Secret, still does.
    pub fn is_own_secret_write(&self, secret: &PartialObjectMeta<Secret>) -> bool {
        let Some(version) = secret.metadata.resource_version.as_deref() else {
            return false;
        };
        let map = self.0.lock().expect("state lock");
        secret.owner_references().iter().any(|o| {
            o.kind == "PypiRepository"
                && map
                    .get(&Uid(o.uid.clone()))
                    .is_some_and(|s| s.secret_version.as_deref() == Some(version))
        })
    }

    /// Notes a Secret event: `true` when it only echoes the operator's own
    /// last write; otherwise the Secret's owners forget what they knew of it.
    pub fn secret_event(&self, secret: &PartialObjectMeta<Secret>) -> bool {
        if self.is_own_secret_write(secret) {
            return true;
        }
        let mut map = self.0.lock().expect("state lock");
        for o in secret.owner_references() {
            if let Some(s) = map.get_mut(&Uid(o.uid.clone())) {
                s.secret_epoch += 1;
            }
        }
        false
    }

    /// After a re-list (events may have been missed), every object forgets
    /// what it knew of its Secret.
    pub fn secrets_relisted(&self) {
        for s in self.0.lock().expect("state lock").values_mut() {
            s.secret_epoch += 1;
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
    fn what_is_kept_per_object_stays_small() {
        // Every object has a state and a cached copy, and the state map
        // reserves room for its full size per entry (bench: 5,000 objects),
        // so rarely set members are boxed in both.
        let size = std::mem::size_of::<ObjectState>();
        assert!(size <= 384, "ObjectState is {size} bytes");
        let size = std::mem::size_of::<crate::crd::PypiRepository>();
        assert!(size <= 1088, "PypiRepository is {size} bytes");
    }

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

    #[test]
    fn only_the_echo_of_the_operators_own_secret_write_is_ignored() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let states = States::default();
        let secret = |rv: &str| {
            let mut s = PartialObjectMeta::<Secret>::default();
            s.metadata.resource_version = Some(rv.into());
            s.metadata.owner_references = Some(vec![OwnerReference {
                kind: "PypiRepository".into(),
                uid: "a".into(),
                ..Default::default()
            }]);
            s
        };
        assert!(
            !states.is_own_secret_write(&secret("7")),
            "nothing written yet"
        );
        states.update(&Uid("a".into()), |s| s.secret_version = Some("7".into()));
        assert!(
            states.is_own_secret_write(&secret("7")),
            "the echo of our write"
        );
        assert!(
            !states.is_own_secret_write(&secret("8")),
            "someone else changed it since"
        );
        let mut orphan = secret("7");
        orphan.metadata.owner_references = None;
        assert!(!states.is_own_secret_write(&orphan));
    }

    #[test]
    fn the_written_status_is_kept_only_until_the_cache_has_it() {
        let states = States::default();
        let uid = Uid("a".into());
        let old = PypiRepositoryStatus::default();
        let new = PypiRepositoryStatus {
            secret_name: Some("web-pypi".into()),
            ..Default::default()
        };
        assert_eq!(
            states.newer_status(&uid, Some(&old)),
            None,
            "nothing written"
        );
        states.update(&uid, |s| s.written = Some(Box::new(new.clone())));
        assert_eq!(
            states.newer_status(&uid, Some(&old)),
            Some(new.clone()),
            "the cache lags: the written status wins"
        );
        assert_eq!(states.newer_status(&uid, Some(&new)), None, "caught up");
        assert!(
            states.read(&uid, |s| s.written.is_none()),
            "the copy is dropped once the cache holds it"
        );
        states.forget(&uid);
        assert_eq!(states.newer_status(&uid, None), None);
        assert!(states.is_empty(), "reading never brings state back");
    }
}
