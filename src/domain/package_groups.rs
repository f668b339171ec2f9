//! A CodeArtifactDomain's package groups against CodeArtifact: read what the domain holds,
//! [`plan`] the changes, carry them out, and say what was done. Groups are marked with the
//! object's ownership tags when created, so "did we create it" survives a lost status.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::runtime::events::EventType;

use super::group_plan::{Actual, Change, Desired, KINDS, ROOT, desired, plan};
use super::report::publish;
use crate::aws::{CodeArtifact, Domain, PackageGroup};
use crate::controller::Context;
use crate::controller::ownership::{Claim, Owner, claim};
use crate::crd::{CodeArtifactDomain, EventReason, PackageGroupStatus};
use crate::error::{Error, Result};

/// Where the calls go: the client, the domain and its owner.
struct Target<'a> {
    aws: CodeArtifact,
    domain: &'a str,
    owner: Option<&'a str>,
}

fn ours(tags: &BTreeMap<String, String>, ctx: &Context, obj: &CodeArtifactDomain) -> bool {
    let me = Owner {
        cluster: ctx.config.cluster_name.clone(),
        namespace: String::new(),
        name: obj.name_any(),
        uid: obj.uid().unwrap_or_default(),
    };
    claim(tags, &me) == Claim::Ours { adopted: false }
}

/// Makes the domain's package groups what the object declares; returns them for status.
/// An object that declares none and reported none makes no call at all.
pub async fn sync(
    obj: &CodeArtifactDomain,
    ctx: &Context,
    domain: &Domain,
    marker: &BTreeMap<String, String>,
) -> Result<Vec<PackageGroupStatus>> {
    let want = desired(&obj.spec).map_err(Error::InvalidSpec)?;
    let reported = obj
        .status
        .as_ref()
        .is_some_and(|s| !s.package_groups.is_empty());
    if want.is_empty() && !reported {
        return Ok(Vec::new());
    }
    let t = Target {
        aws: ctx.aws_for_domain(obj).await,
        domain: &domain.name,
        owner: obj.spec.owner.as_deref(),
    };
    let listed = t.aws.list_package_groups(t.domain, t.owner).await?;
    let mut actual = Vec::with_capacity(listed.len());
    for g in &listed {
        actual.push(read(&t, g, &want, ctx, obj).await?);
    }
    let mut arns: BTreeMap<String, String> = listed
        .iter()
        .map(|g| (g.pattern.clone(), g.arn.clone()))
        .collect();
    let mut created = Vec::new();
    for change in plan(&want, &actual) {
        if let Some(arn) = carry_out(&t, &change, marker).await? {
            arns.insert(pattern_of(&change).to_string(), arn);
            created.push(pattern_of(&change).to_string());
        }
        announce(ctx, obj, &change).await;
    }
    Ok(want
        .iter()
        .map(|d| PackageGroupStatus {
            pattern: d.pattern.clone(),
            arn: arns.get(&d.pattern).cloned().unwrap_or_default(),
            created_by_operator: created.contains(&d.pattern)
                || actual.iter().any(|a| a.pattern == d.pattern && a.ours),
        })
        .collect())
}

/// A listed group as the plan needs it: its marker (not for the root, which nobody creates)
/// and, for a declared group whose lists are not empty, the allowed repositories.
async fn read(
    t: &Target<'_>,
    g: &PackageGroup,
    want: &[Desired],
    ctx: &Context,
    obj: &CodeArtifactDomain,
) -> Result<Actual> {
    let is_ours = if g.pattern == ROOT {
        false
    } else {
        ours(&t.aws.list_tags(&g.arn).await?, ctx, obj)
    };
    let mut allowed = BTreeMap::new();
    if want.iter().any(|d| d.pattern == g.pattern) {
        for kind in KINDS {
            if g.repository_counts.get(kind).copied().unwrap_or(0) > 0 {
                let repos = t
                    .aws
                    .allowed_repositories(t.domain, t.owner, &g.pattern, kind)
                    .await?;
                allowed.insert(kind.to_string(), repos);
            }
        }
    }
    Ok(Actual {
        pattern: g.pattern.clone(),
        description: g.description.clone().unwrap_or_default(),
        contact_info: g.contact_info.clone().unwrap_or_default(),
        modes: g.modes.clone(),
        allowed,
        ours: is_ours,
    })
}

fn pattern_of(change: &Change) -> &str {
    match change {
        Change::Create { pattern, .. }
        | Change::Texts { pattern, .. }
        | Change::Origin { pattern, .. }
        | Change::Delete { pattern } => pattern,
    }
}

/// One change; a created group's ARN is returned.
async fn carry_out(
    t: &Target<'_>,
    change: &Change,
    marker: &BTreeMap<String, String>,
) -> Result<Option<String>> {
    let (aws, domain, owner) = (&t.aws, t.domain, t.owner);
    match change {
        Change::Create {
            pattern,
            description,
            contact_info,
        } => {
            let texts = (description.as_str(), contact_info.as_str());
            let arn = aws
                .create_package_group(domain, owner, pattern, texts, marker)
                .await?;
            return Ok(Some(arn));
        }
        Change::Texts {
            pattern,
            description,
            contact_info,
        } => {
            let texts = (description.as_str(), contact_info.as_str());
            aws.update_package_group(domain, owner, pattern, texts)
                .await?;
        }
        Change::Origin { pattern, update } => {
            aws.update_package_group_origin(domain, owner, pattern, update)
                .await?;
        }
        Change::Delete { pattern } => aws.delete_package_group(domain, owner, pattern).await?,
    }
    Ok(None)
}

/// A Normal Event for what changed (origin updates right after a create are part of it).
async fn announce(ctx: &Context, obj: &CodeArtifactDomain, change: &Change) {
    let (reason, note) = match change {
        Change::Create { pattern, .. } => (
            EventReason::PackageGroupCreated,
            format!("Created package group {pattern}"),
        ),
        Change::Texts { pattern, .. } | Change::Origin { pattern, .. } => (
            EventReason::PackageGroupCorrected,
            format!("Package group {pattern} set as declared"),
        ),
        Change::Delete { pattern } => (
            EventReason::PackageGroupDeleted,
            format!(
                "Deleted package group {pattern}, which this object created and no longer declares"
            ),
        ),
    };
    publish(ctx, obj, EventType::Normal, reason, note).await;
}
