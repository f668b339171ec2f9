//! What the benchmark ran on, for the report: CPUs, memory, kernel, load,
//! and the versions of the toolchains and the control plane.

use std::process::Command;

/// The machine and its software.
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub go: String,
    pub kubernetes: String,
    pub etcd: String,
    /// /proc/loadavg when the run started: the machine is shared.
    pub load_at_start: String,
    /// The commit the operator was built from, marked when src/ had local changes.
    pub commit: String,
}

impl Machine {
    pub fn describe() -> Self {
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| {
                    Some(
                        l.strip_prefix("model name")?
                            .split_once(':')?
                            .1
                            .trim()
                            .to_string(),
                    )
                })
                .unwrap_or_default(),
            memory_gib: mem_kib / 1024.0 / 1024.0,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            rustc: version("rustc", &["--version"]),
            go: version("go", &["version"]),
            kubernetes: testenv::pinned_version("K8S_VERSION").to_string(),
            etcd: testenv::pinned_version("ETCD_VERSION").to_string(),
            load_at_start: read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            commit: commit(),
        }
    }

    /// The report's machine section, as a Markdown table.
    pub fn markdown(&self) -> String {
        let rows = [
            ("CPUs (nproc)", self.cpus.to_string()),
            ("CPU model", self.cpu_model.clone()),
            ("Memory", format!("{:.1} GiB", self.memory_gib)),
            ("Kernel", self.kernel.clone()),
            (
                "Load average at start (1/5/15 min)",
                self.load_at_start.clone(),
            ),
            ("Operator built from", self.commit.clone()),
            ("rustc", self.rustc.clone()),
            ("go (built the control plane)", self.go.clone()),
            (
                "Kubernetes (kube-apiserver, kube-controller-manager)",
                self.kubernetes.clone(),
            ),
            ("etcd", self.etcd.clone()),
        ];
        let mut out = String::from("| | |\n|---|---|\n");
        for (k, v) in rows {
            out.push_str(&format!("| {k} | {v} |\n"));
        }
        out
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn version(tool: &str, args: &[&str]) -> String {
    Command::new(tool)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| format!("{tool}: not found"), |s| s.trim().to_string())
}

/// `git rev-parse --short HEAD`, plus a note when src/ differs from it.
fn commit() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let head = version("git", &["-C", root, "rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args([
            "-C",
            root,
            "status",
            "--porcelain",
            "--",
            "src",
            "Cargo.toml",
        ])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if dirty {
        format!("{head} with local changes in src/ or Cargo.toml")
    } else {
        head
    }
}
