//! Installing CustomResourceDefinitions from a folder of manifests, once per
//! control plane, waiting until each is Established.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::ControlPlane;
use crate::process::try_run;

/// `(control plane folder, CRD folder)` pairs installed in this process.
static INSTALLED: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

impl ControlPlane {
    /// Applies every manifest in `dir` (server-side, taking over conflicting
    /// fields) and waits until each CRD in it is Established. Done once per
    /// control plane and folder: later calls return at once, so every test
    /// of a binary may call it. Calls from several threads wait for the first.
    pub fn install_crds(&self, dir: &Path) -> Result<()> {
        // Held across the install so that concurrent callers wait for it.
        let mut installed = INSTALLED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (self.dir().to_path_buf(), dir.to_path_buf());
        if installed.contains(&key) {
            return Ok(());
        }
        try_run(
            self.kubectl(["apply", "--server-side", "--force-conflicts", "-f"])
                .arg(dir),
        )
        .with_context(|| format!("applying the CRDs in {}", dir.display()))?;
        try_run(
            self.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f"])
                .arg(dir),
        )
        .with_context(|| {
            format!(
                "waiting for the CRDs in {} to be Established",
                dir.display()
            )
        })?;
        installed.push(key);
        Ok(())
    }
}
