//! A real Kubernetes control plane for the test suite: etcd, kube-apiserver and
//! kube-controller-manager (garbage collector and namespace controller), built
//! from Go modules by `tests/control-plane/build.sh` and started by
//! `tests/control-plane/up.sh`.
//!
//! # One control plane per test binary
//!
//! [`ControlPlane::shared`] starts one control plane the first time a test of a
//! test binary asks for it; every other test of that binary reuses it and
//! isolates itself in its own namespace ([`TempNamespace`]). Starting takes
//! seconds (kube-apiserver alone needs 5-15 s on two busy cores), so one per
//! test would dominate the suite, while one per binary keeps binaries
//! independent of each other: cargo runs them one after another, each with its
//! own ports and folder, and no state leaks from one file's tests into another's.
//! Cluster-scoped objects (CRDs) are shared by the tests of a binary; install
//! them idempotently. A test that disrupts the control plane itself, such as
//! [`ControlPlane::restart_apiserver`], should start its own with
//! [`ControlPlane::start`].
//!
//! # Teardown
//!
//! A shared control plane lives in a `static`, which Rust never drops. Instead
//! `up.sh --owner-pid` runs a watchdog in its own session that stops etcd,
//! kube-apiserver and kube-controller-manager by PID and removes the folder as
//! soon as the test process is gone, however it ended: normal exit, panic,
//! SIGINT or SIGKILL. A [`ControlPlane`] from [`ControlPlane::start`] is also
//! stopped when dropped.
//!
//! # Failures are loud
//!
//! Missing binaries, a failed build or a component that does not become ready
//! make [`ControlPlane::start`] fail (and [`ControlPlane::shared`] panic) with
//! the reason and the component's log tail. Nothing is skipped silently.
//!
//! Binaries come from `$TESTENV_BIN_DIR` if set, else from `build.sh`, which
//! reuses its cache and builds (for many minutes) only on a cold machine.

mod buildkit;
mod control_plane;
mod crd;
mod keys;
mod leaks;
mod metrics;
mod namespace;
mod node;
mod operator;
mod process;
mod scripts;
pub mod tls;
mod wait;

pub use buildkit::BuildKit;
pub use control_plane::ControlPlane;
pub use keys::{OPERATOR_KEY, OTHER_KEY, TestKey};
pub use leaks::LeakScan;
pub use metrics::metric_value;
pub use namespace::{TEMP_NAMESPACE_LABEL, TempNamespace};
pub use node::{Image, Node};
pub use operator::{Launch, OperatorProcess};
pub use process::{free_port, run, try_run, watchdog};
pub use wait::{wait_for, wait_for_every, wait_gone};

/// The value of `KEY` in `tests/control-plane/versions.env`, the versions the
/// binaries are built from (`K8S_VERSION`, `ETCD_VERSION`, `HELM_VERSION`).
///
/// # Panics
/// If the key is missing: a test asking for it relies on the build pinning it.
pub fn pinned_version(key: &str) -> &'static str {
    include_str!("../../control-plane/versions.env")
        .lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .unwrap_or_else(|| panic!("{key} is not set in tests/control-plane/versions.env"))
}
