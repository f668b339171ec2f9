//! Who the operator is when it calls AWS: its own identity (the default
//! chain), or an IAM role it assumes through aws-config's
//! `AssumeRoleProvider`, optionally narrowed by a session policy. One
//! CodeArtifact client per identity, kept in a bounded cache so thousands of
//! objects on a few roles share a handful of clients, and the SDK's identity
//! cache renews each role session before it expires.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_codeartifact::Client;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use lru::LruCache;

use super::client::CodeArtifact;
use super::error::MissingRegion;
use crate::metrics::Metrics;

/// The session name the operator's role sessions carry (visible in CloudTrail).
pub const SESSION_NAME: &str = "codeartifact-operator";

/// At most this many role identities keep a client. A repository-scoped
/// token needs its own session policy, so each such repository is one
/// identity; an evicted one costs one AssumeRole when it is next used,
/// which is what minting its next token costs anyway (sessions outlive no token).
pub const MAX_ROLE_CLIENTS: NonZeroUsize = NonZeroUsize::new(512).expect("not zero");

/// A role to assume, and the session policy that narrows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleSession {
    /// The role's ARN.
    pub arn: String,
    /// The external ID its trust policy asks for.
    pub external_id: Option<String>,
    /// A session policy (JSON); `None`: the role's full permissions.
    pub session_policy: Option<String>,
}

/// Who makes a call: the operator itself (`None`) or a role session.
pub type Identity = Option<RoleSession>;

/// Every CodeArtifact client the operator uses, one per identity.
pub struct Clients {
    base: SdkConfig,
    /// `--codeartifact-endpoint`, for CodeArtifact clients only.
    endpoint: Option<String>,
    operator: CodeArtifact,
    metrics: Arc<Metrics>,
    /// Role clients, the least recently used evicted first.
    roles: Mutex<LruCache<RoleSession, CodeArtifact>>,
}

impl Clients {
    /// The operator's own client, from the default AWS chain (environment,
    /// profile, web identity, EKS Pod Identity, IMDS), with an optional
    /// CodeArtifact endpoint override.
    pub async fn from_env(
        endpoint: Option<&str>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, MissingRegion> {
        // One HTTP client (one connection pool) for every SDK client built
        // from `base`: the operator's own, each role client and the STS
        // client inside each AssumeRoleProvider. Without it each of them
        // makes its own pool, about 300 KiB and two sockets per cached role
        // client (bench, BENCH_IAM=1).
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .load()
            .await;
        let region = base.region().map(|r| r.to_string()).ok_or(MissingRegion)?;
        let endpoint = endpoint.map(str::to_string);
        let conf = codeartifact_config(&base, endpoint.as_deref()).build();
        let operator = CodeArtifact::new(Client::from_conf(conf), region, metrics.clone());
        Ok(Self::new(base, endpoint, operator, metrics))
    }

    /// The clients of an operator whose own client is `operator`; role
    /// sessions are assumed with `base`'s credentials and STS endpoint.
    pub fn new(
        base: SdkConfig,
        endpoint: Option<String>,
        operator: CodeArtifact,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            base,
            endpoint,
            operator,
            metrics,
            roles: Mutex::new(LruCache::new(MAX_ROLE_CLIENTS)),
        }
    }

    /// The AWS region every client talks to.
    pub fn region(&self) -> &str {
        self.operator.region()
    }

    /// The operator's own client.
    pub fn operator(&self) -> &CodeArtifact {
        &self.operator
    }

    /// The client acting as `identity`, built on first use.
    pub async fn get(&self, identity: &Identity) -> CodeArtifact {
        let Some(session) = identity else {
            return self.operator.clone();
        };
        if let Some(client) = self.roles.lock().expect("role clients lock").get(session) {
            return client.clone();
        }
        let client = self.build(session).await;
        self.roles
            .lock()
            .expect("role clients lock")
            .get_or_insert(session.clone(), || client)
            .clone()
    }

    async fn build(&self, session: &RoleSession) -> CodeArtifact {
        let mut builder = AssumeRoleProvider::builder(&session.arn).session_name(SESSION_NAME);
        if let Some(id) = &session.external_id {
            builder = builder.external_id(id);
        }
        if let Some(policy) = &session.session_policy {
            builder = builder.policy(policy);
        }
        let provider = Counted {
            inner: builder.configure(&self.base).build().await,
            metrics: self.metrics.clone(),
        };
        let conf = codeartifact_config(&self.base, self.endpoint.as_deref())
            .credentials_provider(provider)
            .build();
        self.operator
            .with_client(Client::from_conf(conf), Some(session.arn.clone()))
    }
}

/// CodeArtifact's configuration: the endpoint override applies to it alone,
/// so STS (AssumeRole) keeps its own endpoint (`AWS_ENDPOINT_URL_STS` or the
/// regional default) and a CodeArtifact VPC endpoint never receives STS calls.
fn codeartifact_config(
    base: &SdkConfig,
    endpoint: Option<&str>,
) -> aws_sdk_codeartifact::config::Builder {
    let mut builder = aws_sdk_codeartifact::config::Builder::from(base);
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    builder
}

/// The assume-role provider, with each AssumeRole call counted in the
/// operator's AWS call metrics like every CodeArtifact call.
#[derive(Debug)]
struct Counted {
    inner: AssumeRoleProvider,
    metrics: Arc<Metrics>,
}

impl ProvideCredentials for Counted {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let result = self.inner.provide_credentials().await;
            let outcome = if result.is_ok() { "success" } else { "failure" };
            self.metrics.aws_call("AssumeRole", outcome);
            result
        })
    }
}
