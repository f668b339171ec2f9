//! Telling users what happened to a CodeArtifactDomain: status writes and
//! Events, best effort for failures (a failed report must not hide the error
//! being reported). A leaf of the domain controller.

use chrono::Utc;
use kube::Api;
use kube::runtime::events::EventType;

use crate::controller::Context;
use crate::crd::{
    CONDITION_READY, CodeArtifactDomain, CodeArtifactDomainStatus, DomainMode, EventReason,
    PackageGroupStatus, Reason, set_condition,
};
use crate::error::{Error, Result};

/// Writes status when it changed.
pub async fn write_status(
    ctx: &Context,
    obj: &CodeArtifactDomain,
    status: CodeArtifactDomainStatus,
) -> Result<()> {
    let api: Api<CodeArtifactDomain> = Api::all(ctx.client.clone());
    crate::publish::status(&api, obj, obj.status.as_ref(), &status).await?;
    Ok(())
}

/// A Warning Event, then Ready=False with the reason; best effort.
pub async fn report_failure(ctx: &Context, obj: &CodeArtifactDomain, err: &Error) {
    let mut st = obj.status.clone().unwrap_or_default();
    set_condition(
        &mut st.conditions,
        CONDITION_READY,
        false,
        err.reason(),
        &err.report(),
        obj.metadata.generation,
        Utc::now(),
    );
    // The Event first: whoever sees the condition finds the Event.
    let reason = EventReason::Failed(err.reason());
    publish(ctx, obj, EventType::Warning, reason, err.report()).await;
    if let Err(e) = write_status(ctx, obj, st).await {
        tracing::warn!(error = %e, "could not write domain failure status");
    }
}

/// Publishes an Event on the CodeArtifactDomain.
pub async fn publish(
    ctx: &Context,
    obj: &CodeArtifactDomain,
    type_: EventType,
    reason: EventReason,
    note: String,
) {
    crate::publish::event(
        &ctx.recorder,
        obj,
        type_,
        reason.as_str(),
        "Reconcile",
        note,
    )
    .await;
}

/// Status after a successful reconcile.
pub fn ready_status(
    obj: &CodeArtifactDomain,
    domain: &crate::aws::Domain,
    created_by_operator: bool,
    now: chrono::DateTime<Utc>,
) -> CodeArtifactDomainStatus {
    let mut st = obj.status.clone().unwrap_or_default();
    st.observed_generation = obj.metadata.generation;
    st.domain_name = Some(domain.name.clone());
    st.arn = Some(domain.arn.clone());
    st.owner = Some(domain.owner.clone());
    st.repository_count = Some(domain.repository_count);
    st.created_by_operator = Some(created_by_operator);
    st.applied_tag_keys = match obj.spec.mode {
        DomainMode::Manage => obj.spec.tags.keys().cloned().collect(),
        DomainMode::Use => vec![],
    };
    let message = match obj.spec.mode {
        DomainMode::Manage => format!("Domain {} exists and carries spec.tags", domain.name),
        DomainMode::Use => format!("Domain {} exists; the operator only uses it", domain.name),
    };
    set_condition(
        &mut st.conditions,
        CONDITION_READY,
        true,
        Reason::Available,
        &message,
        obj.metadata.generation,
        now,
    );
    st
}

/// Adds the package groups to a Ready status, and says in Ready that they are as declared.
pub fn with_package_groups(
    st: &mut CodeArtifactDomainStatus,
    obj: &CodeArtifactDomain,
    groups: Vec<PackageGroupStatus>,
    now: chrono::DateTime<Utc>,
) {
    if !groups.is_empty() {
        let message = format!(
            "Domain {} exists and carries spec.tags; its {} package groups are as declared",
            obj.domain_name(),
            groups.len()
        );
        let generation = obj.metadata.generation;
        let ok = Reason::Available;
        set_condition(
            &mut st.conditions,
            CONDITION_READY,
            true,
            ok,
            &message,
            generation,
            now,
        );
    }
    st.package_groups = groups;
}
