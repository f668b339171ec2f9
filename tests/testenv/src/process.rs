//! Child processes of a test or the benchmark: running a command to
//! completion, tying a long-lived child's life to this process, free ports.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Runs `cmd` to completion and returns its stdout; fails with its status,
/// stdout and stderr when it does not succeed.
pub fn try_run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// Like [`try_run`], for tests: panics with the command's output when it fails.
///
/// # Panics
/// If the command cannot start or exits unsuccessfully.
pub fn run(cmd: &mut Command) -> String {
    try_run(cmd).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Kills `pid` with SIGKILL once this process is gone, however it ended
/// (even by SIGKILL), so no child outlives its test or benchmark.
pub fn watchdog(pid: u32) {
    let script = "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\" 2>/dev/null; true";
    // Best effort: without bash the child is still killed on Drop.
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

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// # Panics
/// If no port can be bound at all.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_returns_stdout_and_failures_carry_stderr() {
        assert_eq!(run(Command::new("echo").arg("hi")), "hi\n");
        let err = try_run(Command::new("bash").args(["-c", "echo oops >&2; exit 3"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("oops") && err.contains('3'), "{err}");
    }
}
