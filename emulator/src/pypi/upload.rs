//! twine's legacy upload: `multipart/form-data` POSTed to the repository endpoint root.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use futures::stream;

use super::public::{parse_filename, sha256_hex};
use super::target::Target;
use crate::clock::real_now;
use crate::context::Context;
use crate::error::ApiError;
use crate::state::package_groups::PUBLISH;
use crate::state::{
    DistFile, EntryPoint, Package, Restrictions, State, Version, new_revision, normalize,
    package_key,
};

/// The parsed form.
#[derive(Debug, Default)]
pub struct Form {
    /// Text fields (repeatable ones keep every value).
    pub fields: HashMap<String, Vec<String>>,
    /// The `content` part: file name and bytes.
    pub content: Option<(String, Bytes)>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// Parse a `multipart/form-data` body.
pub async fn parse_form(content_type: &str, body: Bytes) -> Result<Form, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let source = stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(source, boundary);
    let mut form = Form::default();
    while let Some(field) = parts.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(|e| e.to_string())?;
        match (name.as_str(), filename) {
            ("content", Some(f)) => form.content = Some((f, data)),
            _ => form
                .fields
                .entry(name)
                .or_default()
                .push(String::from_utf8_lossy(&data).into_owned()),
        }
    }
    Ok(form)
}

/// A checked upload, ready to store.
#[derive(Debug)]
pub struct Upload {
    pub project: String,
    pub version: String,
    pub file: DistFile,
}

/// Check the form like PyPI does: action, metadata, file name against metadata, digests.
pub fn check(form: Form) -> Result<Upload, ApiError> {
    if form.get(":action") != Some("file_upload") {
        return Err(ApiError::field(
            "Unsupported :action; only file_upload is accepted",
        ));
    }
    let name = form
        .get("name")
        .ok_or_else(|| ApiError::field("Missing field: name"))?;
    let version = form
        .get("version")
        .ok_or_else(|| ApiError::field("Missing field: version"))?;
    let Some((filename, content)) = form.content.as_ref() else {
        return Err(ApiError::field("Missing file part: content"));
    };
    let (project, file_version) = parse_filename(filename)
        .ok_or_else(|| ApiError::field(format!("Invalid distribution file name '{filename}'")))?;
    if project != normalize(name) || file_version != version {
        return Err(ApiError::field(format!(
            "File name '{filename}' does not match project '{name}' version '{version}'"
        )));
    }
    let sha256 = sha256_hex(content);
    match form.get("sha256_digest") {
        Some(given) if !given.eq_ignore_ascii_case(&sha256) => {
            return Err(ApiError::field(
                "The sha256_digest does not match the uploaded file",
            ));
        }
        None if form.get("md5_digest").is_none() && form.get("blake2_256_digest").is_none() => {
            return Err(ApiError::field("At least one digest field must be given"));
        }
        _ => {}
    }
    Ok(Upload {
        project,
        version: version.to_string(),
        file: DistFile {
            filename: filename.clone(),
            sha256,
            requires_python: form
                .get("requires_python")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            content: content.clone(),
        },
    })
}

/// The package group of `project` allows publishing it to the target repository.
fn publish_allowed(s: &State, target: &Target, project: &str) -> Result<(), ApiError> {
    s.domain(&target.owner, &target.domain)?
        .groups()
        .origin_allowed("pypi", "", project, PUBLISH, &target.repo)
        .map_err(ApiError::AccessDenied)
}

