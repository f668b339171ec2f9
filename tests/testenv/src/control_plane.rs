//! [`ControlPlane`]: one running etcd + kube-apiserver + kube-controller-manager,
//! its kubeconfig, and preconfigured clients (kube-rs, kubectl, helm).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::scripts;

/// A running control plane, started by `tests/control-plane/up.sh` in a
/// temporary folder and torn down by PID (see the crate docs).
#[derive(Debug)]
pub struct ControlPlane {
    /// The folder up.sh created: certificates, logs, `pids`, `kubeconfig`.
    dir: PathBuf,
    /// Admin (`system:masters`) kubeconfig with embedded certificates.
    kubeconfig: PathBuf,
    /// The folder holding etcd, kube-apiserver, kube-controller-manager, kubectl and helm.
    bin_dir: PathBuf,
}

/// The control plane of this test binary, or why it failed to start. The
/// error is kept (as text) so that every test asking afterwards fails with
/// the same reason instead of starting another attempt.
static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

impl ControlPlane {
    /// Starts a new control plane owned by this process: it is stopped when
    /// the value is dropped, or by up.sh's watchdog when the process exits.
    ///
    /// Finds the binaries through `$TESTENV_BIN_DIR`, else by running
    /// `build.sh` (which reuses its cache and builds only on a cold machine).
    /// Blocks until etcd, kube-apiserver and kube-controller-manager are ready.
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    /// [`ControlPlane::start`] with extra `up.sh` flags (`--node ...`).
    pub(crate) fn start_with(up_args: &[&OsStr]) -> Result<Self> {
        let bin_dir = scripts::bin_dir()?;
        let started = Instant::now();
        let kubeconfig =
            scripts::run_up(&bin_dir, up_args).context("starting the control plane")?;
        let dir = kubeconfig
            .parent()
            .context("kubeconfig path has no folder")?
            .to_path_buf();
        eprintln!(
            "testenv: control plane ready in {:.1}s, KUBECONFIG={}",
            started.elapsed().as_secs_f64(),
            kubeconfig.display()
        );
        Ok(Self {
            dir,
            kubeconfig,
            bin_dir,
        })
    }

    /// The control plane shared by all tests of this test binary, started on
    /// first use. Safe to call from `#[tokio::test]` and from several tests at
    /// once: the first caller starts it (blocking its thread), the others wait.
    ///
    /// It is never dropped; up.sh's watchdog stops it when the process exits.
    ///
    /// # Panics
    /// If the control plane cannot be started, with the reason.
    pub fn shared() -> &'static ControlPlane {
        let shared = SHARED.get_or_init(|| Self::start().map_err(|e| format!("{e:#}")));
        match shared {
            Ok(control_plane) => control_plane,
            Err(reason) => panic!("testenv: the shared control plane failed to start: {reason}"),
        }
    }

    /// Path of the admin kubeconfig (client certificate `CN=admin, O=system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The folder with etcd, kube-apiserver, kube-controller-manager, kubectl and helm.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The control plane's folder: logs (`*.log`), `pids`, certificates.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new admin client built from the kubeconfig.
    ///
    /// A new one per call on purpose: a `kube::Client` belongs to the tokio
    /// runtime it first ran on, and each `#[tokio::test]` has its own runtime.
    ///
    /// # Panics
    /// If the kubeconfig cannot be read or turned into a client.
    pub async fn client(&self) -> kube::Client {
        client_from(&self.kubeconfig).await.unwrap_or_else(|e| {
            panic!(
                "testenv: no client for {}: {e:#}",
                self.kubeconfig.display()
            )
        })
    }

    /// The admin client's configuration, for a client that needs more (say,
    /// its own User-Agent) before [`kube::Client::try_from`].
    pub async fn client_config(&self) -> Result<kube::Config> {
        config_from(&self.kubeconfig).await
    }

    /// `(name, PID)` of each process up.sh started (etcd, kube-apiserver,
    /// kube-controller-manager ...), from its `pids` file ("NAME PID START" lines).
    pub fn pids(&self) -> Result<Vec<(String, u32)>> {
        let text = std::fs::read_to_string(self.dir.join("pids"))?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut parts = line.split_whitespace();
                let name = parts.next().context("blank line in pids")?;
                let pid = parts.next().context("pids line without a PID")?;
                Ok((name.to_string(), pid.parse()?))
            })
            .collect()
    }

    /// `kubectl ARGS` talking to this control plane as admin. Its discovery
    /// cache stays inside the control plane's folder, not in `~/.kube`.
    /// For async code, `tokio::process::Command::from` converts it.
    pub fn kubectl<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(self.bin_dir.join("kubectl"));
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.join("kubectl-cache"));
        cmd
    }

    /// `helm ARGS` talking to this control plane as admin, with helm's cache,
    /// configuration and data folders inside the control plane's folder.
    pub fn helm<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let helm_home = self.dir.join("helm");
        let mut cmd = Command::new(self.bin_dir.join("helm"));
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", helm_home.join("cache"))
            .env("HELM_CONFIG_HOME", helm_home.join("config"))
            .env("HELM_DATA_HOME", helm_home.join("data"));
        cmd
    }

    /// Stops kube-apiserver (SIGTERM, SIGKILL after 10 s) and starts it again
    /// with the same flags on the same port, then waits until it is ready.
    /// etcd keeps running, so every object survives; clients see the
    /// connection drop and must reconnect. Runs without blocking the runtime,
    /// so tasks under test keep running during the outage.
    pub async fn restart_apiserver(&self) -> Result<()> {
        scripts::restart_apiserver(&self.dir).await
    }
}

/// A kube-rs client from the kubeconfig file at `path`.
pub(crate) async fn client_from(path: &Path) -> Result<kube::Client> {
    Ok(kube::Client::try_from(config_from(path).await?)?)
}

/// The kube-rs configuration of the kubeconfig file at `path`, with the
/// process's TLS provider chosen.
async fn config_from(path: &Path) -> Result<kube::Config> {
    crate::tls::install_provider();
    let kubeconfig = Kubeconfig::read_from(path)?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Err(e) = scripts::run_down(&self.dir) {
            eprintln!(
                "testenv: stopping the control plane in {} failed: {e:#}",
                self.dir.display()
            );
        }
    }
}
