//! A local AWS CodeArtifact emulator: the restJson1 control plane (SigV4-checked), STS
//! AssumeRole with a small IAM policy evaluator, and the PyPI repository endpoint, with test
//! controls. [`Emulator`] runs it in-process; the
//! `codeartifact-emulator` binary runs it standalone. See docs/emulator.md.

mod admin;
mod api;
mod auth;
mod body;
mod clock;
mod config;
mod context;
mod error;
mod harness;
mod policy;
mod pypi;
mod roles;
mod server;
mod sigv4;
mod state;
mod sts;
mod validate;
mod versions_admin;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Config, Credential, CredentialParseError};
pub use context::TOKEN_PREFIX;
pub use harness::Fault;
pub use roles::{Role, RoleError, SESSION_TOKEN_PREFIX};
pub use versions_admin::PackageAt;

use context::Context;

/// A domain as the emulator holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    pub name: String,
    pub owner: String,
    pub arn: String,
    pub repository_count: usize,
    pub tags: BTreeMap<String, String>,
}

/// A repository as the emulator holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryInfo {
    pub domain: String,
    pub owner: String,
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    /// Direct upstreams in priority order.
    pub upstreams: Vec<String>,
    pub external_connections: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

struct Inner {
    ctx: Arc<Context>,
    running: Mutex<Option<Running>>,
}

/// A running emulator; clones share it.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.inner.ctx.base_url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Bind `config.listen` and serve on the current tokio runtime.
    pub async fn start(config: Config) -> anyhow::Result<Emulator> {
        anyhow::ensure!(
            !config.credentials.is_empty(),
            "at least one credential is required"
        );
        let saved = match &config.state_file {
            Some(path) => state::persist::load(path)?,
            None => state::persist::Saved::default(),
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let ctx = Arc::new(Context::new(config, base_url, saved.state));
        ctx.roles.restore(saved.roles, saved.sessions);
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::router(ctx.clone());
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator server stopped");
            }
        });
        Ok(Emulator {
            inner: Arc::new(Inner {
                ctx,
                running: Mutex::new(Some(Running { stop, task })),
            }),
        })
    }

    fn ctx(&self) -> &Context {
        &self.inner.ctx
    }

    /// `http://127.0.0.1:PORT` (the bound address).
    pub fn base_url(&self) -> String {
        self.ctx().base_url.clone()
    }

    /// The configured region.
    pub fn region(&self) -> &str {
        &self.ctx().config.region
    }

    /// Requests received per control-plane operation (see docs/emulator.md for what counts).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.ctx().harness.calls()
    }

    /// Requests received for one operation.
    pub fn call_count(&self, operation: &str) -> u64 {
        self.calls().get(operation).copied().unwrap_or(0)
    }

    /// Zero all counters.
    pub fn reset_calls(&self) {
        self.ctx().harness.reset_calls();
    }

    /// Inject `fault` into `operation` (`"*"` = every operation without its own fault).
    pub fn set_fault(&self, operation: &str, fault: Fault) {
        self.ctx().harness.set_fault(operation, fault);
    }

    /// Remove all faults.
    pub fn clear_faults(&self) {
        self.ctx().harness.clear_faults();
    }

    /// Refuse `operation` (`"*"` = all) to `access_key_id` with AccessDeniedException.
    pub fn deny(&self, access_key_id: &str, operation: &str) {
        self.ctx().harness.deny(access_key_id, operation);
    }

    /// Remove all deny rules.
    pub fn clear_denies(&self) {
        self.ctx().harness.clear_denies();
    }

    /// Run token lifetimes `speed` times faster than real time from now on.
    pub fn set_clock_speed(&self, speed: f64) {
        self.ctx().clock.set_speed(speed);
    }

    /// Move emulated time forward: existing tokens expire that much sooner.
    pub fn advance_clock(&self, by: Duration) {
        self.ctx().clock.advance(by);
    }

    /// Every authorization token issued so far (expired ones included).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.ctx()
            .read(|s| s.tokens.iter().map(|t| t.token.clone()).collect())
    }

    /// The secret keys and session tokens of every role session handed out
    /// (expired ones included), so tests can check they never leak.
    pub fn role_session_secrets(&self) -> Vec<String> {
        self.ctx().roles.session_secrets()
    }

    /// Add (or replace, by ARN) a role that STS AssumeRole can hand out
    /// (kept in the `--state` file, if any).
    pub fn add_role(&self, role: Role) -> anyhow::Result<()> {
        self.ctx().roles.put(role)?;
        Ok(self.ctx().save_roles()?)
    }

    /// Read roles from a JSON file holding an array of roles (the `--roles` flag's format).
    pub fn add_roles_from_file(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let roles: Vec<Role> = serde_json::from_str(&text)
            .with_context(|| format!("{}: expected a JSON array of roles", path.display()))?;
        for role in roles {
            self.add_role(role)
                .with_context(|| format!("{}", path.display()))?;
        }
        Ok(())
    }

    /// The configured roles.
    pub fn roles(&self) -> Vec<Role> {
        self.ctx().roles.list()
    }

    /// Remove every role (sessions already assumed stay valid until they expire).
    pub fn clear_roles(&self) -> anyhow::Result<()> {
        self.ctx().roles.clear();
        Ok(self.ctx().save_roles()?)
    }

    /// All domains of all accounts.
    pub fn domains(&self) -> Vec<DomainInfo> {
        let region = self.region().to_string();
        self.ctx().read(|s| {
            s.domains
                .iter()
                .map(|d| DomainInfo {
                    name: d.name.clone(),
                    owner: d.owner.clone(),
                    arn: api::domain_arn(&region, &d.owner, &d.name),
                    repository_count: d.repositories.len(),
                    tags: d.tags.clone(),
                })
                .collect()
        })
    }

    /// All repositories of all domains.
    pub fn repositories(&self) -> Vec<RepositoryInfo> {
        let region = self.region().to_string();
        self.ctx().read(|s| {
            s.domains
                .iter()
                .flat_map(|d| d.repositories.iter().map(move |r| (d, r)))
                .map(|(d, r)| RepositoryInfo {
                    domain: d.name.clone(),
                    owner: d.owner.clone(),
                    name: r.name.clone(),
                    arn: api::repository_arn(&region, &d.owner, &d.name, &r.name),
                    description: r.description.clone(),
                    upstreams: r.upstreams.clone(),
                    external_connections: r.external_connections.clone(),
                    tags: r.tags.clone(),
                })
                .collect()
        })
    }

    /// Back-date (or move) the publish time of one PyPI version, in epoch seconds.
    pub fn set_published(
        &self,
        at: &PackageAt,
        version: &str,
        published_time: f64,
    ) -> anyhow::Result<()> {
        let p = versions_admin::PublishedTime {
            at: at.clone(),
            version: version.to_string(),
            published_time,
        };
        versions_admin::set_published(self.ctx(), &p).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Publish many versions (version, publish time) of a PyPI package at once, as INTERNAL
    /// versions holding one `size`-byte wheel each.
    pub fn seed_versions(
        &self,
        at: &PackageAt,
        versions: &[(String, f64)],
        size: usize,
    ) -> anyhow::Result<()> {
        versions_admin::seed(self.ctx(), at, versions, size).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(self) {
        let running = self.inner.running.lock().expect("running lock").take();
        if let Some(Running { stop, task }) = running {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}
