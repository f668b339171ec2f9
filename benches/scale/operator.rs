//! The operator under test: the release binary as a child process, watching
//! all namespaces with its default flags, talking to the in-process emulator.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use codeartifact_emulator::Emulator;
use testenv::ControlPlane;

/// The operator process; killed when dropped.
pub struct Operator {
    child: Child,
    port: u16,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl Operator {
    /// Starts the binary at `bin`. `rust_log` replaces the operator's default
    /// filter (for profiling with debug logs); `None` keeps the default.
    pub fn start(
        bin: &Path,
        cp: &ControlPlane,
        emulator: &Emulator,
        log: PathBuf,
        rust_log: Option<&str>,
    ) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(bin);
        // Default flags apart from where to listen and the cluster name in
        // ownership tags: resync 10m, backoff 2s..5m, all namespaces.
        cmd.args([
            "run",
            &format!("--listen=127.0.0.1:{port}"),
            "--cluster-name=bench",
            "--log-format=json",
            // Each PypiRepository creates its domain, as the bench measures.
            "--tenancy=open",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", cp.kubeconfig_path())
        .env("AWS_ACCESS_KEY_ID", "AKIDEMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", emulator.region())
        .env("AWS_ENDPOINT_URL_CODEARTIFACT", emulator.base_url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out));
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        watchdog(child.id());
        Ok(Self { child, port, log })
    }

    /// Process id, for /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for /readyz (caches synced); fails early if the process exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
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

    /// The sum of every series of a metric family in /metrics, e.g.
    /// `codeartifact_operator_reconciles_total`; 0 when absent or unreachable.
    pub async fn metric(&self, name: &str) -> f64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let Ok(text) = async { reqwest::get(&url).await?.text().await }.await else {
            return 0.0;
        };
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([' ', '{']))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills `pid` once this process is gone, even after SIGKILL, so no
/// operator outlives the benchmark.
fn watchdog(pid: u32) {
    let script = "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\" 2>/dev/null; true";
    let _ = Command::new("bash")
        .args([
            "-c",
            script,
            "watchdog",
            &std::process::id().to_string(),
            &pid.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
