//! [`Node`]: a control plane with a real node (containerd, Debian's runc, the
//! kubelet and kube-scheduler), started by `up.sh --node`, and the images its
//! Pods run, built by `images/build.sh` and imported into containerd.
//!
//! One node per machine: the node is named after the host and uses host-wide
//! cgroups, so `up.sh` holds a machine-wide lock and a second start fails
//! loudly. Test binaries run one after another under `cargo test`, so each may
//! have its own; within a binary, tests share [`Node::shared`].

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::ControlPlane;
use crate::scripts;

/// A control plane with one Ready node. Dereferences to its [`ControlPlane`].
#[derive(Debug)]
pub struct Node {
    control_plane: ControlPlane,
    /// The node's name (the host name, lower case).
    name: String,
    /// containerd, ctr, kubelet, kube-scheduler, kube-proxy.
    node_bin_dir: PathBuf,
    /// Image references already imported, so each is imported once.
    imported: Mutex<Vec<String>>,
}

static SHARED: OnceLock<Result<Node, String>> = OnceLock::new();

/// Images `images/build.sh` can build (see [`Node::image`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image<'a> {
    /// Debian bookworm with python3, pip and twine.
    Workload,
    /// The operator's runtime image around this binary.
    Operator(&'a Path),
    /// The README's CI runner image rebuilt from parts: Debian bookworm,
    /// python3 and this uv binary (see `images/build.sh ci`).
    Ci(&'a Path),
}

impl Node {
    /// Starts a control plane with a node, owned by this process (stopped on
    /// drop, or by up.sh's watchdog when the process exits).
    ///
    /// Fails with the reason when the node cannot run here: not root, no
    /// cgroup v1, a node already running on this machine, a failed build.
    pub fn start() -> Result<Self> {
        let node_bin_dir = scripts::node_bin_dir()?;
        let started = Instant::now();
        let control_plane = ControlPlane::start_with(&[
            "--node".as_ref(),
            "--node-bin-dir".as_ref(),
            node_bin_dir.as_os_str(),
        ])?;
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .context("reading the host name")?
            .trim()
            .to_lowercase();
        eprintln!(
            "testenv: control plane and node {name} ready in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            control_plane,
            name,
            node_bin_dir,
            imported: Mutex::new(Vec::new()),
        })
    }

    /// The node shared by all tests of this test binary, started on first use.
    ///
    /// # Panics
    /// If it cannot start, with the reason (never a silent skip).
    pub fn shared() -> &'static Node {
        match SHARED.get_or_init(|| Self::start().map_err(|e| format!("{e:#}"))) {
            Ok(node) => node,
            Err(reason) => panic!("testenv: the shared node failed to start: {reason}"),
        }
    }

    /// The control plane the node is registered with.
    pub fn control_plane(&self) -> &ControlPlane {
        &self.control_plane
    }

    /// The node's name, for `spec.nodeName` or field selectors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ctr -n k8s.io ARGS` against the node's containerd.
    pub fn ctr<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(self.node_bin_dir.join("ctr"));
        cmd.arg("--address")
            .arg(self.dir().join("node/containerd/containerd.sock"))
            .args(["-n", "k8s.io"])
            .args(args);
        cmd
    }

    /// Builds (or takes from the cache) an image and imports it into the
    /// node's containerd once; returns the reference for a Pod's `image:`
    /// (use `imagePullPolicy: Never`: there is no registry).
    pub fn image(&self, image: Image<'_>) -> Result<String> {
        let (tar, reference) = scripts::build_image(image)?;
        let mut imported = self.imported.lock().unwrap_or_else(|e| e.into_inner());
        if !imported.contains(&reference) {
            let t0 = Instant::now();
            let out = self
                .ctr(["images", "import"])
                .arg(&tar)
                .stdin(Stdio::null())
                .output()
                .context("running ctr images import")?;
            if !out.status.success() {
                bail!(
                    "importing {} failed: {}",
                    tar.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            eprintln!(
                "testenv: imported {reference} in {:.1}s",
                t0.elapsed().as_secs_f64()
            );
            imported.push(reference.clone());
        }
        Ok(reference)
    }
}

impl Deref for Node {
    type Target = ControlPlane;

    fn deref(&self) -> &ControlPlane {
        &self.control_plane
    }
}

impl Image<'_> {
    /// The arguments of `images/build.sh` for this image.
    pub(crate) fn build_args(&self) -> Vec<&OsStr> {
        match self {
            Image::Workload => vec!["workload".as_ref()],
            Image::Operator(bin) => vec!["operator".as_ref(), bin.as_os_str()],
            Image::Ci(uv) => vec!["ci".as_ref(), uv.as_os_str()],
        }
    }
}
