//! The `codeartifact-operator` binary: parse flags, set up logging, run.

use std::process::ExitCode;

use clap::Parser;
use codeartifact_operator::config::{Cli, Command, CrdKind};
use codeartifact_operator::{crd, run, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Crd { kind }) => {
            match kind {
                CrdKind::PypiRepository => print!("{}", crd::crd_yaml()),
                CrdKind::CodeArtifactDomain => print!("{}", crd::domain_crd_yaml()),
            }
            return ExitCode::SUCCESS;
        }
        Some(Command::Run(args)) => *args,
        None => cli.run,
    };
    telemetry::init(args.log_format);
    // kube and the AWS SDK share rustls; pin its provider so that a second
    // backend pulled in by some dependency can never make TLS set-up panic.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match run::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "codeartifact-operator stopped");
            ExitCode::FAILURE
        }
    }
}
