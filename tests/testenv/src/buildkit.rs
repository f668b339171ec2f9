//! [`BuildKit`]: a rootful buildkitd (OCI worker, Debian's runc, host
//! network) and a local registry that serves as Docker Hub's mirror, started
//! by `buildkit.sh up` in a folder of their own. Stopped on drop, or by the
//! script's watchdog once this process has exited however it ended.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Result;

use crate::scripts;

/// A running buildkitd; [`BuildKit::buildctl`] talks to it.
#[derive(Debug)]
pub struct BuildKit {
    dir: PathBuf,
    bin_dir: PathBuf,
    host: String,
}

impl BuildKit {
    /// Builds (or reuses) BuildKit and the images the README's Dockerfiles
    /// pull (uv's from the binary `uv`, the one the tests pin), and starts the
    /// registry and buildkitd in `dir` (created; must not exist or be empty).
    ///
    /// Fails with the reason when BuildKit cannot run here: not root, no
    /// cgroup v1 hierarchies, a failed build, buildkitd not answering.
    pub fn start(dir: &Path, uv: &Path) -> Result<Self> {
        let started = Instant::now();
        let (bin_dir, host) = scripts::buildkit_up(dir, uv)?;
        eprintln!(
            "testenv: buildkitd at {host} ready in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            dir: dir.to_path_buf(),
            bin_dir,
            host,
        })
    }

    /// The folder holding buildctl, for a script's `PATH`.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// buildkitd's address, for `BUILDKIT_HOST` (what buildctl reads when
    /// `--addr` is not given).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `buildctl ARGS` against this buildkitd.
    pub fn buildctl<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(self.bin_dir.join("buildctl"));
        cmd.env("BUILDKIT_HOST", &self.host).args(args);
        cmd
    }
}

impl Drop for BuildKit {
    fn drop(&mut self) {
        if let Err(e) = scripts::buildkit_down(&self.dir) {
            eprintln!("testenv: stopping buildkitd: {e:#}");
        }
    }
}
