//! Loading and atomically saving the `--state` file (JSON; file contents in
//! base64): the service's state plus IAM's roles and STS's role sessions.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::State;
use crate::roles::{Role, Roles, Session};

/// What the file holds. Roles and sessions are optional keys, so files
/// written before they were kept still load.
#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    #[serde(flatten)]
    pub state: State,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub sessions: Vec<Session>,
}

/// [`Saved`] as written, borrowing the state instead of copying it.
#[derive(Serialize)]
struct Saving<'a> {
    #[serde(flatten)]
    state: &'a State,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<Role>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sessions: Vec<Session>,
}

/// Read the state file; a missing file is an empty state.
pub fn load(path: &Path) -> anyhow::Result<Saved> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("state file {} is not valid", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(e).with_context(|| format!("reading state file {}", path.display())),
    }
}

/// Write the state next to `path` and rename it into place, so readers and restarts never see
/// a half-written file.
pub fn save(path: &Path, state: &State, roles: &Roles) -> std::io::Result<()> {
    let saved = Saving {
        state,
        roles: roles.list(),
        sessions: roles.sessions(),
    };
    let bytes = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_missing_file_is_empty() {
        let dir = std::env::temp_dir().join(format!("caemu-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert!(load(&path).unwrap().state.domains.is_empty());
        let mut state = State::default();
        state.tokens.push(std::sync::Arc::new(super::super::Token {
            token: "t".into(),
            domain: "d".into(),
            owner: "111122223333".into(),
            access_key_id: "AKID".into(),
            expires: 1.5,
            grant: None,
        }));
        save(&path, &state, &Roles::default()).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.state.tokens[0].token, "t");
        assert!(back.roles.is_empty() && back.sessions.is_empty());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(load(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