/// Store a checked upload in the target repository.
pub fn store(ctx: &Context, target: &Target, up: Upload) -> Result<(), ApiError> {
    let key = package_key("pypi", None, &up.project);
    ctx.mutate(|s| {
        publish_allowed(s, target, &up.project)?;
        let r = s.repository_mut(&target.owner, &target.domain, &target.repo)?;
        let p = r.packages.entry(key).or_insert_with(|| Package {
            format: "pypi".into(),
            namespace: None,
            name: up.project.clone(),
            origin: Restrictions::published(),
            versions: BTreeMap::new(),
        });
        if p.origin.publish != "ALLOW" {
            return Err(ApiError::AccessDenied(format!(
                "Publishing is blocked for package '{}' by its origin controls",
                up.project
            )));
        }
        let filename = &up.file.filename;
        if p.versions
            .values()
            .any(|v| v.files.iter().any(|f| &f.filename == filename))
        {
            return Err(ApiError::conflict(
                "asset",
                filename,
                format!("File '{filename}' already exists in the repository"),
            ));
        }
        let v = p
            .versions
            .entry(up.version.clone())
            .or_insert_with(|| Version {
                version: up.version.clone(),
                revision: new_revision(),
                status: "Published".into(),
                published: real_now(),
                origin_type: "INTERNAL".into(),
                entry: EntryPoint {
                    repository_name: Some(target.repo.clone()),
                    external_connection_name: None,
                },
                files: Vec::new(),
            });
        if !matches!(v.status.as_str(), "Published" | "Unlisted" | "Unfinished") {
            return Err(ApiError::conflict(
                "package-version",
                &up.version,
                format!(
                    "Version {} has status {} and cannot take new files",
                    up.version, v.status
                ),
            ));
        }
        v.status = "Published".into();
        v.files.push(up.file);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)], filename: &str, content: &'static [u8]) -> Form {
        let mut f = Form::default();
        for (k, v) in fields {
            f.fields
                .entry(k.to_string())
                .or_default()
                .push(v.to_string());
        }
        f.content = Some((filename.into(), Bytes::from_static(content)));
        f
    }

    #[test]
    fn checks_action_names_and_digest() {
        let digest = sha256_hex(b"wheel");
        let base = [
            (":action", "file_upload"),
            ("name", "Demo-Pkg"),
            ("version", "0.1.0"),
        ];
        let with_digest = |d: &str| {
            let mut v = base.to_vec();
            v.push(("sha256_digest", d));
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let ok = with_digest(&digest);
        let ok: Vec<(&str, &str)> = ok.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let up = check(form(&ok, "demo_pkg-0.1.0-py3-none-any.whl", b"wheel")).unwrap();
        assert_eq!(
            (up.project.as_str(), up.version.as_str()),
            ("demo-pkg", "0.1.0")
        );
        assert!(check(form(&ok, "other-0.1.0-py3-none-any.whl", b"wheel")).is_err());
        assert!(check(form(&ok, "demo_pkg-0.1.0-py3-none-any.whl", b"tampered")).is_err());
        assert!(
            check(form(&base, "demo_pkg-0.1.0.tar.gz", b"x")).is_err(),
            "no digest"
        );
        let mut bad_action = ok.clone();
        bad_action[0] = (":action", "submit");
        assert!(check(form(&bad_action, "demo_pkg-0.1.0.tar.gz", b"wheel")).is_err());
    }

    #[tokio::test]
    async fn parses_multipart_like_twine_sends_it() {
        let body = "--b\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n--b\r\nContent-Disposition: form-data; name=\"classifiers\"\r\n\r\nA\r\n--b\r\nContent-Disposition: form-data; name=\"classifiers\"\r\n\r\nB\r\n--b\r\nContent-Disposition: form-data; name=\"content\"; filename=\"x-1.0.tar.gz\"\r\nContent-Type: application/octet-stream\r\n\r\nDATA\r\n--b--\r\n";
        let form = parse_form("multipart/form-data; boundary=b", Bytes::from(body))
            .await
            .unwrap();
        assert_eq!(form.get(":action"), Some("file_upload"));
        assert_eq!(form.fields["classifiers"], ["A", "B"]);
        let (name, data) = form.content.unwrap();
        assert_eq!((name.as_str(), &data[..]), ("x-1.0.tar.gz", &b"DATA"[..]));
    }
}
