//! codeartifact-operator: reconciles `PypiRepository` objects against AWS CodeArtifact
//! and keeps pip/twine credentials fresh in Kubernetes Secrets, within what each
//! namespace's `CodeArtifactDomain` access rules allow.

pub mod access;
pub mod aws;
pub mod config;
pub mod controller;
pub mod crd;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod permissions;
pub mod prepopulate;
pub mod publish;
pub mod retention;
pub mod run;
pub mod secret;
pub mod telemetry;
pub mod token;
