//! CodeArtifact as the controller sees it: small domain types, a classified
//! error, a client that counts every call, the identities it acts as (the
//! operator's own or assumed roles) and the session policies of
//! repository-scoped tokens. No SDK type leaves this module.

mod client;
mod convert;
mod credentials;
mod error;
mod package_groups;
mod policy;
mod resource_policy;
mod types;
mod versions;

pub use client::CodeArtifact;
pub use credentials::{Clients, Identity, MAX_ROLE_CLIENTS, RoleSession, SESSION_NAME};
pub use error::{AwsError, AwsErrorKind, MissingRegion};
pub use package_groups::{Allowed, OriginUpdate, PackageGroup};
pub use policy::{RepositoryAccess, repository_session_policy};
pub use resource_policy::{HeldPolicy, PolicyOn};
pub use types::{AuthToken, Domain, IssuedToken, PUBLIC_PYPI, Repository, RepositorySettings};
pub use versions::{MAX_VERSIONS_PER_CALL, PackagePage, Removal, RepositoryPath, VersionList};
