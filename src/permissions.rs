//! Permissions policies (CodeArtifact's resource policies on a domain or a
//! repository), pure: the JSON document to send, whether what CodeArtifact
//! holds already says the same thing, and what to do about it.
//!
//! Who holds the policy: the operator deletes a policy only when it put one
//! there itself (the revision it recorded in status). A policy someone else
//! set on a domain or repository the operator only uses or adopted stays
//! until a spec states one; from then on the spec owns it.

use serde_json::Value;

use crate::aws::HeldPolicy as Held;
use crate::crd::MAX_POLICY_CHARS;
use crate::error::{Error, Result};

/// What to do so that CodeArtifact holds the policy the spec states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: no policy is wanted, and none of the operator's is there.
    Nothing,
    /// The held policy already says what the spec says.
    Keep {
        /// Its revision, for status.
        revision: String,
    },
    /// Put the document; `revision` is the held one (`None`: there is none).
    Put {
        /// The revision being replaced.
        revision: Option<String>,
    },
    /// Delete the operator's policy, which the spec no longer states.
    Delete {
        /// The held revision.
        revision: String,
    },
}

/// The document to send for `policy`, compact JSON, or why it cannot be
/// sent (`field` names the spec field in the message).
pub fn document(policy: &Value, field: &str) -> Result<String> {
    let text = serde_json::to_string(policy)
        .map_err(|e| Error::InvalidSpec(format!("{field} cannot be written as JSON: {e}")))?;
    let chars = text.chars().count();
    if chars > MAX_POLICY_CHARS {
        return Err(Error::InvalidSpec(format!(
            "{field} is {chars} characters as JSON; CodeArtifact accepts at most {MAX_POLICY_CHARS}"
        )));
    }
    Ok(text)
}

/// Decides the step. `want`: the spec's policy; `held`: CodeArtifact's;
/// `ours`: the operator put the held policy there (status has its revision).
pub fn plan(want: Option<&Value>, held: Option<&Held>, ours: bool) -> Step {
    match (want, held) {
        (Some(_), None) => Step::Put { revision: None },
        (Some(w), Some(h)) if same(w, &h.document) => Step::Keep {
            revision: h.revision.clone(),
        },
        (Some(_), Some(h)) => Step::Put {
            revision: Some(h.revision.clone()),
        },
        (None, Some(h)) if ours => Step::Delete {
            revision: h.revision.clone(),
        },
        (None, _) => Step::Nothing,
    }
}

/// Whether the held text says what `want` says, as IAM reads it: a string
/// equals a one-element list, list order and repeats do not matter, action
/// names ignore case. Text that is not JSON is never the same.
pub fn same(want: &Value, held: &str) -> bool {
    serde_json::from_str::<Value>(held).is_ok_and(|h| canonical(&h, None) == canonical(want, None))
}

/// Elements whose value is one string, never a list.
const SINGLE: [&str; 4] = ["Version", "Id", "Sid", "Effect"];

fn canonical(v: &Value, key: Option<&str>) -> Value {
    match v {
        // One statement may stand for a list of one.
        Value::Object(_) if key == Some("Statement") => set([canonical(v, None)]),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), canonical(x, Some(k))))
                .collect(),
        ),
        Value::Array(items) => set(items.iter().map(|x| canonical(x, key))),
        Value::String(s) if key.is_some_and(|k| SINGLE.contains(&k)) => Value::String(s.clone()),
        Value::String(s) if matches!(key, Some("Action" | "NotAction")) => {
            set([Value::String(s.to_lowercase())])
        }
        scalar if key.is_some() => set([scalar.clone()]),
        scalar => scalar.clone(),
    }
}

/// A list as a set: sorted by its JSON text, without repeats, and any
/// one-element list inside flattened the same way.
fn set(items: impl IntoIterator<Item = Value>) -> Value {
    let mut out: Vec<Value> = items
        .into_iter()
        .flat_map(|x| match x {
            Value::Array(inner) => inner,
            other => vec![other],
        })
        .collect();
    out.sort_by_key(|x| x.to_string());
    out.dedup();
    Value::Array(out)
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
