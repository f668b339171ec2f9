//! The real pip and twine, from the venv `make pytools` builds
//! (`$CODEARTIFACT_TEST_VENV`). A missing venv fails the test loudly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn venv() -> PathBuf {
    let dir = std::env::var("CODEARTIFACT_TEST_VENV")
        .unwrap_or_else(|_| panic!("CODEARTIFACT_TEST_VENV is not set: run the tests through `make test` (or `make pytools` and export it)"));
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("bin/pip").exists() && dir.join("bin/twine").exists(),
        "{} has no pip and twine: run `make pytools`",
        dir.display()
    );
    dir
}

fn tool(name: &str) -> Command {
    let mut c = Command::new(venv().join("bin").join(name));
    // Only what the Secret provides may configure pip: no user or global config, no cache.
    c.env_remove("PIP_INDEX_URL")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_CACHE_DIR", "1")
        .env("HOME", std::env::temp_dir());
    c
}

/// Writes a wheel (and an sdist with `sdist`) of `name` `version` into `dir`; returns their paths.
pub fn make_dist(name: &str, version: &str, dir: &Path, sdist: bool) -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/make_dist.py");
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.arg(script).args([name, version]).arg(dir);
    if sdist {
        cmd.arg("--sdist");
    }
    super::run(&mut cmd).lines().map(PathBuf::from).collect()
}

/// Lays out Secret data the way the kubelet projects a Secret volume: one file per key.
pub fn project_secret(data: &BTreeMap<String, String>, dir: &Path) {
    std::fs::create_dir_all(dir).expect("secret dir");
    for (k, v) in data {
        std::fs::write(dir.join(k), v).expect("write secret key");
    }
}

/// `pip install --target <dir>/site NAME` with only `PIP_CONFIG_FILE=<dir>/pip.conf` configuring it.
pub fn pip_install(secret_dir: &Path, requirement: &str) -> Output {
    let target = secret_dir.join(format!(
        "site-{}",
        requirement.replace(['=', '<', '>'], "_")
    ));
    tool("pip")
        .env("PIP_CONFIG_FILE", secret_dir.join("pip.conf"))
        .args(["install", "--no-input", "--quiet", "--target"])
        .arg(&target)
        .arg(requirement)
        .output()
        .expect("run pip")
}

/// `twine upload --config-file <dir>/.pypirc --repository codeartifact FILES`.
pub fn twine_upload(secret_dir: &Path, files: &[PathBuf]) -> Output {
    tool("twine")
        .arg("upload")
        .arg("--config-file")
        .arg(secret_dir.join(".pypirc"))
        .args([
            "--repository",
            "codeartifact",
            "--non-interactive",
            "--disable-progress-bar",
        ])
        .args(files)
        .output()
        .expect("run twine")
}

/// Runs the README's twine example in `dir` (whose `dist/` holds the
/// packages) with the Secret mounted at `mount` instead of `/etc/pypi`.
pub fn twine_example(mount: &Path, dir: &Path) -> Output {
    let upload = super::readme::example("twine").replace("/etc/pypi", &mount.display().to_string());
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", &upload])
        .current_dir(dir)
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", venv().join("bin").display()),
        )
        .env("TWINE_NON_INTERACTIVE", "1")
        .output()
        .expect("run bash")
}

/// Panics with pip's or twine's output unless it succeeded.
pub fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes a wheel of `name` `version` whose metadata lists `requires` (Requires-Dist lines).
pub fn make_wheel_requiring(name: &str, version: &str, dir: &Path, requires: &[&str]) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/make_dist.py");
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.arg(script).args([name, version]).arg(dir);
    for r in requires {
        cmd.args(["--requires", r]);
    }
    PathBuf::from(super::run(&mut cmd).trim())
}
