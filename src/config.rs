//! Command line and environment: every flag can also be set from the
//! environment, which is how the Helm chart configures the operator.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// Kubernetes operator for private PyPI repositories on AWS CodeArtifact.
#[derive(Debug, Parser)]
#[command(name = "codeartifact-operator", version, about, long_about = None)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `run` (accepted without the subcommand too).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller against the current kubeconfig or the in-cluster configuration.
    Run(Box<RunArgs>),
    /// Print a CustomResourceDefinition as YAML (PypiRepository unless --kind says otherwise).
    Crd {
        /// Which kind's CRD to print.
        #[arg(long, value_enum, default_value = "pypi-repository")]
        kind: CrdKind,
    },
}

/// The kinds the operator defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CrdKind {
    /// PypiRepository (namespaced).
    PypiRepository,
    /// CodeArtifactDomain (cluster-scoped).
    CodeArtifactDomain,
}

/// Who may use which CodeArtifact domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Tenancy {
    /// A PypiRepository is served only when a CodeArtifactDomain declares its
    /// domain and one of its access rules allows the namespace every part of
    /// the spec. The operator never creates a domain for a PypiRepository.
    Strict,
    /// Single-team clusters: every PypiRepository may use, create and adopt
    /// anything its spec names, as before CodeArtifactDomain existed.
    Open,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// CodeArtifact endpoint URL, for VPC endpoints, proxies or the emulator. Without it the AWS
    /// SDK's own resolution applies (which also honours AWS_ENDPOINT_URL_CODEARTIFACT).
    #[arg(long, env = "CODEARTIFACT_ENDPOINT")]
    pub codeartifact_endpoint: Option<String>,

    /// Name of this cluster, written into the ownership tags of what the operator creates.
    /// Operators in different clusters sharing an AWS account must use different names.
    /// 1 to 128 characters without control characters (it becomes a tag value).
    #[arg(long, env = "CLUSTER_NAME", default_value = "default", value_parser = parse_cluster_name)]
    pub cluster_name: String,

    /// `strict`: namespaces get only what a CodeArtifactDomain's access rules grant them.
    /// `open`: any PypiRepository may create and adopt domains and repositories (single-team
    /// clusters only; a warning is logged at start).
    // Given twice, the last wins (test harnesses add one to a default list).
    #[arg(
        long,
        env = "TENANCY",
        value_enum,
        default_value = "strict",
        overrides_with = "tenancy"
    )]
    pub tenancy: Tenancy,

    /// Label selector for the CodeArtifactDomains this operator serves (e.g. `operator=eu`);
    /// all when empty. Lets several operators (say, one per AWS account) share a cluster.
    #[arg(long, env = "DOMAIN_SELECTOR", default_value = "")]
    pub domain_selector: String,

    /// Comma-separated namespaces to watch; all namespaces when empty.
    #[arg(
        long,
        env = "WATCH_NAMESPACES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub watch_namespaces: Vec<String>,

    /// Address for /livez, /readyz and /metrics.
    #[arg(long, env = "LISTEN_ADDRESS", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// How often each PypiRepository is compared with CodeArtifact to repair drift (Go duration).
    #[arg(long, env = "RESYNC_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// First retry delay after a transient failure; failures that need a fix (such as missing
    /// IAM permissions) start 15 times higher. Doubles per attempt.
    #[arg(long, env = "BACKOFF_BASE", default_value = "2s", value_parser = parse_duration)]
    pub backoff_base: Duration,

    /// Longest retry delay.
    #[arg(long, env = "BACKOFF_MAX", default_value = "5m", value_parser = parse_duration)]
    pub backoff_max: Duration,

    /// At most this many PypiRepositories are reconciled at once, in the whole
    /// operator however many namespaces it watches. Bounds memory and the
    /// burst of API calls after a restart or a shared token refresh.
    #[arg(long, env = "MAX_CONCURRENT_RECONCILES", default_value_t = 16)]
    pub max_concurrent_reconciles: u16,

    /// Elect a leader through a Lease, so that only one of several replicas reconciles.
    #[arg(long, env = "LEADER_ELECT")]
    pub leader_elect: bool,

    /// Name of the Lease used for leader election.
    #[arg(long, env = "LEASE_NAME", default_value = "codeartifact-operator")]
    pub lease_name: String,

    /// Namespace of the Lease; defaults to the pod's namespace (POD_NAMESPACE).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,

    /// How long a leader's Lease lasts without renewal, in seconds.
    #[arg(long, env = "LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,

    /// Identity of this replica in Events and the Lease; defaults to the pod name (POD_NAME).
    #[arg(long, env = "POD_NAME")]
    pub instance: Option<String>,
}

/// Parses a Go-style duration such as `90s`, `10m` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = kube::core::Duration::from_str(text)
        .map_err(|e| format!("{text:?} is not a duration like 30s, 10m or 1h: {e}"))?;
    if d.is_negative() {
        return Err(format!("{text:?} must not be negative"));
    }
    Ok(Duration::from(d))
}

/// A cluster name that fits a CodeArtifact tag value (at most 256 characters, no
/// control characters) with room for the uid the adoption marker appends.
pub fn parse_cluster_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().count() > 128 || text.chars().any(char::is_control) {
        return Err(format!(
            "{text:?} must be 1 to 128 characters without control characters"
        ));
    }
    Ok(text.to_string())
}

impl RunArgs {
    /// Namespaces without empty entries.
    pub fn namespaces(&self) -> Vec<String> {
        self.watch_namespaces
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_with_defaults() {
        let cli = Cli::try_parse_from(["codeartifact-operator"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.resync_interval, Duration::from_secs(600));
        assert!(cli.run.namespaces().is_empty());
    }

    #[test]
    fn run_subcommand_takes_namespaces_and_durations() {
        let cli = Cli::try_parse_from([
            "codeartifact-operator",
            "run",
            "--watch-namespaces",
            "a, b",
            "--resync-interval",
            "1h30m",
        ])
        .unwrap();
        let Some(Command::Run(args)) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.namespaces(), ["a", "b"]);
        assert_eq!(args.resync_interval, Duration::from_secs(5400));
    }

    #[test]
    fn tenancy_is_strict_unless_opened_and_the_last_flag_wins() {
        let cli = Cli::try_parse_from(["codeartifact-operator"]).unwrap();
        assert_eq!(cli.run.tenancy, Tenancy::Strict);
        let cli = Cli::try_parse_from([
            "codeartifact-operator",
            "--tenancy=open",
            "--tenancy=strict",
        ])
        .unwrap();
        assert_eq!(cli.run.tenancy, Tenancy::Strict);
        assert!(Cli::try_parse_from(["codeartifact-operator", "--tenancy=loose"]).is_err());
    }

    #[test]
    fn cluster_names_must_fit_a_tag_value() {
        assert!(parse_cluster_name("prod-eu").is_ok());
        assert!(parse_cluster_name("").is_err());
        assert!(parse_cluster_name(&"c".repeat(129)).is_err());
        assert!(parse_cluster_name("a\nb").is_err());
    }

    #[test]
    fn bad_duration_is_explained() {
        let err =
            Cli::try_parse_from(["codeartifact-operator", "--backoff-base", "soon"]).unwrap_err();
        assert!(err.to_string().contains("is not a duration"), "{err}");
    }
}
