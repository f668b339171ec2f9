//! The I/O edge of a pre-population: the repository's own PyPI endpoint, read
//! with its token as pip would (Basic auth `aws:<token>`, in a header marked
//! sensitive, never in a URL). Asking for a file is what makes CodeArtifact
//! keep the package version from the external connection.

use std::time::Duration;

use reqwest::Url;
use reqwest::{StatusCode, header};

use super::index::{IndexFile, parse_page};
use crate::aws::AuthToken;

/// The PEP 691 JSON representation, which carries yanked and Requires-Python.
const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1";
/// Longest wait for one request (a wheel can be large).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// A wheel up to this size is kept in memory to read its METADATA; a bigger
/// one is streamed through and its dependencies are read only from PEP 658 metadata.
pub const MAX_WHEEL_IN_MEMORY: usize = 128 << 20;

/// Why a request failed; holds no token (URLs carry none).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(String);

/// Reads one repository's endpoint with one token.
pub struct Fetcher {
    client: reqwest::Client,
    endpoint: Url,
    token: AuthToken,
}

impl Fetcher {
    /// A reader of `endpoint` (the repository's PyPI endpoint, ending in '/').
    pub fn new(endpoint: &str, token: &AuthToken) -> Result<Self, FetchError> {
        let mut endpoint =
            Url::parse(endpoint).map_err(|e| FetchError(format!("endpoint {endpoint}: {e}")))?;
        if !endpoint.path().ends_with('/') {
            endpoint.set_path(&format!("{}/", endpoint.path()));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!(
                "codeartifact-operator/",
                env!("CARGO_PKG_VERSION"),
                " (prepopulate)"
            ))
            .build()
            .map_err(|e| FetchError(format!("HTTP client: {}", e.without_url())))?;
        Ok(Self {
            client,
            endpoint,
            token: token.clone(),
        })
    }

    /// The files of `project` (a normalised name); `None` when the index has no such project.
    pub async fn project(
        &self,
        project: &str,
    ) -> Result<Option<(Url, Vec<IndexFile>)>, FetchError> {
        let url = Self::join(&self.endpoint, &format!("simple/{project}/"))?;
        let res = self.get(&url, Some(ACCEPT)).await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let res = check(res, &url)?;
        let body = res.text().await.map_err(|e| failed(&url, e))?;
        let files = parse_page(&body).map_err(|e| FetchError(format!("{}: {e}", url.path())))?;
        Ok(Some((url, files)))
    }

    /// Downloads `file` (listed on the page at `page`); returns its bytes when
    /// `keep` and it is not bigger than [`MAX_WHEEL_IN_MEMORY`].
    pub async fn file(
        &self,
        page: &Url,
        file: &IndexFile,
        keep: bool,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let url = self.file_url(page, file)?;
        let mut res = check(self.get(&url, None).await?, &url)?;
        let mut kept = keep.then(Vec::new);
        while let Some(chunk) = res.chunk().await.map_err(|e| failed(&url, e))? {
            if let Some(buf) = kept.as_mut() {
                if buf.len() + chunk.len() > MAX_WHEEL_IN_MEMORY {
                    kept = None;
                } else {
                    buf.extend_from_slice(&chunk);
                }
            }
        }
        Ok(kept)
    }

    /// The file's core metadata, which the index offers at `<file url>.metadata` (PEP 658).
    pub async fn core_metadata(&self, page: &Url, file: &IndexFile) -> Result<String, FetchError> {
        let mut url = self.file_url(page, file)?;
        url.set_path(&format!("{}.metadata", url.path()));
        let res = check(self.get(&url, None).await?, &url)?;
        res.text().await.map_err(|e| failed(&url, e))
    }

    /// A file's URL, which must stay on the endpoint's host: the token is sent with it.
    fn file_url(&self, page: &Url, file: &IndexFile) -> Result<Url, FetchError> {
        let mut url = Self::join(page, &file.url)?;
        url.set_fragment(None);
        if url.origin() != self.endpoint.origin() {
            return Err(FetchError(format!(
                "{} is served from another host; the token is sent only to the repository's endpoint",
                file.filename
            )));
        }
        Ok(url)
    }

    fn join(base: &Url, rel: &str) -> Result<Url, FetchError> {
        base.join(rel)
            .map_err(|e| FetchError(format!("bad URL {rel:?}: {e}")))
    }

    async fn get(&self, url: &Url, accept: Option<&str>) -> Result<reqwest::Response, FetchError> {
        let mut req = self
            .client
            .get(url.clone())
            // reqwest marks the Authorization header sensitive (left out of Debug output).
            .basic_auth("aws", Some(self.token.expose()));
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        req.send().await.map_err(|e| failed(url, e))
    }
}

fn check(res: reqwest::Response, url: &Url) -> Result<reqwest::Response, FetchError> {
    let status = res.status();
    if status.is_success() {
        Ok(res)
    } else {
        Err(FetchError(format!("GET {} answered {status}", url.path())))
    }
}

fn failed(url: &Url, e: reqwest::Error) -> FetchError {
    // `without_url`: the path is given once, from the URL the operator built.
    FetchError(format!("GET {}: {}", url.path(), e.without_url()))
}
