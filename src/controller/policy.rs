//! Permissions policies against CodeArtifact, for both kinds: read the held
//! policy, then put, keep or delete it as `crate::permissions::plan` says.
//! A conflict (the revision moved between the read and the write: someone
//! else changed the policy) is read again and retried once; a second one is
//! a transient error, retried with backoff.

use serde_json::Value;

use crate::aws::{AwsErrorKind, CodeArtifact, PolicyOn};
use crate::error::Result;
use crate::permissions::{Step, document, plan};

/// What a policy sync changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The spec's policy was put (it was missing or different).
    Put,
    /// The operator's policy was deleted (the spec no longer states one).
    Deleted,
}

/// The outcome: the revision the operator now holds (for status) and what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The revision of the spec's policy in CodeArtifact; `None` when the spec states none.
    pub revision: Option<String>,
    /// What this sync changed, if anything.
    pub change: Option<Change>,
}

/// Makes the policy on `on` match `want`. `ours`: status records a revision,
/// so a policy found there was put by the operator. `field` names the spec
/// field in messages. Makes no call when no policy is wanted and none is ours.
pub async fn sync_policy(
    aws: &CodeArtifact,
    on: PolicyOn<'_>,
    want: Option<&Value>,
    ours: bool,
    field: &str,
) -> Result<Applied> {
    if want.is_none() && !ours {
        return Ok(Applied::default());
    }
    let text = want.map(|w| document(w, field)).transpose()?;
    let mut retried = false;
    loop {
        let held = aws.get_policy(on).await?;
        let outcome = match plan(want, held.as_ref(), ours) {
            Step::Nothing => return Ok(Applied::default()),
            Step::Keep { revision } => {
                return Ok(Applied {
                    revision: Some(revision),
                    change: None,
                });
            }
            Step::Put { revision } => {
                let doc = text.as_deref().unwrap_or_default();
                aws.put_policy(on, revision.as_deref(), doc)
                    .await
                    .map(|p| Applied {
                        revision: Some(p.revision),
                        change: Some(Change::Put),
                    })
            }
            Step::Delete { revision } => aws.delete_policy(on, &revision).await.map(|()| Applied {
                revision: None,
                change: Some(Change::Deleted),
            }),
        };
        match outcome {
            Err(e) if e.kind == AwsErrorKind::Conflict && !retried => retried = true,
            other => return Ok(other?),
        }
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
