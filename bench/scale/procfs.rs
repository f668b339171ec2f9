//! Reading a process's CPU time and memory from /proc, and sampling the
//! operator's resident set and open sockets while a phase runs (VmHWM only
//! gives the peak of the whole life, not of one phase).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the sampler looks: short enough to catch a burst.
const SAMPLE_PERIOD: Duration = Duration::from_millis(200);

/// Clock ticks per second of /proc/<pid>/stat, from `getconf CLK_TCK`
/// (libc's sysconf would need unsafe code, which the crate forbids).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User plus system CPU seconds of `pid` ("self" for this process), or 0
/// once the process is gone.
pub fn cpu_seconds(pid: &str, ticks: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces; the fields after its closing ')' start at field 3.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state (field 3).
    (field(11) + field(12)) / ticks
}

/// Busy CPU seconds of the whole machine (all CPUs, every state but idle
/// and iowait), from the first line of /proc/stat.
pub fn machine_busy_seconds(ticks: f64) -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().next().and_then(|l| l.strip_prefix("cpu ")) else {
        return 0.0;
    };
    let v: Vec<f64> = cpu
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: f64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum();
    busy / ticks
}

/// A `Vm*` line of /proc/<pid>/status in KiB (VmRSS, VmHWM), 0 when unreadable.
pub fn status_kib(pid: &str, key: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Number of sockets `pid` holds open: mostly its HTTP connections to
/// kube-apiserver and CodeArtifact, which grow with concurrent reconciles.
pub fn open_sockets(pid: &str) -> u64 {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count() as u64
}

/// The largest values seen since the last [`Sampler::take`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Peaks {
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// Open sockets.
    pub sockets: u64,
}

/// Samples one process in the background until it is gone.
#[derive(Clone)]
pub struct Sampler {
    rss_kib: Arc<AtomicU64>,
    sockets: Arc<AtomicU64>,
}

impl Sampler {
    pub fn spawn(pid: u32) -> Self {
        let this = Self {
            rss_kib: Arc::default(),
            sockets: Arc::default(),
        };
        let peaks = this.clone();
        tokio::spawn(async move {
            let pid = pid.to_string();
            while std::path::Path::new(&format!("/proc/{pid}")).exists() {
                peaks
                    .rss_kib
                    .fetch_max(status_kib(&pid, "VmRSS"), Ordering::Relaxed);
                peaks
                    .sockets
                    .fetch_max(open_sockets(&pid), Ordering::Relaxed);
                tokio::time::sleep(SAMPLE_PERIOD).await;
            }
        });
        this
    }

    /// The peaks since the previous call, and starts a new window.
    pub fn take(&self) -> Peaks {
        Peaks {
            rss_kib: self.rss_kib.swap(0, Ordering::Relaxed),
            sockets: self.sockets.swap(0, Ordering::Relaxed),
        }
    }
}
