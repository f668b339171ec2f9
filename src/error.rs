//! The controller's error type, sorted into retry classes and bounded
//! metric categories. No variant ever carries a token.

use crate::aws::{AwsError, AwsErrorKind};
use crate::crd::Reason;

/// Everything that can fail while reconciling a PypiRepository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CodeArtifact call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),

    /// The domain does not exist and the operator may not create it.
    #[error(
        "domain {domain} does not exist in account {owner}; the operator only creates domains in its own account, so create it there or remove spec.domain.owner"
    )]
    DomainNotFound {
        /// Domain name.
        domain: String,
        /// The account named in spec.domain.owner.
        owner: String,
    },

    /// An upstream repository is missing.
    #[error("an upstream repository in spec.upstreams does not exist in domain {domain}: {source}")]
    UpstreamNotFound {
        /// Domain name.
        domain: String,
        /// CodeArtifact's answer.
        source: AwsError,
    },

    /// The Secret name is taken by a Secret this PypiRepository does not own.
    #[error(
        "Secret {name} already exists and is not managed by this PypiRepository; delete it or choose another spec.secret.name"
    )]
    SecretConflict {
        /// The Secret's name.
        name: String,
    },

    /// With `--tenancy=strict`, no CodeArtifactDomain rule allows what the spec asks.
    #[error("not permitted: {0}")]
    NotPermitted(String),

    /// The repository belongs to another PypiRepository or another cluster.
    #[error(
        "repository {repository} is managed by {owner}; this object changes nothing in it. Use spec.mode Consume to read it, or choose another repository name"
    )]
    OwnedElsewhere {
        /// Repository name.
        repository: String,
        /// `PypiRepository namespace/name` or `cluster <name>`.
        owner: String,
    },

    /// The repository exists without a marker and may not be adopted.
    #[error("repository {repository} already exists and was not created by this object; {fix}")]
    AlreadyExists {
        /// Repository name.
        repository: String,
        /// What to do.
        fix: String,
    },

    /// A repository that must exist (consume mode) does not.
    #[error(
        "repository {repository} does not exist in domain {domain}; a consumer only reads, so it waits until the repository's manager creates it"
    )]
    RepositoryNotFound {
        /// Domain name.
        domain: String,
        /// Repository name.
        repository: String,
    },

    /// With `--tenancy=strict`, the declared domain does not exist (yet).
    #[error(
        "domain {domain} does not exist yet; its CodeArtifactDomain creates it (mode Manage) or it must be created outside the cluster (mode Use)"
    )]
    DomainMissing {
        /// Domain name.
        domain: String,
    },

    /// A domain to be deleted still holds repositories.
    #[error(
        "domain {domain} still holds {count} repositories, so it is not deleted; delete them, or set deletionPolicy Retain to release this object"
    )]
    DomainNotEmpty {
        /// Domain name.
        domain: String,
        /// Repositories left.
        count: i32,
    },

    /// The spec cannot work, for a reason the CRD schema cannot express.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),

    /// The Kubernetes API failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    /// Adding or removing the finalizer failed, or apply/cleanup failed inside it.
    // NB: boxed because the finalizer error wraps this very type.
    #[error("{0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

/// How an error should be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// Likely to pass on its own soon: retry with short capped exponential backoff.
    Transient,
    /// Needs someone to act outside the spec (IAM, quotas, another object):
    /// retry with a longer backoff so the fix is noticed without hammering AWS.
    NeedsFix,
    /// Only a spec change can help: wait for one.
    Permanent,
}

/// The failures metric's bounded label values (the variant names in snake
/// case): one per failure reason, with the reasons that are not failures
/// folded into `other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Category {
    AccessDenied,
    Throttled,
    AwsUnavailable,
    Conflict,
    InvalidSpec,
    QuotaExceeded,
    DomainNotFound,
    UpstreamNotFound,
    /// `kubernetes`: the label predates the `KubernetesError` reason's name.
    Kubernetes,
    NotPermitted,
    OwnedElsewhere,
    AlreadyExists,
    RepositoryNotFound,
    DomainNotEmpty,
    Other,
}

