//! The `public:pypi` stand-in: a local folder of wheels and sdists, read on every request.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::state::normalize;

/// A distribution file found in the public folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicFile {
    pub filename: String,
    /// Normalised project name.
    pub project: String,
    pub version: String,
    pub path: PathBuf,
}

/// Project name and version from a distribution file name (wheel or sdist), if it is one.
pub fn parse_filename(filename: &str) -> Option<(String, String)> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        // name-version(-build)?-python-abi-platform
        let parts: Vec<&str> = stem.split('-').collect();
        return (parts.len() >= 5 && !parts[0].is_empty() && !parts[1].is_empty())
            .then(|| (normalize(parts[0]), parts[1].to_string()));
    }
    let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))?;
    let (name, version) = stem.rsplit_once('-')?;
    (!name.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| (normalize(name), version.to_string()))
}

/// Every distribution file in `dir` (unreadable folders count as empty).
pub fn scan(dir: &Path) -> Vec<PublicFile> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PublicFile> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let filename = e.file_name().to_str()?.to_string();
            let (project, version) = parse_filename(&filename)?;
            Some(PublicFile {
                filename,
                project,
                version,
                path: e.path(),
            })
        })
        .collect();
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    files
}

/// The files of one (normalised) project.
pub fn project_files(dir: &Path, project: &str) -> Vec<PublicFile> {
    scan(dir)
        .into_iter()
        .filter(|f| f.project == project)
        .collect()
}

/// Hex SHA-256 of a file's bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_and_sdist_names_parse() {
        assert_eq!(
            parse_filename("Demo_Pkg-0.1.0-py3-none-any.whl"),
            Some(("demo-pkg".into(), "0.1.0".into()))
        );
        assert_eq!(
            parse_filename("demo_pkg-2.0-1-cp311-cp311-linux_x86_64.whl"),
            Some(("demo-pkg".into(), "2.0".into()))
        );
        assert_eq!(
            parse_filename("zope.interface-6.1.tar.gz"),
            Some(("zope-interface".into(), "6.1".into()))
        );
        assert_eq!(
            parse_filename("my-old-pkg-1.2.zip"),
            Some(("my-old-pkg".into(), "1.2".into()))
        );
        assert_eq!(parse_filename("README.md"), None);
        assert_eq!(parse_filename("broken.whl"), None);
        assert_eq!(parse_filename("noversion.tar.gz"), None);
    }

    #[test]
    fn scan_finds_only_distributions() {
        let dir = std::env::temp_dir().join(format!("caemu-public-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a_b-1.0-py3-none-any.whl"), b"x").unwrap();
        std::fs::write(dir.join("a_b-1.0.tar.gz"), b"y").unwrap();
        std::fs::write(dir.join("notes.txt"), b"z").unwrap();
        let files = project_files(&dir, "a-b");
        assert_eq!(files.len(), 2);
        assert!(project_files(&dir, "other").is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
