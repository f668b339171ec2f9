//! Step 2 of a reconcile: make CodeArtifact match the spec. Creates what is
//! missing, adopts what the rules allow, refuses what is someone else's, and
//! corrects drift; between resyncs it trusts memory and makes no AWS call.
//! What it did comes back as [`Note`]s for the caller to report.

use std::time::Instant;

use kube::ResourceExt;

use super::context::Context;
use super::desired::Desired;
use super::domains::ensure_domain;
use super::endpoint::endpoint;
use super::ownership::{Claim, adoption_marker, claim, repository_marker, tag_changes};
use super::policy::{Change, sync_policy};
use super::remote::{Note, Remote, Settings, SyncRecord, current_settings};
use super::state::Uid;
use crate::aws::{AwsError, AwsErrorKind, PolicyOn, Repository, RepositorySettings};
use crate::crd::{EventReason, PypiRepository, RepositoryMode};
use crate::error::{Error, Result};

/// How this object holds an existing repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Every setting follows the spec, defaults included; `marker`: it
    /// carries this object's creation marker.
    Full {
        /// Keep the creation marker on it.
        marker: bool,
    },
    /// Adopted under strict tenancy: only stated settings change, and it
    /// carries the adoption marker.
    Stated,
}

/// Decides, from the repository's tags, whether and how this object may
/// manage an existing repository. Pure.
pub fn hold(d: &Desired, claimed: &Claim) -> Result<Hold> {
    let Some(grant) = d.grant else {
        // --tenancy=open: today's single-team behaviour, anything is adopted.
        return Ok(Hold::Full {
            marker: *claimed == Claim::Ours { adopted: false },
        });
    };
    match claimed {
        Claim::Ours { adopted: false } => Ok(Hold::Full { marker: true }),
        Claim::Ours { adopted: true } => Ok(Hold::Stated),
        Claim::Elsewhere(owner) => Err(Error::OwnedElsewhere {
            repository: d.repository.clone(),
            owner: owner.clone(),
        }),
        Claim::Unmarked if d.adopt && grant.adopt => Ok(Hold::Stated),
        Claim::Unmarked => Err(Error::AlreadyExists {
            repository: d.repository.clone(),
            fix: if d.adopt {
                "the CodeArtifactDomain's access rules do not let this namespace adopt repositories; ask your platform team, use spec.mode Consume to only read it, or choose another name".into()
            } else {
                "set spec.adopt: true to take it over (settings the spec does not state stay as they are), use spec.mode Consume to only read it, or choose another name".into()
            },
        }),
    }
}

/// Brings CodeArtifact in line with `d`, or returns the last sync's outcome
/// when nothing changed since.
pub async fn sync(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    notes: &mut Vec<Note>,
) -> Result<Remote> {
    let uid = Uid::of(obj);
    let last = ctx.states.read(&uid, |s| s.synced.clone());
    if let Some(remote) = recent(obj, ctx, d, last.as_ref()) {
        return Ok(remote);
    }
    let domain = ensure_domain(obj, ctx, d, notes).await?;
    let repo = match d.mode {
        RepositoryMode::Consume => existing(ctx, d).await?,
        RepositoryMode::Manage => manage(obj, ctx, d, last.is_some(), notes).await?,
    };
    let endpoint = endpoint(obj, ctx, d, last.as_ref(), &repo, &domain.owner).await?;
    let (applied_tag_keys, policy_revision) = match d.mode {
        RepositoryMode::Manage => (
            d.tags.keys().cloned().collect(),
            repository_policy(obj, ctx, d, notes).await?,
        ),
        RepositoryMode::Consume => (vec![], None),
    };
    let remote = Remote {
        domain_arn: domain.arn,
        domain_owner: domain.owner,
        repository_arn: repo.arn,
        endpoint,
        applied_tag_keys,
        policy_revision,
    };
    let record = SyncRecord {
        generation: obj.metadata.generation.unwrap_or_default(),
        at: Instant::now(),
        remote: remote.clone(),
        endpoint: obj.spec.endpoint.as_deref().cloned().unwrap_or_default(),
    };
    ctx.states.update(&uid, |s| s.synced = Some(record));
    Ok(remote)
}

/// The last sync's outcome, if it was for this generation and is younger than the resync period.
fn recent(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    last: Option<&SyncRecord>,
) -> Option<Remote> {
    let last = last?;
    // 0.9: a requeue scheduled for exactly one resync period must count as due.
    let fresh = last.generation == obj.metadata.generation.unwrap_or_default()
        && last.at.elapsed() < ctx.config.resync.mul_f64(0.9);
    (fresh && last.remote.is_repository(&d.domain, &d.repository)).then(|| last.remote.clone())
}

