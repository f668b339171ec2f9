//! A project's page of the Simple Repository API (PEP 691 JSON) and the choice of
//! version and file from it: the newest version the specifier allows, not yanked,
//! no pre-release unless asked, with a file for the target Python.

use std::str::FromStr;

use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use serde_json::Value;

use super::target::Target;
use crate::crd::PrepopulateFailureReason;

/// One file a project page lists.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexFile {
    pub filename: String,
    /// As the page gives it (often relative to the page).
    pub url: String,
    /// The version in the file name; `None` when it is not PEP 440.
    pub version: Option<Version>,
    pub yanked: bool,
    pub requires_python: Option<String>,
    /// The index serves the file's core metadata at `<url>.metadata` (PEP 658/714).
    pub has_metadata: bool,
}

impl IndexFile {
    /// A wheel (whose METADATA can be read) rather than an sdist.
    pub fn is_wheel(&self) -> bool {
        self.filename.ends_with(".whl")
    }
}

/// The files of a PEP 691 JSON project page.
pub fn parse_page(body: &str) -> Result<Vec<IndexFile>, String> {
    let page: Value =
        serde_json::from_str(body).map_err(|e| format!("the project page is not JSON: {e}"))?;
    let files = page["files"]
        .as_array()
        .ok_or("the project page has no files list")?;
    Ok(files
        .iter()
        .filter_map(|f| {
            let filename = f["filename"].as_str()?.to_string();
            Some(IndexFile {
                version: version_of(&filename),
                url: f["url"].as_str()?.to_string(),
                // PEP 691: false, or true / a reason string when yanked.
                yanked: f["yanked"].as_bool().unwrap_or(f["yanked"].is_string()),
                requires_python: f["requires-python"].as_str().map(str::to_string),
                has_metadata: offers_metadata(&f["core-metadata"])
                    || offers_metadata(&f["dist-info-metadata"]),
                filename,
            })
        })
        .collect())
}

fn offers_metadata(v: &Value) -> bool {
    v.as_bool().unwrap_or(v.is_object())
}

/// The version in a wheel (`name-version-...-tag.whl`) or sdist (`name-version.tar.gz`) name.
pub fn version_of(filename: &str) -> Option<Version> {
    let text = if let Some(stem) = filename.strip_suffix(".whl") {
        stem.split('-').nth(1)?
    } else {
        let stem = [".tar.gz", ".zip", ".tar.bz2"]
            .iter()
            .find_map(|ext| filename.strip_suffix(ext))?;
        stem.rsplit_once('-')?.1
    };
    Version::from_str(text).ok()
}

/// The chosen version and the file to fetch (which makes the repository keep the version).
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub version: Version,
    pub file: IndexFile,
}

/// Why nothing could be chosen.
pub type Refusal = (PrepopulateFailureReason, String);

/// Picks the newest allowed version and, of its files, a pure-Python wheel,
/// else any wheel, else an sdist.
pub fn choose(
    files: &[IndexFile],
    specifiers: Option<&VersionSpecifiers>,
    target: &Target,
    prereleases: bool,
) -> Result<Choice, Refusal> {
    let pre_ok = prereleases || specifiers.is_some_and(|s| s.iter().any(|v| v.any_prerelease()));
    let matching: Vec<(&Version, &IndexFile)> = files
        .iter()
        .filter(|f| !f.yanked)
        .filter_map(|f| f.version.as_ref().map(|v| (v, f)))
        .filter(|(v, _)| pre_ok || !v.any_prerelease())
        .filter(|(v, _)| specifiers.is_none_or(|s| s.contains(v)))
        .collect();
    let wanted = specifiers.map_or_else(|| "any version".to_string(), ToString::to_string);
    if matching.is_empty() {
        return Err((
            PrepopulateFailureReason::NoVersionMatches,
            format!(
                "no version matches {wanted} among {} files (yanked and pre-release versions are left out unless asked for)",
                files.len()
            ),
        ));
    }
    let usable = matching
        .into_iter()
        .filter(|(_, f)| supports(f, target))
        .max_by(|a, b| a.0.cmp(b.0).then(preference(a.1).cmp(&preference(b.1))));
    let Some((version, file)) = usable else {
        return Err((
            PrepopulateFailureReason::NoCompatibleFile,
            format!(
                "versions matching {wanted} exist, but none has a file for Python {}",
                target.python
            ),
        ));
    };
    Ok(Choice {
        version: version.clone(),
        file: file.clone(),
    })
}

/// Whether the file's Requires-Python admits the target (an unreadable one admits it, as pip does).
fn supports(f: &IndexFile, target: &Target) -> bool {
    f.requires_python
        .as_deref()
        .and_then(|r| VersionSpecifiers::from_str(r).ok())
        .is_none_or(|r| r.contains(&target.python))
}

/// Higher is better: a pure-Python wheel, any wheel, an sdist.
fn preference(f: &IndexFile) -> u8 {
    match (f.is_wheel(), f.filename.ends_with("-none-any.whl")) {
        (true, true) => 2,
        (true, false) => 1,
        _ => 0,
    }
}
