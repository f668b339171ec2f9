//! codeartifact-operator: reconciles `PypiRepository` objects against AWS CodeArtifact
//! and keeps pip/twine credentials fresh in Kubernetes Secrets.

pub mod aws;
pub mod config;
pub mod controller;
pub mod crd;
pub mod error;
pub mod http;
pub mod metrics;
pub mod run;
pub mod secret;
pub mod telemetry;
pub mod token;