/// Consume mode: the repository must exist; nothing is changed.
async fn existing(ctx: &Context, d: &Desired) -> Result<Repository> {
    ctx.aws_for(d)
        .await
        .describe_repository(&d.domain, d.owner.as_deref(), &d.repository)
        .await?
        .ok_or_else(|| Error::RepositoryNotFound {
            domain: d.domain.clone(),
            repository: d.repository.clone(),
        })
}

/// Manage mode: create the repository, or check who holds it and correct it.
async fn manage(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    synced_before: bool,
    notes: &mut Vec<Note>,
) -> Result<Repository> {
    let known = synced_before
        || obj
            .status
            .as_ref()
            .and_then(|s| s.repository_arn.as_ref())
            .is_some();
    let (repo, created) = ensure_repository(obj, ctx, d, known, notes).await?;
    if created {
        connect(ctx, d, &repo, d.settings(None).external_connection).await?;
        return Ok(repo);
    }
    let tags = ctx.aws_for(d).await.list_tags(&repo.arn).await?;
    let claimed = claim(&tags, &d.owner_marker);
    let how = hold(d, &claimed)?;
    if claimed == Claim::Unmarked && (d.grant.is_some() || !known) {
        notes.push(adopted_note(d));
    }
    let current = current_settings(&repo);
    let want = match how {
        Hold::Full { .. } => d.settings(None),
        Hold::Stated => d.settings(Some(&current)),
    };
    // The marker goes on first, so that no other object can take the
    // repository while its settings are being changed.
    correct_tags(obj, ctx, d, &repo, &tags, how).await?;
    correct_settings(ctx, d, &current, &want).await?;
    connect(ctx, d, &repo, want.external_connection).await?;
    Ok(repo)
}

fn adopted_note(d: &Desired) -> Note {
    let message = if d.grant.is_some() {
        format!(
            "Adopted existing CodeArtifact repository {}; the operator changes only the settings the spec states and will never delete it",
            d.repository
        )
    } else {
        format!(
            "Adopted existing CodeArtifact repository {}; the operator manages its settings but will never delete it",
            d.repository
        )
    };
    Note::new(EventReason::RepositoryAdopted, "Adopt", message)
}

/// The repository and whether this call created it. Under strict tenancy a
/// repository is created only when the rules grant `create`.
async fn ensure_repository(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    known: bool,
    notes: &mut Vec<Note>,
) -> Result<(Repository, bool)> {
    let owner = d.owner.as_deref();
    let may_create = d.grant.is_none_or(|g| g.create);
    // Under strict tenancy look before creating: a CreateRepository that
    // conflicts with another team's repository is an attempted write.
    if (known || !may_create || d.grant.is_some())
        && let Some(repo) = ctx
            .aws_for(d)
            .await
            .describe_repository(&d.domain, owner, &d.repository)
            .await?
    {
        return Ok((repo, false));
    }
    if !may_create {
        return Err(Error::NotPermitted(format!(
            "repository {} does not exist, and the CodeArtifactDomain's access rules let namespace {} only adopt, not create; ask your platform team",
            d.repository,
            obj.namespace().unwrap_or_default()
        )));
    }
    match create(ctx, d).await {
        Ok(repo) => {
            // A first creation is told by status (Ready, with its transition
            // time), which saves one write per object; a repository that went
            // missing and was made again is news for an Event.
            if known {
                notes.push(Note::new(
                    EventReason::RepositoryCreated,
                    "CreateRepository",
                    format!(
                        "Recreated missing CodeArtifact repository {} in domain {}",
                        d.repository, d.domain
                    ),
                ));
            }
            Ok((repo, true))
        }
        Err(e) => Ok((after_failed_create(ctx, d, e).await?, false)),
    }
}

/// CreateRepository with the spec's settings and tags, and this object's marker.
async fn create(ctx: &Context, d: &Desired) -> std::result::Result<Repository, AwsError> {
    let want = d.settings(None);
    let mut tags = d.tags.clone();
    tags.extend(repository_marker(&d.owner_marker));
    let settings = RepositorySettings {
        description: want.description,
        upstreams: want.upstreams,
        tags,
    };
    ctx.aws_for(d)
        .await
        .create_repository(&d.domain, d.owner.as_deref(), &d.repository, &settings)
        .await
}

