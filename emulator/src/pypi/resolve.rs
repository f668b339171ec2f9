//! Package resolution through upstreams and the external connection, and retention of what was
//! fetched (so it stays installable after the connection is removed: the air-gap workflow).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::api::PUBLIC_PYPI;
use crate::clock::real_now;
use crate::state::package_groups::{EXTERNAL_UPSTREAM, INTERNAL_UPSTREAM};
use crate::state::{
    DistFile, Domain, EntryPoint, Package, Repository, Restrictions, Version, new_revision,
    package_key,
};

use super::public;

/// Where a listed file comes from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// Stored in repository `repo` of the domain.
    Stored { repo: String },
    /// In the public folder, reached through the external connection of repository `via`.
    Public { via: String, path: PathBuf },
}

/// One file offered for a project.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub filename: String,
    pub version: String,
    pub sha256: String,
    pub requires_python: Option<String>,
    pub origin: Origin,
}

/// Whether resolution may continue past `r` for `key` (origin control `upstream`).
fn upstream_allowed(r: &Repository, key: &str) -> bool {
    r.packages
        .get(key)
        .is_none_or(|p| p.origin.upstream == "ALLOW")
}

fn stored_candidates(r: &Repository, key: &str) -> Vec<Candidate> {
    let Some(p) = r.packages.get(key) else {
        return Vec::new();
    };
    p.versions
        .values()
        .filter(|v| v.status == "Published")
        .flat_map(|v| {
            v.files.iter().map(|f| Candidate {
                filename: f.filename.clone(),
                version: v.version.clone(),
                sha256: f.sha256.clone(),
                requires_python: f.requires_python.clone(),
                origin: Origin::Stored {
                    repo: r.name.clone(),
                },
            })
        })
        .collect()
}

fn public_candidates(dir: &Path, via: &str, project: &str) -> Vec<Candidate> {
    public::project_files(dir, project)
        .into_iter()
        .filter_map(|f| {
            let bytes = std::fs::read(&f.path).ok()?;
            Some(Candidate {
                filename: f.filename,
                version: f.version,
                sha256: public::sha256_hex(&bytes),
                requires_python: None,
                origin: Origin::Public {
                    via: via.to_string(),
                    path: f.path,
                },
            })
        })
        .collect()
}

/// All files of `project` visible from `repo`, in search order; the first file of a name wins.
pub fn candidates(
    domain: &Domain,
    repo: &str,
    project: &str,
    public_dir: Option<&Path>,
) -> Vec<Candidate> {
    let key = package_key("pypi", None, project);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    // Package group origin controls: what another repository holds enters `repo` as an
    // internal upstream; what `public:pypi` offers enters the repository holding the
    // connection as an external upstream (and then `repo`, if that is another one).
    let group_allows = |kind: &str, into: &str| {
        domain
            .groups()
            .origin_allowed("pypi", "", project, kind, into)
            .is_ok()
    };
    for r in domain.search_order_with(repo, |r| upstream_allowed(r, &key)) {
        let internal_ok = r.name == repo || group_allows(INTERNAL_UPSTREAM, repo);
        let mut found = if internal_ok {
            stored_candidates(r, &key)
        } else {
            Vec::new()
        };
        let connected = r.external_connections.iter().any(|c| c == PUBLIC_PYPI);
        let external_ok = internal_ok && group_allows(EXTERNAL_UPSTREAM, &r.name);
        if let (true, true, true, Some(dir)) = (
            connected,
            external_ok,
            upstream_allowed(r, &key),
            public_dir,
        ) {
            found.extend(public_candidates(dir, &r.name, project));
        }
        out.extend(
            found
                .into_iter()
                .filter(|c| seen.insert(c.filename.clone())),
        );
    }
    out
}

/// Every file of `version` of `project` in the public folder, read for keeping.
pub fn public_version_files(dir: &Path, project: &str, version: &str) -> Vec<DistFile> {
    public::project_files(dir, project)
        .into_iter()
        .filter(|f| f.version == version)
        .filter_map(|f| {
            let bytes = std::fs::read(&f.path).ok()?;
            Some(DistFile {
                sha256: public::sha256_hex(&bytes),
                filename: f.filename,
                requires_python: None,
                content: bytes.into(),
            })
        })
        .collect()
}

/// Every project visible from `repo` (for the optional `simple/` index).
pub fn projects(domain: &Domain, repo: &str, public_dir: Option<&Path>) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for r in domain.search_order(repo) {
        names.extend(
            r.packages
                .values()
                .filter(|p| p.format == "pypi" && !p.versions.is_empty())
                .map(|p| p.name.clone()),
        );
        if let (true, Some(dir)) = (
            r.external_connections.iter().any(|c| c == PUBLIC_PYPI),
            public_dir,
        ) {
            names.extend(public::scan(dir).into_iter().map(|f| f.project));
        }
    }
    names.into_iter().collect()
}

/// Add `file` under `template`'s version of `project` in `r`, creating what is missing.
/// A package first added this way gets AWS's "ingested" origin controls.
pub fn add_file(r: &mut Repository, project: &str, template: &Version, file: DistFile) {
    let p = r
        .packages
        .entry(package_key("pypi", None, project))
        .or_insert_with(|| Package {
            format: "pypi".into(),
            namespace: None,
            name: project.to_string(),
            origin: Restrictions::ingested(),
            versions: BTreeMap::new(),
        });
    let v = p
        .versions
        .entry(template.version.clone())
        .or_insert_with(|| Version {
            files: Vec::new(),
            ..template.clone()
        });
    if !v.files.iter().any(|f| f.filename == file.filename) {
        v.files.push(file);
    }
}

/// The version record for a file ingested through `public:pypi`.
pub fn external_version(version: &str) -> Version {
    Version {
        version: version.to_string(),
        revision: new_revision(),
        status: "Published".into(),
        published: real_now(),
        origin_type: "EXTERNAL".into(),
        entry: EntryPoint {
            repository_name: None,
            external_connection_name: Some(PUBLIC_PYPI.into()),
        },
        files: Vec::new(),
    }
}
