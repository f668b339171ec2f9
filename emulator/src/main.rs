//! The `codeartifact-emulator` command: parse flags, start the emulator, print where it listens.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use codeartifact_emulator::{Config, Credential, Emulator};

/// A local AWS CodeArtifact emulator (control plane + PyPI endpoint) for tests and CI.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(
        long,
        default_value = "127.0.0.1:0",
        env = "CODEARTIFACT_EMULATOR_LISTEN"
    )]
    listen: SocketAddr,
    /// Accepted key pair and its account, as KEY:SECRET:ACCOUNT (repeatable).
    #[arg(
        long = "credentials",
        required = true,
        value_name = "KEY:SECRET:ACCOUNT"
    )]
    credentials: Vec<Credential>,
    /// Folder of wheels and sdists served through the `public:pypi` external connection.
    #[arg(long)]
    public_pypi_dir: Option<PathBuf>,
    /// Region used in ARNs and required in SigV4 credential scopes.
    #[arg(long, default_value = "us-west-2")]
    region: String,
    /// Keep state in this JSON file across restarts (memory only when absent).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Run token lifetimes this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    clock_speed: f64,
    /// JSON file with an array of IAM roles STS AssumeRole hands out (see docs/emulator.md).
    #[arg(long)]
    roles: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let emulator = Emulator::start(Config {
        listen: args.listen,
        region: args.region,
        credentials: args.credentials,
        public_pypi_dir: args.public_pypi_dir,
        state_file: args.state,
        clock_speed: args.clock_speed,
    })
    .await?;
    if let Some(path) = &args.roles {
        emulator.add_roles_from_file(path)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "codeartifact-emulator listening on {} region {}",
        emulator.base_url(),
        emulator.region()
    )?;
    out.flush()?;
    drop(out);
    shutdown_signal().await;
    emulator.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