/// After CreateRepository failed: a repository created meanwhile is used;
/// a missing upstream or domain is named as such.
async fn after_failed_create(ctx: &Context, d: &Desired, e: AwsError) -> Result<Repository> {
    let owner = d.owner.as_deref();
    match e.kind {
        AwsErrorKind::Conflict => ctx
            .aws_for(d)
            .await
            .describe_repository(&d.domain, owner, &d.repository)
            .await?
            .ok_or_else(|| Error::Aws(e)),
        AwsErrorKind::NotFound if !d.upstreams.is_empty() => Err(Error::UpstreamNotFound {
            domain: d.domain.clone(),
            source: e,
        }),
        AwsErrorKind::NotFound => {
            // The domain may have been deleted behind our back: look again next time.
            ctx.forget_domain(&d.domain, owner);
            Err(e.into())
        }
        _ => Err(e.into()),
    }
}

/// The public:pypi connection as `want` says.
async fn connect(ctx: &Context, d: &Desired, repo: &Repository, want: bool) -> Result<()> {
    let has = current_settings(repo).external_connection;
    let owner = d.owner.as_deref();
    match (want, has) {
        (true, false) => Ok(ctx
            .aws_for(d)
            .await
            .associate_public_pypi(&d.domain, owner, &d.repository)
            .await?),
        (false, true) => Ok(ctx
            .aws_for(d)
            .await
            .disassociate_public_pypi(&d.domain, owner, &d.repository)
            .await?),
        _ => Ok(()),
    }
}

/// Description and upstreams.
async fn correct_settings(
    ctx: &Context,
    d: &Desired,
    current: &Settings,
    want: &Settings,
) -> Result<()> {
    if current.description == want.description && current.upstreams == want.upstreams {
        return Ok(());
    }
    match ctx
        .aws_for(d)
        .await
        .update_repository(
            &d.domain,
            d.owner.as_deref(),
            &d.repository,
            &want.description,
            &want.upstreams,
        )
        .await
    {
        Err(e) if e.kind == AwsErrorKind::NotFound => Err(Error::UpstreamNotFound {
            domain: d.domain.clone(),
            source: e,
        }),
        other => Ok(other?),
    }
}

/// spec.tags, plus the marker that `how` calls for.
async fn correct_tags(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    repo: &Repository,
    current: &std::collections::BTreeMap<String, String>,
    how: Hold,
) -> Result<()> {
    let mut desired = d.tags.clone();
    match how {
        Hold::Full { marker: true } => desired.extend(repository_marker(&d.owner_marker)),
        Hold::Stated => desired.extend(adoption_marker(&d.owner_marker)),
        Hold::Full { marker: false } => {}
    }
    let applied = obj.status.as_ref().map(|s| s.applied_tag_keys.as_slice());
    let (set, remove) = tag_changes(current, &desired, applied.unwrap_or_default());
    ctx.aws_for(d).await.retag(&repo.arn, &set, &remove).await?;
    Ok(())
}

/// spec.permissionsPolicy on the repository; the revision the operator holds.
async fn repository_policy(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    notes: &mut Vec<Note>,
) -> Result<Option<String>> {
    let on = PolicyOn::Repository(&d.domain, d.owner.as_deref(), &d.repository);
    let want = obj.spec.permissions_policy.as_ref();
    let ours = obj.status.as_ref().and_then(|s| s.policy_revision.as_ref());
    let aws = ctx.aws_for(d).await;
    let field = "spec.permissionsPolicy";
    let applied = sync_policy(&aws, on, want, ours.is_some(), field).await?;
    let repo = &d.repository;
    match applied.change {
        Some(Change::Put) => notes.push(Note::new(
            EventReason::PermissionsPolicyApplied,
            "PutRepositoryPermissionsPolicy",
            format!("Put spec.permissionsPolicy on repository {repo}"),
        )),
        Some(Change::Deleted) => notes.push(Note::new(
            EventReason::PermissionsPolicyDeleted,
            "DeleteRepositoryPermissionsPolicy",
            format!(
                "Deleted the permissions policy of repository {repo}: the spec no longer states one"
            ),
        )),
        None => {}
    }
    Ok(applied.revision)
}

#[cfg(test)]
#[path = "repository_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "sync_tests.rs"]
mod sync_tests;

#[cfg(test)]
#[path = "testing.rs"]
pub(super) mod testing;
