//! spec.prepopulate: which package versions a repository should hold and how to
//! get them there by fetching through its own endpoint. Decisions are pure
//! (`target`, `index`, `metadata`, `plan`, `schedule`); `fetch` is the I/O edge.

pub mod fetch;
pub mod index;
pub mod metadata;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod target;

#[cfg(test)]
mod tests;

pub use plan::{Item, Plan};
pub use target::Target;
