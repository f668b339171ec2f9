//! `spec.secret` (which client settings the Secret holds) and `status.secretUsage`.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The index name when `spec.secret.indexName` is unset.
pub const DEFAULT_INDEX_NAME: &str = "codeartifact";

/// The Secret the operator writes.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretSpec {
    /// Name of the Secret, in the PypiRepository's namespace. Defaults to
    /// `<metadata.name>-pypi`. The operator owns this Secret: it is rewritten
    /// on every refresh and deleted with the PypiRepository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: Option<String>,

    /// Which renderings to write besides the `token`, `endpoint` and
    /// `expiresAt` keys. Defaults to `pipConf`, `pypirc` and `env`.
    /// `pipConf`: key `pip.conf`, for `PIP_CONFIG_FILE`.
    /// `pypirc`: key `.pypirc`, for `twine upload --repository codeartifact`.
    /// `env`: keys `PIP_INDEX_URL` and `UV_DEFAULT_INDEX` (with indexRole
    /// Extra: `PIP_EXTRA_INDEX_URL` and `UV_INDEX`), `TWINE_REPOSITORY_URL`,
    /// `TWINE_USERNAME`, `TWINE_PASSWORD`.
    /// `uv`: key `uv.toml` (for `UV_CONFIG_FILE`) with an `[[index]]` named
    /// indexName and no credentials, the credentials in
    /// `UV_INDEX_<NAME>_USERNAME` and `UV_INDEX_<NAME>_PASSWORD`, and the
    /// index URL with credentials in `UV_DEFAULT_INDEX` (Extra: `UV_INDEX`).
    /// `poetry`: key `poetry-source.toml`, a `[[tool.poetry.source]]` to copy
    /// into pyproject.toml (no credentials), and
    /// `POETRY_HTTP_BASIC_<NAME>_USERNAME` / `_PASSWORD`.
    /// `netrc`: key `.netrc` (`machine HOST login aws password TOKEN`, for
    /// `NETRC` with pip, uv and anything else that reads netrc) and key
    /// `indexUrl`, the index URL without credentials.
    /// `<NAME>` is indexName upper-cased with '-' replaced by '_'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 6))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub renderings: Option<Vec<Rendering>>,

    /// Name of the package index in the uv and Poetry renderings: the uv
    /// `[[index]]` name and the Poetry source name, from which both tools
    /// derive the environment variables they read credentials from. Defaults
    /// to `codeartifact`. Lower-case letters, words joined by single '-', at
    /// most 63 characters, and not `pypi`: Poetry maps `-` to `_` and back
    /// in its variable names (`POETRY_REPOSITORIES_<NAME>_URL` matches only
    /// `[A-Z_]`), so digits, '.', '_' and upper case would not round-trip,
    /// and it reserves `pypi` for PyPI itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z]+(-[a-z]+)*$') && self != 'pypi'").message("spec.secret.indexName must be lower-case letters with words joined by single '-' (such as codeartifact or team-packages), and not 'pypi'"))]
    pub index_name: Option<String>,

    /// Whether the repository replaces PyPI for the clients or is added next
    /// to it. `Primary` (the default): pip's `index-url`, uv's default index,
    /// Poetry's primary source; public packages come through the repository's
    /// external connection, so every install is served (and cached) by
    /// CodeArtifact. `Extra`: pip's `extra-index-url` (`PIP_EXTRA_INDEX_URL`),
    /// uv's `UV_INDEX` / a non-default `[[index]]`, a Poetry `supplemental`
    /// source. DEPENDENCY CONFUSION RISK with Extra: pip takes the highest
    /// version found on any index, so anyone who publishes a package on
    /// public PyPI under the name of one of your private packages, with a
    /// higher version, gets their code installed instead of yours. uv asks
    /// the extra index first and stops at the first index that has the name,
    /// which is safer but still installs from PyPI any name your repository
    /// lacks. Prefer Primary (or package-group origin controls) unless you
    /// must reach PyPI directly.
    #[serde(default)]
    pub index_role: IndexRole,
}

/// One way of presenting the credentials in the Secret (see `renderings`).
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
pub enum Rendering {
    /// `pip.conf`, as `aws codeartifact login --tool pip` writes it.
    PipConf,
    /// `.pypirc` with a `codeartifact` section, as `aws codeartifact login --tool twine` writes it.
    Pypirc,
    /// Environment-style keys for pip, uv and twine.
    Env,
    /// `uv.toml` and uv's per-index credential variables.
    Uv,
    /// A Poetry source snippet and Poetry's credential variables.
    Poetry,
    /// A `.netrc` line for the repository host.
    Netrc,
}

/// The renderings written when `spec.secret.renderings` is unset.
pub const DEFAULT_RENDERINGS: [Rendering; 3] =
    [Rendering::PipConf, Rendering::Pypirc, Rendering::Env];

/// How the clients use the repository (see `indexRole`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IndexRole {
    /// The repository is the clients' only index.
    #[default]
    Primary,
    /// The repository is added next to PyPI (dependency-confusion risk).
    Extra,
}

/// How one tool uses the Secret, for people reading `kubectl describe`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretUsage {
    /// The client, such as pip, uv, poetry or twine.
    pub tool: String,
    /// The Secret keys it needs.
    pub keys: Vec<String>,
    /// What to set, with the Secret mounted as a directory at `<dir>`.
    pub how: String,
}
