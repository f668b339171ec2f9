//! Client configuration text (pip, twine, uv, Poetry, netrc), each in the exact
//! form its tool reads. Pure: endpoint, token and names in, text out.

use crate::aws::AuthToken;
use crate::crd::{IndexRole, PypiRepository, Rendering};

/// Key written with the netrc rendering: the index URL without credentials.
pub const KEY_INDEX_URL: &str = "indexUrl";

/// What the client renderings depend on, taken from `spec.secret`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSettings {
    /// The renderings to write, sorted and deduplicated.
    pub renderings: Vec<Rendering>,
    /// uv index and Poetry source name.
    pub index_name: String,
    /// Primary or extra index.
    pub role: IndexRole,
}

impl ClientSettings {
    /// The settings a PypiRepository asks for.
    pub fn of(repo: &PypiRepository) -> Self {
        Self {
            renderings: repo.renderings(),
            index_name: repo.index_name().to_string(),
            role: repo.spec.secret.index_role,
        }
    }
}

/// The pip index URL without credentials: the endpoint plus `simple/`.
pub fn index_url(endpoint: &str) -> String {
    let base = if endpoint.ends_with('/') {
        endpoint.to_string()
    } else {
        format!("{endpoint}/")
    };
    format!("{base}simple/")
}

/// Puts `aws:<token>@` in front of the host, as `aws codeartifact login` does.
pub fn with_credentials(url: &str, token: &AuthToken) -> String {
    let password = userinfo_escape(token.expose());
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://aws:{password}@{rest}"),
        None => format!("aws:{password}@{url}"),
    }
}

/// Whether a token consists only of URL-safe characters (RFC 3986
/// "unreserved"), as CodeArtifact tokens do. Any other character could end a
/// URL's userinfo, a netrc field or a config line early, so such a token is
/// never rendered.
pub fn is_url_safe(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(is_unreserved)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Percent-encodes what is not unreserved, so a URL stays valid whatever it holds.
fn userinfo_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pip.conf` as `aws codeartifact login --tool pip` leaves it (`index-url`),
/// or with `extra-index-url` when the repository is an extra index.
pub fn pip_conf(endpoint: &str, token: &AuthToken, role: IndexRole) -> String {
    let key = match role {
        IndexRole::Primary => "index-url",
        IndexRole::Extra => "extra-index-url",
    };
    format!(
        "[global]\n{key} = {}\n",
        with_credentials(&index_url(endpoint), token)
    )
}

/// `.pypirc` exactly as `aws codeartifact login --tool twine` writes a new one.
pub fn pypirc(endpoint: &str, token: &AuthToken) -> String {
    format!(
        "[distutils]\nindex-servers = \n\tpypi\n\tcodeartifact\n\n[codeartifact]\nrepository = {endpoint}\nusername = aws\npassword = {}\n\n",
        token.expose()
    )
}

/// The `<NAME>` in `UV_INDEX_<NAME>_USERNAME`, built as uv builds it from an
/// index name: ASCII letters and digits upper-cased, anything else `_`.
pub fn uv_env_name(index_name: &str) -> String {
    index_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The `<NAME>` in `POETRY_HTTP_BASIC_<NAME>_USERNAME`, built as Poetry builds
/// it from a source name: upper-cased, `-` replaced by `_`.
pub fn poetry_env_name(source_name: &str) -> String {
    source_name.to_uppercase().replace('-', "_")
}

/// `uv.toml` for `UV_CONFIG_FILE`: one named index, no credentials (uv finds
/// them in `UV_INDEX_<NAME>_*` or netrc).
pub fn uv_toml(endpoint: &str, index_name: &str, role: IndexRole) -> String {
    let default = match role {
        IndexRole::Primary => "default = true\n",
        IndexRole::Extra => "",
    };
    format!(
        "[[index]]\nname = {}\nurl = {}\n{default}",
        toml_string(index_name),
        toml_string(&index_url(endpoint))
    )
}

/// The `[[tool.poetry.source]]` table for pyproject.toml, no credentials.
pub fn poetry_source(endpoint: &str, source_name: &str, role: IndexRole) -> String {
    let priority = match role {
        IndexRole::Primary => "primary",
        IndexRole::Extra => "supplemental",
    };
    format!(
        "[[tool.poetry.source]]\nname = {}\nurl = {}\npriority = \"{priority}\"\n",
        toml_string(source_name),
        toml_string(&index_url(endpoint))
    )
}

/// A `.netrc` entry for the endpoint's host (netrc has no ports), or `None`
/// when the endpoint has no host.
pub fn netrc(endpoint: &str, token: &AuthToken) -> Option<String> {
    let uri: axum::http::Uri = endpoint.parse().ok()?;
    let host = uri.host()?;
    Some(format!(
        "machine {host} login aws password {}\n",
        token.expose()
    ))
}

/// A TOML basic string. JSON string escapes are a subset of TOML's, so
/// serde_json's quoting is valid TOML.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}
