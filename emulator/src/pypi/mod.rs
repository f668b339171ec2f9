//! The PyPI repository endpoint `/pypi/d/{domain}-{owner}/{repository}/`: Basic auth with a
//! token, `simple/` pages, file downloads (with retention) and twine uploads.

mod access;
pub mod public;
pub mod resolve;
pub mod simple;
pub mod target;
pub mod upload;

use std::sync::Arc;

use axum::body::Body;
use axum::extract;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};

use crate::api::package_arn;
use crate::body::read_body;
use crate::context::Context;
use crate::error::ApiError;
use crate::roles::Grant;
use crate::state::{DistFile, State, package_key};
use access::{PUBLISH, READ, forbidden, permit};
use resolve::{Candidate, Origin};
pub use target::{Target, parse_path};

/// Largest accepted upload body (distributions can be big; the control plane allows 10 MiB).
pub const MAX_UPLOAD: usize = 256 * 1024 * 1024;

fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(message.into()))
        .expect("valid response")
}

fn unauthorized() -> Response<Body> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(header::WWW_AUTHENTICATE, "Basic realm=\"codeartifact\"")
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(
            "Unauthorized: a current authorization token is required",
        ))
        .expect("valid response")
}

fn from_api_error(e: ApiError) -> Response<Body> {
    text(e.status(), e.to_string())
}

/// The token in `Authorization: Basic base64(aws:TOKEN)`, if the user is `aws`.
pub fn basic_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, token) = decoded.split_once(':')?;
    (user == "aws").then(|| token.to_string())
}

/// Answer one request under [`target::PREFIX`].
pub async fn handle(
    extract::State(ctx): extract::State<Arc<Context>>,
    req: Request<Body>,
) -> Response<Body> {
    let ctx = &*ctx;
    let Some((target, rest)) = parse_path(req.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    let grant =
        basic_token(req.headers()).and_then(|t| ctx.token_grant(&t, &target.domain, &target.owner));
    let Some(grant) = grant.map(|valid| valid.grant) else {
        return unauthorized();
    };
    if let Err(e) = ctx.read(|s| {
        s.repository(&target.owner, &target.domain, &target.repo)
            .map(|_| ())
    }) {
        return from_api_error(e);
    }
    let method = req.method().clone();
    let reading = method == Method::GET || method == Method::HEAD;
    if reading
        && let Err(m) = permit(
            grant.as_ref(),
            READ,
            &access::repository(ctx, &target.owner, &target.domain, &target.repo),
        )
    {
        return forbidden(m);
    }
    match rest.as_str() {
        "" if method == Method::POST => upload(ctx, &target, grant.as_ref(), req).await,
        "simple" | "simple/" if reading => index(ctx, &target, req.headers()),
        r if reading && r.starts_with("simple/") => {
            project(ctx, &target, req.uri().path(), r, req.headers())
        }
        r if reading && r.starts_with("files/") => download(ctx, &target, r),
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn upload(
    ctx: &Context,
    target: &Target,
    grant: Option<&Grant>,
    req: Request<Body>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match read_body(&parts.headers, body, MAX_UPLOAD).await {
        Ok(b) => b,
        Err(e) => return from_api_error(e),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = match upload::parse_form(content_type, body).await {
        Ok(f) => f,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Invalid multipart body: {e}"),
            );
        }
    };
    let up = match upload::check(form) {
        Ok(up) => up,
        Err(e) => return from_api_error(e),
    };
    let package = package_arn(
        &ctx.config.region,
        &target.owner,
        &target.domain,
        &target.repo,
        "pypi",
        "",
        &up.project,
    );
    if let Err(m) = permit(grant, PUBLISH, &package) {
        return forbidden(m);
    }
    match upload::store(ctx, target, up) {
        Ok(()) => text(StatusCode::OK, "OK"),
        Err(e) => from_api_error(e),
    }
}

fn negotiated(headers: &HeaderMap) -> Option<simple::Format> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    simple::negotiate(accept)
}

fn not_acceptable() -> Response<Body> {
    text(StatusCode::NOT_ACCEPTABLE, "Not Acceptable")
}

fn page(format: simple::Format, body: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::VARY, "Accept")
        .body(Body::from(body))
        .expect("valid response")
}

fn index(ctx: &Context, target: &Target, headers: &HeaderMap) -> Response<Body> {
    let Some(format) = negotiated(headers) else {
        return not_acceptable();
    };
    let dir = ctx.config.public_pypi_dir.as_deref();
    let projects = ctx.read(|s| {
        s.domain(&target.owner, &target.domain)
            .map(|d| resolve::projects(d, &target.repo, dir))
            .unwrap_or_default()
    });
    page(format, simple::index_page(&projects, format))
}

fn project(
    ctx: &Context,
    target: &Target,
    path: &str,
    rest: &str,
    headers: &HeaderMap,
) -> Response<Body> {
    let name = rest.trim_start_matches("simple/");
    let Some(name) = name.strip_suffix('/') else {
        // HTML URLs end in '/'; send clients there (PEP 503).
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, format!("{path}/"))
            .body(Body::empty())
            .expect("valid response");
    };
    if name.is_empty() || name.contains('/') {
        return text(StatusCode::NOT_FOUND, "Not Found");
    }
    let Some(format) = negotiated(headers) else {
        return not_acceptable();
    };
    let project = crate::state::normalize(name);
    let files = candidates(ctx, target, &project);
    if files.is_empty() {
        return text(
            StatusCode::NOT_FOUND,
            format!("Project {project} not found"),
        );
    }
    page(format, simple::project_page(&project, &files, format))
}

