//! `status.secretUsage`: for each rendering in the Secret, which keys a tool
//! needs and what to set. Pure, and never given the token.

use super::render::{ClientSettings, KEY_INDEX_URL, poetry_env_name, uv_env_name};
use crate::crd::{IndexRole, Rendering, SecretUsage};

const REFRESH_NOTE: &str = "read from the mounted directory on every run, so a refreshed token is picked up; env variables and subPath mounts keep the value from container start";

/// What people need to know to use the Secret, one entry per rendering.
pub fn usage(settings: &ClientSettings) -> Vec<SecretUsage> {
    settings
        .renderings
        .iter()
        .map(|r| one(*r, settings))
        .collect()
}

fn one(rendering: Rendering, s: &ClientSettings) -> SecretUsage {
    let extra = s.role == IndexRole::Extra;
    match rendering {
        Rendering::PipConf => entry(
            "pip",
            vec!["pip.conf".into()],
            format!(
                "mount the Secret as a directory <dir>; PIP_CONFIG_FILE=<dir>/pip.conf ({}); {REFRESH_NOTE}",
                if extra {
                    "extra-index-url: PyPI stays the main index"
                } else {
                    "index-url"
                }
            ),
        ),
        Rendering::Pypirc => entry(
            "twine",
            vec![".pypirc".into()],
            "twine upload --config-file <dir>/.pypirc --repository codeartifact DIST...".into(),
        ),
        Rendering::Env => entry(
            "pip, uv, twine (environment)",
            env_keys(extra),
            "envFrom the Secret; read once at container start, so use it for Jobs and CI pods, not long-running pods".into(),
        ),
        Rendering::Uv => uv(&s.index_name),
        Rendering::Poetry => poetry(&s.index_name),
        Rendering::Netrc => entry(
            "netrc (pip, uv, any tool that reads NETRC)",
            vec![".netrc".into(), KEY_INDEX_URL.into()],
            format!(
                "NETRC=<dir>/.netrc and the index URL without credentials from {KEY_INDEX_URL} (PIP_INDEX_URL, or uv.toml); {REFRESH_NOTE}"
            ),
        ),
    }
}

fn entry(tool: &str, keys: Vec<String>, how: String) -> SecretUsage {
    SecretUsage {
        tool: tool.into(),
        keys,
        how,
    }
}

fn uv(index_name: &str) -> SecretUsage {
    let n = uv_env_name(index_name);
    entry(
        "uv",
        vec![
            "uv.toml".into(),
            format!("UV_INDEX_{n}_USERNAME"),
            format!("UV_INDEX_{n}_PASSWORD"),
        ],
        format!(
            "UV_CONFIG_FILE=<dir>/uv.toml (index {index_name:?}, no credentials) plus UV_INDEX_{n}_USERNAME and UV_INDEX_{n}_PASSWORD from the files or envFrom, or NETRC=<dir>/.netrc with the netrc rendering"
        ),
    )
}

fn poetry(index_name: &str) -> SecretUsage {
    let n = poetry_env_name(index_name);
    entry(
        "poetry",
        vec![
            "poetry-source.toml".into(),
            format!("POETRY_HTTP_BASIC_{n}_USERNAME"),
            format!("POETRY_HTTP_BASIC_{n}_PASSWORD"),
        ],
        format!(
            "copy poetry-source.toml (source {index_name:?}, no credentials) into pyproject.toml once; set POETRY_HTTP_BASIC_{n}_USERNAME and POETRY_HTTP_BASIC_{n}_PASSWORD from the files before each run, or by envFrom"
        ),
    )
}

fn env_keys(extra: bool) -> Vec<String> {
    let index = if extra {
        ["PIP_EXTRA_INDEX_URL", "UV_INDEX"]
    } else {
        ["PIP_INDEX_URL", "UV_DEFAULT_INDEX"]
    };
    index
        .into_iter()
        .chain(["TWINE_REPOSITORY_URL", "TWINE_USERNAME", "TWINE_PASSWORD"])
        .map(String::from)
        .collect()
}