impl From<Reason> for Category {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::AccessDenied => Self::AccessDenied,
            Reason::Throttled => Self::Throttled,
            Reason::AwsUnavailable => Self::AwsUnavailable,
            Reason::Conflict => Self::Conflict,
            Reason::InvalidSpec => Self::InvalidSpec,
            Reason::QuotaExceeded => Self::QuotaExceeded,
            Reason::DomainNotFound => Self::DomainNotFound,
            Reason::UpstreamNotFound => Self::UpstreamNotFound,
            Reason::KubernetesError => Self::Kubernetes,
            Reason::NotPermitted => Self::NotPermitted,
            Reason::OwnedElsewhere => Self::OwnedElsewhere,
            Reason::AlreadyExists => Self::AlreadyExists,
            Reason::RepositoryNotFound => Self::RepositoryNotFound,
            Reason::DomainNotEmpty => Self::DomainNotEmpty,
            Reason::Available
            | Reason::Synced
            | Reason::RetentionCompleted
            | Reason::RetentionRunning
            | Reason::Prepopulated
            | Reason::PrepopulateInProgress
            | Reason::PrepopulateFailed => Self::Other,
        }
    }
}

/// Result alias for the controller.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error inside a finalizer wrapper, where the real cause is.
    pub fn root(&self) -> &Error {
        match self {
            Error::Finalizer(f) => match f.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.root(),
                _ => self,
            },
            other => other,
        }
    }

    /// The condition and Event reason for this error.
    pub fn reason(&self) -> Reason {
        match self.root() {
            Error::Aws(e) => match e.kind {
                AwsErrorKind::AccessDenied => Reason::AccessDenied,
                AwsErrorKind::Throttling => Reason::Throttled,
                AwsErrorKind::Internal
                | AwsErrorKind::Transport
                | AwsErrorKind::Other
                | AwsErrorKind::NotFound => Reason::AwsUnavailable,
                AwsErrorKind::Conflict => Reason::Conflict,
                AwsErrorKind::Validation => Reason::InvalidSpec,
                AwsErrorKind::QuotaExceeded => Reason::QuotaExceeded,
            },
            Error::DomainNotFound { .. } | Error::DomainMissing { .. } => Reason::DomainNotFound,
            Error::NotPermitted(_) => Reason::NotPermitted,
            Error::OwnedElsewhere { .. } => Reason::OwnedElsewhere,
            Error::AlreadyExists { .. } => Reason::AlreadyExists,
            Error::RepositoryNotFound { .. } => Reason::RepositoryNotFound,
            Error::DomainNotEmpty { .. } => Reason::DomainNotEmpty,
            Error::UpstreamNotFound { .. } => Reason::UpstreamNotFound,
            Error::SecretConflict { .. } | Error::InvalidSpec(_) => Reason::InvalidSpec,
            Error::Kube(_) | Error::Finalizer(_) => Reason::KubernetesError,
        }
    }

    /// A bounded label for the failures metric: the reason in snake case.
    pub fn category(&self) -> &'static str {
        Category::from(self.reason()).into()
    }

    /// How to retry.
    pub fn retry_class(&self) -> RetryClass {
        match self.root() {
            Error::Aws(e) if e.kind.is_transient() => RetryClass::Transient,
            Error::Aws(e) if e.kind == AwsErrorKind::Validation => RetryClass::Permanent,
            Error::Aws(_)
            | Error::DomainNotFound { .. }
            | Error::UpstreamNotFound { .. }
            | Error::SecretConflict { .. }
            | Error::OwnedElsewhere { .. }
            | Error::RepositoryNotFound { .. }
            | Error::DomainMissing { .. }
            | Error::DomainNotEmpty { .. } => RetryClass::NeedsFix,
            // Access changes arrive through the watches on CodeArtifactDomains and Namespaces.
            Error::InvalidSpec(_) | Error::NotPermitted(_) | Error::AlreadyExists { .. } => {
                RetryClass::Permanent
            }
            Error::Kube(_) | Error::Finalizer(_) => RetryClass::Transient,
        }
    }

    /// Whether the object must lose its credentials: access was refused, or the
    /// repository is not this object's to use.
    pub fn revokes_access(&self) -> bool {
        matches!(
            self.root(),
            Error::NotPermitted(_) | Error::OwnedElsewhere { .. } | Error::AlreadyExists { .. }
        )
    }

    /// The full message with its causes, cut to fit an Event or a condition.
    pub fn report(&self) -> String {
        let mut out = self.root().to_string();
        let mut source = std::error::Error::source(self.root());
        while let Some(s) = source {
            let text = s.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            source = s.source();
        }
        truncate(out, NOTE_MAX_BYTES)
    }
}

