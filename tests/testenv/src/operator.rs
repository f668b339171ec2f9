//! [`OperatorProcess`]: the real operator binary as a child process of a test
//! or the benchmark, talking to a control plane and an in-process emulator.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use codeartifact_emulator::Emulator;

use crate::keys::OPERATOR_KEY;
use crate::metrics::metric_value;
use crate::process::{free_port, watchdog};

/// How to start the operator: `codeartifact-operator run` with `args` after
/// the listen address, its AWS settings pointing at an emulator with
/// [`OPERATOR_KEY`], and nothing else from this process's environment.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The binary (`env!("CARGO_BIN_EXE_codeartifact-operator")` in the
    /// root package's tests and benches).
    pub bin: PathBuf,
    /// Where it finds Kubernetes (admin, or a ServiceAccount's kubeconfig).
    pub kubeconfig: PathBuf,
    /// Port of /metrics, /livez and /readyz on 127.0.0.1.
    pub port: u16,
    /// Flags after `run --listen=127.0.0.1:<port>`.
    pub args: Vec<String>,
    /// `RUST_LOG`; `None` keeps the operator's default filter.
    pub rust_log: Option<String>,
    /// Where stdout and stderr go: emptied at start, appended across restarts.
    pub log: PathBuf,
    /// More environment variables (such as the image's `MALLOC_ARENA_MAX`).
    pub env: Vec<(String, String)>,
    emulator_url: String,
    region: String,
}

impl Launch {
    /// The operator at `bin` against `emulator`, on a free port, logging to
    /// `log_dir/operator-<port>.log`, with no extra flags.
    pub fn new(bin: &Path, kubeconfig: &Path, emulator: &Emulator, log_dir: &Path) -> Self {
        let port = free_port();
        Self {
            bin: bin.to_path_buf(),
            kubeconfig: kubeconfig.to_path_buf(),
            port,
            args: Vec::new(),
            rust_log: None,
            log: log_dir.join(format!("operator-{port}.log")),
            env: Vec::new(),
            emulator_url: emulator.base_url(),
            region: emulator.region().to_string(),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("run")
            .arg(format!("--listen=127.0.0.1:{}", self.port))
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("AWS_ACCESS_KEY_ID", OPERATOR_KEY.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", OPERATOR_KEY.secret_access_key)
            .env("AWS_REGION", &self.region)
            .env("AWS_ENDPOINT_URL_CODEARTIFACT", &self.emulator_url)
            // The emulator serves STS too (AssumeRole for IAM roles).
            .env("AWS_ENDPOINT_URL_STS", &self.emulator_url)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(filter) = &self.rust_log {
            cmd.env("RUST_LOG", filter);
        }
        cmd
    }
}

/// The operator process (or none, between a kill and a start); killed when
/// dropped, and by a [`watchdog`] if this process dies first.
#[derive(Debug)]
pub struct OperatorProcess {
    child: Option<Child>,
    launch: Option<Launch>,
    /// Where its stdout and stderr go (appended across restarts).
    pub log: PathBuf,
    /// Port of /metrics, /livez and /readyz (0 when never started).
    pub port: u16,
}

impl OperatorProcess {
    /// Starts the operator as `launch` says.
    pub fn start(launch: Launch) -> Result<Self> {
        std::fs::File::create(&launch.log)
            .with_context(|| format!("creating {}", launch.log.display()))?;
        let mut op = Self {
            child: None,
            log: launch.log.clone(),
            port: launch.port,
            launch: Some(launch),
        };
        op.spawn()?;
        Ok(op)
    }

    /// A placeholder for a test that starts its operator later (and assigns
    /// it over this one): no process, port 0, an empty log at `log`.
    pub fn not_started(log: PathBuf) -> Self {
        Self {
            child: None,
            launch: None,
            log,
            port: 0,
        }
    }

    fn spawn(&mut self) -> Result<()> {
        let launch = self
            .launch
            .as_ref()
            .context("this operator was never started, so there is nothing to start again")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = launch
            .command()
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", launch.bin.display()))?;
        watchdog(child.id());
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILLs the operator (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills and starts it again with the same flags.
    ///
    /// # Panics
    /// If it cannot be started again.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn()
            .unwrap_or_else(|e| panic!("restarting the operator: {e:#}"));
    }

    /// Starts it again after [`OperatorProcess::kill`], with the same flags;
    /// does nothing while it runs.
    ///
    /// # Panics
    /// If it cannot be started again.
    pub fn start_again(&mut self) {
        if self.child.is_none() {
            self.spawn()
                .unwrap_or_else(|e| panic!("starting the operator again: {e:#}"));
        }
    }

    /// The PID of the running process, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running (it has not exited by itself).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The /metrics page, or why it could not be read (say, the process was killed).
    pub async fn try_metrics(&self) -> Result<String> {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        Ok(reqwest::get(url).await?.error_for_status()?.text().await?)
    }

    /// The /metrics page.
    ///
    /// # Panics
    /// If /metrics does not answer.
    pub async fn metrics(&self) -> String {
        self.try_metrics()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics of the operator: {e:#}"))
    }

    /// A counter or gauge from /metrics (see [`metric_value`] for the
    /// selector), or 0 when absent or the endpoint does not answer.
    pub async fn metric(&self, selector: &str) -> f64 {
        self.try_metrics()
            .await
            .map_or(0.0, |text| metric_value(&text, selector))
    }

    /// Waits for /readyz (caches synced); fails early if the process exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let child = self.child.as_mut().context("the operator is not running")?;
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the operator exited with {status}; see {}",
                    self.log.display()
                );
            }
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "the operator was not ready within {timeout:?}; see {}",
            self.log.display()
        )
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
