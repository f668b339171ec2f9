//! Step 3 of a reconcile: the Secret holds a fresh token. A still-fresh,
//! well-formed token already in this object's own Secret is kept for this
//! object only (also across operator restarts); otherwise the shared
//! per-domain token is used, minted only when no fresh one exists. Tokens
//! read from Secrets never enter the shared cache: a namespace can edit its
//! Secret, and what it writes there must not reach anyone else. The Secret is
//! written only when its content changes.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};

use super::context::Context;
use super::desired::Desired;
use super::secret_memo::SecretMemo;
use super::state::Uid;
use crate::aws::IssuedToken;
use crate::crd::{FIELD_MANAGER, PypiRepository};
use crate::error::{Error, Result};
use crate::secret::{build_secret, is_up_to_date, stored_token};
use crate::token::{TokenSource, is_fresh, is_well_formed, refresh_at};

/// Makes sure the Secret exists with a fresh token and the right content;
/// returns when the token it holds must be replaced. Between refreshes the
/// Secret is not read again while nothing but the operator touched it
/// (see `secret_memo`).
pub async fn ensure_secret(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    repository: &RepositoryRef<'_>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let uid = Uid::of(obj);
    let scope = d.token_key.scope();
    let (epoch, memo) = ctx
        .states
        .read(&uid, |s| (s.secret_epoch, s.secret_memo.clone()));
    if let Some(memo) = memo
        && memo.still_right(obj, repository.endpoint, &scope, epoch)
        && is_fresh(&memo.times(), d.refresh_before, now)
    {
        return Ok(refresh_at(&memo.times(), d.refresh_before));
    }
    let token = read_and_write(obj, ctx, d, repository, now).await?;
    let memo = SecretMemo::new(obj, repository.endpoint, &token, &scope, epoch);
    ctx.states.update(&uid, |s| s.secret_memo = Some(memo));
    Ok(refresh_at(&token, d.refresh_before))
}

/// Reads the Secret and writes it when its token is not fresh or its
/// content is not what it should be; returns the token it holds.
async fn read_and_write(
    obj: &PypiRepository,
    ctx: &Context,
    d: &Desired,
    repository: &RepositoryRef<'_>,
    now: DateTime<Utc>,
) -> Result<IssuedToken> {
    let endpoint = repository.endpoint;
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = obj.secret_name();
    let existing = api.get_opt(&name).await?;
    if let Some(secret) = &existing
        && !may_write(secret, obj)
    {
        return Err(Error::SecretConflict { name });
    }
    let uid = obj.uid().unwrap_or_default();
    let scope = d.token_key.scope();
    let stored = existing
        .as_ref()
        .and_then(|s| stored_token(s, &uid, &scope))
        .filter(|t| is_well_formed(t, now) && is_fresh(t, d.refresh_before, now));
    let token = match stored {
        Some(token) => token,
        None => shared_token(ctx, d, repository.arn, now).await?,
    };
    if !is_well_formed(&token, now) {
        // Never render a token that could break out of pip.conf or .pypirc.
        ctx.tokens.forget(&d.token_key);
        return Err(Error::Aws(crate::aws::AwsError {
            operation: "GetAuthorizationToken",
            kind: crate::aws::AwsErrorKind::Other,
            message: "the token is not URL-safe or its lifetime is implausible; it was not written"
                .into(),
        }));
    }
    let desired = build_secret(obj, endpoint, &token, &scope);
    if existing
        .as_ref()
        .is_none_or(|e| !is_up_to_date(e, &desired))
    {
        let written = api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&desired),
            )
            .await?;
        ctx.states.update(&Uid::of(obj), |s| {
            s.secret_version = written.metadata.resource_version;
        });
        tracing::info!(namespace, secret = %name, expires_at = %token.expires_at, "wrote credentials Secret");
    }
    ctx.metrics
        .set_token_expiry(&namespace, &obj.name_any(), token.expires_at.timestamp());
    Ok(token)
}

