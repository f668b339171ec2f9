//! The environment packages are chosen for: a Python version on Linux x86_64
//! CPython, the platform of the cluster's nodes. Markers and Requires-Python are
//! evaluated against it.

use std::str::FromStr;

use pep508_rs::pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};

/// The target Python and marker environment.
#[derive(Clone, Debug)]
pub struct Target {
    /// `3.X.0`: the version Requires-Python is checked against.
    pub python: Version,
    /// The marker environment (PEP 508) for that Python on Linux x86_64 CPython.
    pub env: MarkerEnvironment,
}

impl Target {
    /// The target for Python `3.X` (what spec.prepopulate.pythonVersion holds).
    pub fn new(python_version: &str) -> Result<Self, String> {
        let full = format!("{python_version}.0");
        let python = Version::from_str(&full)
            .map_err(|e| format!("pythonVersion {python_version:?}: {e}"))?;
        let env = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &full,
            os_name: "posix",
            platform_machine: "x86_64",
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &full,
            python_version,
            sys_platform: "linux",
        })
        .map_err(|e| format!("pythonVersion {python_version:?}: {e}"))?;
        Ok(Self { python, env })
    }
}