/// The Event API refuses notes longer than this many bytes.
pub const NOTE_MAX_BYTES: usize = 1024;

/// Cuts `s` to at most `max` bytes, ellipsis included, on a character boundary.
pub fn truncate(mut s: String, max: usize) -> String {
    const ELLIPSIS: char = '…';
    if s.len() > max {
        let mut cut = max.saturating_sub(ELLIPSIS.len_utf8());
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push(ELLIPSIS);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(kind: AwsErrorKind) -> Error {
        Error::Aws(AwsError {
            operation: "CreateRepository",
            kind,
            message: "m".into(),
        })
    }

    #[test]
    fn throttling_is_transient_and_denied_needs_a_fix() {
        assert_eq!(
            aws(AwsErrorKind::Throttling).retry_class(),
            RetryClass::Transient
        );
        assert_eq!(
            aws(AwsErrorKind::AccessDenied).retry_class(),
            RetryClass::NeedsFix
        );
        assert_eq!(
            aws(AwsErrorKind::Validation).retry_class(),
            RetryClass::Permanent
        );
        assert_eq!(
            Error::InvalidSpec("x".into()).retry_class(),
            RetryClass::Permanent
        );
    }

    #[test]
    fn reasons_and_categories_follow_the_root_cause() {
        let wrapped = Error::Finalizer(Box::new(kube::runtime::finalizer::Error::ApplyFailed(
            aws(AwsErrorKind::AccessDenied),
        )));
        assert_eq!(wrapped.reason(), Reason::AccessDenied);
        assert_eq!(wrapped.category(), "access_denied");
        assert_eq!(wrapped.retry_class(), RetryClass::NeedsFix);
        assert!(
            wrapped
                .report()
                .starts_with("CodeArtifact CreateRepository failed (access_denied)")
        );
    }

    #[test]
    fn report_is_bounded() {
        let e = Error::InvalidSpec("x".repeat(5000));
        assert!(e.report().len() <= 1024 + '…'.len_utf8());
    }

    #[test]
    fn reports_fit_the_event_note_limit_even_with_multibyte_text() {
        for text in ["x".repeat(5000), "é".repeat(3000), "€".repeat(2000)] {
            let r = Error::InvalidSpec(text).report();
            assert!(r.len() <= NOTE_MAX_BYTES, "{} bytes", r.len());
            assert!(r.ends_with('…'));
        }
        assert_eq!(truncate("short".into(), NOTE_MAX_BYTES), "short");
    }

    #[test]
    fn access_errors_revoke_credentials_and_wait_for_a_change() {
        let e = Error::NotPermitted("no".into());
        assert!(e.revokes_access());
        assert_eq!(e.retry_class(), RetryClass::Permanent);
        assert_eq!(e.reason(), Reason::NotPermitted);
        let owned = Error::OwnedElsewhere {
            repository: "r".into(),
            owner: "PypiRepository demo/web".into(),
        };
        assert!(owned.revokes_access());
        assert_eq!(owned.reason(), Reason::OwnedElsewhere);
        assert!(!aws(AwsErrorKind::AccessDenied).revokes_access());
    }

    #[test]
    fn categories_are_the_snake_case_of_their_reasons() {
        use strum::IntoEnumIterator;
        for r in Reason::iter() {
            let c: &str = Category::from(r).into();
            let snake: String = r
                .as_str()
                .chars()
                .enumerate()
                .flat_map(|(i, ch)| {
                    let sep = (i > 0 && ch.is_ascii_uppercase()).then_some('_');
                    sep.into_iter()
                        .chain(std::iter::once(ch.to_ascii_lowercase()))
                })
                .collect();
            let expected = match r {
                Reason::KubernetesError => "kubernetes",
                Reason::Available
                | Reason::Synced
                | Reason::RetentionCompleted
                | Reason::RetentionRunning
                | Reason::Prepopulated
                | Reason::PrepopulateInProgress
                | Reason::PrepopulateFailed => "other",
                _ => &snake,
            };
            assert_eq!(c, expected, "{r:?}");
        }
        let reached: std::collections::BTreeSet<&str> =
            Reason::iter().map(|r| Category::from(r).into()).collect();
        let all: std::collections::BTreeSet<&str> = Category::iter().map(Into::into).collect();
        assert_eq!(reached, all, "every category is reachable from a reason");
        assert_eq!(
            Error::Kube(kube::Error::LinesCodecMaxLineLengthExceeded).category(),
            "kubernetes"
        );
    }
}