/// Takes the credentials out of the object's Secret (when it is this
/// object's): a server-side apply without data drops every key the operator
/// wrote, so they stop working for the namespace at once. The Secret itself
/// stays until garbage collection, which keeps Pods that mount it startable.
pub async fn remove_credentials(obj: &PypiRepository, ctx: &Context) -> Result<()> {
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = obj.secret_name();
    let Some(secret) = api.get_opt(&name).await? else {
        return Ok(());
    };
    if !may_write(&secret, obj) || secret.data.as_ref().is_none_or(|d| d.is_empty()) {
        return Ok(());
    }
    let emptied = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(crate::secret::labels(obj)),
            owner_references: obj.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        type_: Some("Opaque".to_string()),
        ..Default::default()
    };
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&emptied),
    )
    .await?;
    tracing::info!(namespace, secret = %name, "removed the credentials from the Secret: access refused");
    Ok(())
}

/// The repository a Secret is for: where it is, and its ARN (which a
/// repository-scoped token's session policy names).
pub struct RepositoryRef<'a> {
    /// Its PyPI endpoint.
    pub endpoint: &'a str,
    /// Its ARN.
    pub arn: &'a str,
}

/// The shared token of `d`'s scope (the domain, or the repository for a
/// scoped token), minted only when no fresh one exists
/// (also what step 3b, spec.prepopulate, fetches with).
pub(super) async fn shared_token(
    ctx: &Context,
    d: &Desired,
    repository_arn: &str,
    now: DateTime<Utc>,
) -> Result<IssuedToken> {
    let identity = d.token_identity(repository_arn)?;
    let mint = || async {
        let res = ctx
            .aws
            .get(&identity)
            .await
            .get_authorization_token(
                &d.domain,
                d.owner.as_deref(),
                d.token_key.duration_seconds,
                now,
            )
            .await;
        ctx.metrics
            .token_refresh(if res.is_ok() { "success" } else { "failure" });
        res
    };
    let (token, source) = ctx
        .tokens
        .get_or_mint(&d.token_key, |t| is_fresh(t, d.refresh_before, now), mint)
        .await?;
    if source == TokenSource::Minted {
        tracing::info!(domain = %d.domain, scope = %d.token_key.scope(), expires_at = %token.expires_at, "minted authorization token");
    }
    Ok(token)
}

/// A Secret may be (over)written when this PypiRepository owns it, or when
/// its only owner was an earlier PypiRepository of the same name (gone now,
/// since names are unique) that garbage collection has not caught up with.
fn may_write(secret: &Secret, obj: &PypiRepository) -> bool {
    let refs = secret.owner_references();
    let uid = obj.uid().unwrap_or_default();
    !refs.is_empty()
        && refs
            .iter()
            .all(|o| o.uid == uid || (o.kind == "PypiRepository" && o.name == obj.name_any()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn obj() -> PypiRepository {
        let spec = serde_json::from_value(serde_json::json!({"domain": {"name": "dom"}})).unwrap();
        let mut o = PypiRepository::new("web", spec);
        o.metadata.uid = Some("u1".into());
        o
    }

    fn secret(owners: Vec<(&str, &str, &str)>) -> Secret {
        let mut s = Secret::default();
        s.metadata.owner_references = Some(
            owners
                .into_iter()
                .map(|(kind, name, uid)| OwnerReference {
                    kind: kind.into(),
                    name: name.into(),
                    uid: uid.into(),
                    ..Default::default()
                })
                .collect(),
        );
        s
    }

    #[test]
    fn foreign_secrets_are_never_overwritten() {
        assert!(
            !may_write(&Secret::default(), &obj()),
            "a Secret without owner belongs to someone else"
        );
        assert!(!may_write(
            &secret(vec![("Deployment", "web", "x")]),
            &obj()
        ));
        assert!(!may_write(
            &secret(vec![("PypiRepository", "other", "x")]),
            &obj()
        ));
    }

    #[test]
    fn own_and_predecessor_secrets_may_be_written() {
        assert!(may_write(
            &secret(vec![("PypiRepository", "web", "u1")]),
            &obj()
        ));
        assert!(may_write(
            &secret(vec![("PypiRepository", "web", "old-uid")]),
            &obj()
        ));
    }
}
