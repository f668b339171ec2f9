//! Runs the shell scripts in `tests/control-plane/` (build.sh, up.sh, down.sh,
//! buildkit.sh) and turns their output and failures into Rust values and errors.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

/// The binaries up.sh starts or the tests call; all must exist in the bin folder.
const BINARIES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "helm",
];

/// The folder holding build.sh, up.sh and down.sh.
fn scripts_dir() -> PathBuf {
    let testenv = Path::new(env!("CARGO_MANIFEST_DIR"));
    testenv.parent().unwrap_or(testenv).join("control-plane")
}

/// The folder with the five binaries: `$TESTENV_BIN_DIR` if set, else the one
/// build.sh prints after finding (or building) them in its cache.
pub(crate) fn bin_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("TESTENV_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => run_build()?,
    };
    let missing: Vec<_> = BINARIES.iter().filter(|b| !dir.join(b).is_file()).collect();
    if !missing.is_empty() {
        bail!(
            "control-plane binaries {missing:?} missing in {} (set TESTENV_BIN_DIR to a complete folder, \
             or unset it and let tests/control-plane/build.sh build them)",
            dir.display()
        );
    }
    Ok(dir)
}

/// The folder with the node's binaries: `$TESTENV_NODE_BIN_DIR` if set, else
/// the one build-node.sh prints (it also installs runc and the CNI plugins).
pub(crate) fn node_bin_dir() -> Result<PathBuf> {
    match std::env::var_os("TESTENV_NODE_BIN_DIR") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => run_build_script("build-node.sh", &[]),
    }
}

/// Runs `images/build.sh ARGS` and returns the image tar and its reference.
pub(crate) fn build_image(image: crate::node::Image<'_>) -> Result<(PathBuf, String)> {
    let line = run_build_script("images/build.sh", &image.build_args())?;
    let line = line.to_string_lossy().into_owned();
    let (tar, reference) = line
        .split_once(' ')
        .with_context(|| format!("images/build.sh printed {line:?}, not `TAR REF`"))?;
    Ok((PathBuf::from(tar), reference.to_string()))
}

/// Runs build.sh with its progress on our stderr: a cold build takes many
/// minutes and should not look like a hang.
fn run_build() -> Result<PathBuf> {
    run_build_script("build.sh", &[])
}

/// Runs a build script of tests/control-plane and returns its last stdout line.
fn run_build_script(name: &str, args: &[&OsStr]) -> Result<PathBuf> {
    let script = scripts_dir().join(name);
    let output = Command::new(&script)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}); its progress log is above",
            script.display(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .last()
        .with_context(|| format!("{name} printed nothing"))?;
    Ok(PathBuf::from(last.trim()))
}

/// Runs `buildkit.sh up DIR <this process> UV`, its progress on our stderr
/// (a cold machine builds BuildKit and the images first), and returns the
/// folder with buildctl and the address of buildkitd it reports.
pub(crate) fn buildkit_up(dir: &Path, uv: &Path) -> Result<(PathBuf, String)> {
    let pid = std::process::id().to_string();
    let line = run_build_script(
        "buildkit.sh",
        &["up".as_ref(), dir.as_os_str(), pid.as_ref(), uv.as_os_str()],
    )?;
    let line = line.to_string_lossy().into_owned();
    let (bin, host) = line
        .split_once(' ')
        .with_context(|| format!("buildkit.sh printed {line:?}, not `BIN_DIR BUILDKIT_HOST`"))?;
    Ok((PathBuf::from(bin), host.to_string()))
}

/// Runs `buildkit.sh down DIR`: stops buildkitd and the registry, removes DIR.
pub(crate) fn buildkit_down(dir: &Path) -> Result<()> {
    let script = scripts_dir().join("buildkit.sh");
    let output = Command::new(&script)
        .arg("down")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    check(&script, &output)
}

/// Runs `up.sh --owner-pid <this process> --bin-dir <bin_dir> EXTRA...` and
/// returns the kubeconfig path it reports.
pub(crate) fn run_up(bin_dir: &Path, extra: &[&OsStr]) -> Result<PathBuf> {
    let script = scripts_dir().join("up.sh");
    let output = Command::new(&script)
        .arg("--owner-pid")
        .arg(std::process::id().to_string())
        .arg("--bin-dir")
        .arg(bin_dir)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    check(&script, &output)?;
    kubeconfig_from_exports(&String::from_utf8_lossy(&output.stdout))
}

/// Runs `down.sh DIR`: stops the processes by PID and removes DIR.
pub(crate) fn run_down(dir: &Path) -> Result<()> {
    let script = scripts_dir().join("down.sh");
    let output = Command::new(&script)
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    check(&script, &output)
}

/// Runs `up.sh restart-apiserver DIR` without blocking the async runtime, so
/// that tasks under test (an operator, a watch) keep running during the outage.
pub(crate) async fn restart_apiserver(dir: &Path) -> Result<()> {
    let script = scripts_dir().join("up.sh");
    let output = tokio::process::Command::new(&script)
        .arg("restart-apiserver")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", script.display()))?;
    check(&script, &output)
}

fn check(script: &Path, output: &Output) -> Result<()> {
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "{} failed ({}):\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Extracts the path from up.sh's `export KUBECONFIG=<path>` line. up.sh
/// quotes with `printf %q`, which leaves ordinary temporary paths unchanged.
fn kubeconfig_from_exports(stdout: &str) -> Result<PathBuf> {
    let path = stdout
        .lines()
        .find_map(|line| line.strip_prefix("export KUBECONFIG="))
        .with_context(|| format!("up.sh printed no `export KUBECONFIG=` line:\n{stdout}"))?;
    if path.contains(['\\', '\'', '"', '$']) {
        bail!(
            "kubeconfig path {path} needs shell unquoting; use a TMPDIR without special characters"
        );
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_path_is_read_from_the_export_line() {
        let out =
            "export KUBECONFIG=/tmp/codeartifact-cp.ab12/kubeconfig\nexport PATH=/bin:$PATH\n";
        let path = kubeconfig_from_exports(out).unwrap();
        assert_eq!(path, Path::new("/tmp/codeartifact-cp.ab12/kubeconfig"));
    }

    #[test]
    fn quoted_kubeconfig_path_is_refused() {
        assert!(kubeconfig_from_exports("export KUBECONFIG=/tmp/a\\ b/kubeconfig\n").is_err());
        assert!(kubeconfig_from_exports("nothing\n").is_err());
    }
}