fn candidates(ctx: &Context, target: &Target, project: &str) -> Vec<Candidate> {
    let dir = ctx.config.public_pypi_dir.as_deref();
    ctx.read(|s| {
        s.domain(&target.owner, &target.domain)
            .map(|d| resolve::candidates(d, &target.repo, project, dir))
            .unwrap_or_default()
    })
}

/// The bytes of a stored file.
fn stored_bytes(
    s: &State,
    target: &Target,
    repo: &str,
    c: &Candidate,
    project: &str,
) -> Option<DistFile> {
    let r = s.repository(&target.owner, &target.domain, repo).ok()?;
    let v = r
        .packages
        .get(&package_key("pypi", None, project))?
        .versions
        .get(&c.version)?;
    v.files.iter().find(|f| f.filename == c.filename).cloned()
}

fn download(ctx: &Context, target: &Target, rest: &str) -> Response<Body> {
    let mut parts = rest.splitn(3, '/').skip(1);
    let (Some(project), Some(filename)) = (parts.next(), parts.next()) else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    let project = crate::state::normalize(project);
    let Some(c) = candidates(ctx, target, &project)
        .into_iter()
        .find(|c| c.filename == filename)
    else {
        return text(StatusCode::NOT_FOUND, format!("File {filename} not found"));
    };
    let file = match &c.origin {
        Origin::Stored { repo } => ctx.read(|s| stored_bytes(s, target, repo, &c, &project)),
        Origin::Public { path, .. } => std::fs::read(path).ok().map(|bytes| DistFile {
            filename: c.filename.clone(),
            sha256: c.sha256.clone(),
            requires_python: None,
            content: bytes.into(),
        }),
    };
    let Some(file) = file else {
        return text(StatusCode::NOT_FOUND, format!("File {filename} not found"));
    };
    if let Err(e) = retain(ctx, target, &project, &c, &file) {
        return from_api_error(e);
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(file.content))
        .expect("valid response")
}

/// Keep a fetched file's version: in the repository holding the external connection (for
/// public files) and in the requesting repository, as CodeArtifact does. A version is kept
/// with all its files (AWS: "CodeArtifact imports all assets in that package version"), so
/// one request makes it installable on every platform once the connection is cut.
fn retain(
    ctx: &Context,
    target: &Target,
    project: &str,
    c: &Candidate,
    file: &DistFile,
) -> Result<(), ApiError> {
    let (holders, template, files) = match &c.origin {
        Origin::Stored { repo } if *repo == target.repo => return Ok(()),
        Origin::Stored { repo } => {
            let template = ctx.read(|s| {
                let r = s.repository(&target.owner, &target.domain, repo).ok()?;
                r.packages
                    .get(&package_key("pypi", None, project))?
                    .versions
                    .get(&c.version)
                    .cloned()
            });
            let Some(template) = template else {
                return Ok(());
            };
            let files = template.files.clone();
            (vec![target.repo.clone()], template, files)
        }
        Origin::Public { via, .. } => {
            let mut holders = vec![via.clone()];
            if *via != target.repo {
                holders.push(target.repo.clone());
            }
            let dir = ctx.config.public_pypi_dir.as_deref();
            let mut files = dir
                .map(|d| resolve::public_version_files(d, project, &c.version))
                .unwrap_or_default();
            if !files.iter().any(|f| f.filename == file.filename) {
                files.push(file.clone());
            }
            (holders, resolve::external_version(&c.version), files)
        }
    };
    ctx.mutate(|s| {
        for name in &holders {
            let r = s.repository_mut(&target.owner, &target.domain, name)?;
            for f in &files {
                resolve::add_file(r, project, &template, f.clone());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_paths_split_domain_owner_repo_and_rest() {
        let (t, rest) =
            parse_path("/pypi/d/my-domain-111122223333/my-repo/simple/demo-pkg/").unwrap();
        assert_eq!(t.domain, "my-domain");
        assert_eq!(t.owner, "111122223333");
        assert_eq!(t.repo, "my-repo");
        assert_eq!(rest, "simple/demo-pkg/");
        assert_eq!(parse_path("/pypi/d/dom-111122223333/r/").unwrap().1, "");
        assert!(parse_path("/pypi/d/domain/r/").is_none());
        assert!(parse_path("/pypi/d/d-12/r/").is_none());
        assert!(parse_path("/npm/d/d-111122223333/r/").is_none());
    }

    #[test]
    fn basic_auth_requires_user_aws() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode("aws:tok"))
                .parse()
                .unwrap(),
        );
        assert_eq!(basic_token(&h).as_deref(), Some("tok"));
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode("bob:tok"))
                .parse()
                .unwrap(),
        );
        assert_eq!(basic_token(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer tok".parse().unwrap());
        assert_eq!(basic_token(&h), None);
    }
}
