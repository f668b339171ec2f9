//! CodeArtifact failures sorted into the few kinds the controller acts on.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_codeartifact::error::{ProvideErrorMetadata, SdkError};

/// What went wrong, as far as retrying and reporting are concerned. Its
/// label is the variant name in snake case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum AwsErrorKind {
    /// IAM refused the call (403).
    AccessDenied,
    /// Rate limited (429).
    Throttling,
    /// The named resource does not exist (404).
    NotFound,
    /// The resource exists already or is in use (409).
    Conflict,
    /// CodeArtifact rejected an input value (400).
    Validation,
    /// A service quota is exhausted (402).
    QuotaExceeded,
    /// CodeArtifact failed (5xx).
    Internal,
    /// The request never got an answer: connection, DNS, TLS, timeout.
    Transport,
    /// Anything else, including credential-chain failures.
    Other,
}

impl AwsErrorKind {
    /// Whether retrying soon can succeed without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Throttling | Self::Internal | Self::Transport | Self::Conflict
        )
    }

    /// A short stable label for metrics.
    pub fn label(self) -> &'static str {
        self.into()
    }

    fn from_code(code: &str) -> Self {
        match code {
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException" => Self::AccessDenied,
            "ThrottlingException" | "TooManyRequestsException" => Self::Throttling,
            "ResourceNotFoundException" => Self::NotFound,
            "ConflictException" => Self::Conflict,
            "ValidationException" => Self::Validation,
            "ServiceQuotaExceededException" => Self::QuotaExceeded,
            "InternalServerException" | "ServiceUnavailableException" => Self::Internal,
            _ => Self::Other,
        }
    }
}

/// A failed CodeArtifact call. The message is CodeArtifact's own, which never
/// contains a token.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
#[error("CodeArtifact {operation} failed ({}): {message}", kind.label())]
pub struct AwsError {
    /// The API operation, such as `CreateRepository`.
    pub operation: &'static str,
    /// The kind of failure.
    pub kind: AwsErrorKind,
    /// What CodeArtifact (or the SDK) said.
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (kind, message) = match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let kind = e
                    .code()
                    .map_or(AwsErrorKind::Other, AwsErrorKind::from_code);
                let message = e
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.code().unwrap_or("unknown error").to_string());
                (kind, message)
            }
            SdkError::TimeoutError(_) => (AwsErrorKind::Transport, "request timed out".to_string()),
            SdkError::DispatchFailure(d) => {
                let kind = if d.is_user() {
                    AwsErrorKind::Other
                } else {
                    AwsErrorKind::Transport
                };
                (kind, error_chain(&err))
            }
            SdkError::ResponseError(_) => (AwsErrorKind::Transport, error_chain(&err)),
            _ => (AwsErrorKind::Other, error_chain(&err)),
        };
        Self {
            operation,
            kind,
            message,
        }
    }
}

/// No region in the AWS configuration chain, found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("no AWS region configured: set AWS_REGION (or a profile with a region)")]
pub struct MissingRegion;

impl AwsError {
    /// Classifies an SDK error of a client acting as `role`: when its
    /// credentials could not be had (AssumeRole refused, or STS unreachable),
    /// the message names the role and what to check, never a credential.
    pub fn from_sdk_as_role<E, R>(operation: &'static str, err: SdkError<E, R>, role: &str) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let Some(failure) = credentials_failure(&err) else {
            return Self::from_sdk(operation, err);
        };
        // STS unreachable (DNS, connection, timeout) is transient; anything
        // else (AccessDenied, a wrong external ID) needs the role's trust fixed.
        let unreachable = matches!(failure, CredentialsError::ProviderTimedOut(_))
            || source_of::<std::io::Error>(failure).is_some();
        let (kind, hint) = if unreachable {
            (
                AwsErrorKind::Transport,
                "STS could not be reached; it is retried",
            )
        } else {
            (
                AwsErrorKind::AccessDenied,
                "the role's trust policy must allow the operator's identity to call sts:AssumeRole (with the configured external ID, if any)",
            )
        };
        Self {
            operation,
            kind,
            message: format!(
                "could not assume IAM role {role}: {}; {hint}",
                error_chain(failure)
            ),
        }
    }
}

/// The credentials-provider failure somewhere in an error's sources.
fn credentials_failure<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    source_of::<CredentialsError>(err)
}

/// The first error of type `T` in `err` and its sources.
fn source_of<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The error and its sources joined, which is where the SDK keeps the useful part.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(
            AwsErrorKind::from_code("AccessDeniedException"),
            AwsErrorKind::AccessDenied
        );
        assert_eq!(
            AwsErrorKind::from_code("ThrottlingException"),
            AwsErrorKind::Throttling
        );
        assert_eq!(
            AwsErrorKind::from_code("ConflictException"),
            AwsErrorKind::Conflict
        );
        assert_eq!(AwsErrorKind::from_code("SomethingNew"), AwsErrorKind::Other);
        assert_eq!(AwsErrorKind::QuotaExceeded.label(), "quota_exceeded");
        assert_eq!(AwsErrorKind::NotFound.label(), "not_found");
    }

    #[test]
    fn only_retryable_kinds_are_transient() {
        assert!(AwsErrorKind::Throttling.is_transient());
        assert!(AwsErrorKind::Internal.is_transient());
        assert!(!AwsErrorKind::AccessDenied.is_transient());
        assert!(!AwsErrorKind::Validation.is_transient());
    }

    #[test]
    fn display_names_operation_kind_and_message() {
        let e = AwsError {
            operation: "CreateDomain",
            kind: AwsErrorKind::AccessDenied,
            message: "not authorized".into(),
        };
        assert_eq!(
            e.to_string(),
            "CodeArtifact CreateDomain failed (access_denied): not authorized"
        );
    }
}
