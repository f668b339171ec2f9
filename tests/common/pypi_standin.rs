//! A stand-in for public PyPI (`tests/python/pypi_standin.py`): the default
//! index the tools fall back to when the CodeArtifact repository is only an
//! extra index. It serves a folder of distributions without credentials on
//! 127.0.0.1 and logs every request, so a test can tell what came from it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::python::venv;

pub struct PypiStandin {
    child: Child,
    url: String,
    log: PathBuf,
}

impl PypiStandin {
    /// Serves the distributions in `dists`; its request log goes to `log`.
    pub fn start(dists: &Path, log: &Path) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/pypi_standin.py");
        let port = testenv::free_port();
        let mut child = Command::new(venv().join("bin/python"))
            .arg("-u")
            .arg(script)
            .arg(dists)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("stand-in log"))
            .spawn()
            .expect("start the PyPI stand-in");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut ready)
            .expect("read the stand-in's first line");
        assert_eq!(
            ready.trim(),
            "ready",
            "the PyPI stand-in did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/simple/"),
            log: log.to_path_buf(),
        }
    }

    /// Its simple index URL, for `PIP_INDEX_URL`, `UV_DEFAULT_INDEX` or a Poetry source.
    pub fn index_url(&self) -> &str {
        &self.url
    }

    /// How many times it has served the file `filename` so far.
    pub fn downloads(&self, filename: &str) -> usize {
        let wanted = format!("GET /files/{filename} 200");
        std::fs::read_to_string(&self.log)
            .expect("stand-in log")
            .lines()
            .filter(|l| *l == wanted)
            .count()
    }
}

impl Drop for PypiStandin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
