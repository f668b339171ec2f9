//! [`TempNamespace`]: a randomly named namespace per test, so tests sharing a
//! control plane do not see each other's objects.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

use crate::ControlPlane;
use crate::control_plane::client_from;

/// Label on every temporary namespace, to find leftovers with a selector.
pub const TEMP_NAMESPACE_LABEL: &str = "testenv.codeartifact-operator.dev/temporary";

/// A namespace named `<prefix>-<random suffix>`, deleted (without waiting)
/// when [`TempNamespace::delete`] is called or the value is dropped.
#[derive(Debug)]
pub struct TempNamespace {
    name: String,
    /// kubectl and its kubeconfig, for the synchronous delete in `Drop`.
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    deleted: bool,
}

impl TempNamespace {
    /// Creates the namespace. `prefix` must be a valid DNS label start
    /// (lowercase letters, digits, '-'); it is cut to 50 characters so the
    /// name stays within the 63-character limit.
    pub async fn create(control_plane: &ControlPlane, prefix: &str) -> Result<Self> {
        let prefix: String = prefix.chars().take(50).collect();
        let name = format!("{prefix}-{}", random_suffix());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEMP_NAMESPACE_LABEL.to_string(), "true".to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let api: Api<Namespace> = Api::all(control_plane.client().await);
        api.create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(Self {
            name,
            kubectl: control_plane.bin_dir().join("kubectl"),
            kubeconfig: control_plane.kubeconfig_path().to_path_buf(),
            deleted: false,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace now; the namespace controller then removes its
    /// contents and the namespace itself in the background.
    pub async fn delete(mut self) -> Result<()> {
        self.deleted = true;
        let api: Api<Namespace> = Api::all(client_from(&self.kubeconfig).await?);
        api.delete(&self.name, &DeleteParams::default())
            .await
            .with_context(|| format!("deleting namespace {}", self.name))?;
        Ok(())
    }
}

impl Drop for TempNamespace {
    /// Drop cannot await, so this shells out to kubectl (about 0.1 s).
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let status = Command::new(&self.kubectl)
            .args([
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
            ])
            .env("KUBECONFIG", &self.kubeconfig)
            .stdout(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "testenv: deleting namespace {} failed: {status:?}",
                self.name
            );
        }
    }
}

/// Six characters of [a-z0-9]: 2e9 names, enough for one control plane's tests.
fn random_suffix() -> String {
    // RandomState is seeded randomly per process; the counter separates calls.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut n = hasher.finish();
    (0..6)
        .map(|_| {
            let c = char::from_digit((n % 36) as u32, 36).expect("digit below 36");
            n /= 36;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_short_lowercase_and_differ() {
        let a = random_suffix();
        let b = random_suffix();
        assert_eq!(a.len(), 6);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(a, b);
    }
}
