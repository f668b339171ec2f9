//! The PypiRepository controller. This file only declares its parts:
//! `context` (what reconciles share), `watches` (what wakes them),
//! `reconcile` and its steps, and `retry` (the error policy).

mod apply;
pub mod backoff;
mod cleanup;
mod context;
mod credentials;
mod desired;
mod domains;
mod endpoint;
pub mod finalize;
pub mod ownership;
pub mod policy;
mod prepopulate;
mod prune;
mod reconcile;
pub mod remote;
mod report;
mod repository;
mod retention;
mod retry;
mod secret_memo;
pub mod state;
mod status;
pub mod tenancy;
mod wake;
mod watches;

pub use context::{Context, ControllerConfig, DomainSlot, TenancyCaches};
pub use reconcile::reconcile;
pub use retry::error_policy;
pub use watches::run;
