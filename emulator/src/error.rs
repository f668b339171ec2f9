//! Control-plane errors and how they go on the wire (restJson1: status, `x-amzn-ErrorType`, JSON body).

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// `ValidationExceptionReason` values the emulator uses (wire names derived by serde).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// The body is not a JSON object of the expected shape.
    CannotParse,
    /// A member violates its length, pattern, range or enum constraint.
    FieldValidationFailed,
    /// Anything else (e.g. a semantic rule such as an upstream cycle).
    Other,
}

/// One modelled CodeArtifact error (plus the two protocol-level ones the emulator needs).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 ValidationException.
    #[error("{message}")]
    Validation { message: String, reason: Reason },
    /// 404 ResourceNotFoundException.
    #[error("{message}")]
    NotFound {
        message: String,
        resource_id: String,
        resource_type: &'static str,
    },
    /// 409 ConflictException.
    #[error("{message}")]
    Conflict {
        message: String,
        resource_id: String,
        resource_type: &'static str,
    },
    /// 402 ServiceQuotaExceededException.
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        resource_id: String,
        resource_type: &'static str,
    },
    /// 403 AccessDeniedException.
    #[error("{0}")]
    AccessDenied(String),
    /// 429 ThrottlingException with a `Retry-After` header.
    #[error("{message}")]
    Throttling { message: String, retry_after: u32 },
    /// 500 InternalServerException.
    #[error("{0}")]
    Internal(String),
    /// 404 for a method/path that is no operation.
    #[error("{0}")]
    UnknownOperation(String),
    /// 413 for a body over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 403 ExpiredTokenException: temporary credentials past their expiry (not in the
    /// CodeArtifact model; AWS's common error, see docs/emulator.md).
    #[error("{0}")]
    ExpiredToken(String),
}

/// The one table of error kinds: variant, `x-amzn-ErrorType` name and HTTP status.
macro_rules! error_kinds {
    ($($variant:ident => $name:literal, $status:ident;)*) => {
        impl ApiError {
            /// The modelled shape name, sent in `x-amzn-ErrorType`.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(ApiError::$variant { .. } => $name,)*
                }
            }

            /// The HTTP status of the shape.
            pub fn status(&self) -> StatusCode {
                match self {
                    $(ApiError::$variant { .. } => StatusCode::$status,)*
                }
            }
        }
    };
}

error_kinds! {
    Validation => "ValidationException", BAD_REQUEST;
    NotFound => "ResourceNotFoundException", NOT_FOUND;
    Conflict => "ConflictException", CONFLICT;
    QuotaExceeded => "ServiceQuotaExceededException", PAYMENT_REQUIRED;
    AccessDenied => "AccessDeniedException", FORBIDDEN;
    Throttling => "ThrottlingException", TOO_MANY_REQUESTS;
    Internal => "InternalServerException", INTERNAL_SERVER_ERROR;
    UnknownOperation => "UnknownOperationException", NOT_FOUND;
    PayloadTooLarge => "RequestEntityTooLargeException", PAYLOAD_TOO_LARGE;
    ExpiredToken => "ExpiredTokenException", FORBIDDEN;
}

impl ApiError {
    /// A FIELD_VALIDATION_FAILED error.
    pub fn field(message: impl Into<String>) -> Self {
        ApiError::Validation {
            message: message.into(),
            reason: Reason::FieldValidationFailed,
        }
    }

    /// A validation error with reason OTHER (semantic rules).
    pub fn other(message: impl Into<String>) -> Self {
        ApiError::Validation {
            message: message.into(),
            reason: Reason::Other,
        }
    }

    /// A CANNOT_PARSE error.
    pub fn cannot_parse(message: impl Into<String>) -> Self {
        ApiError::Validation {
            message: message.into(),
            reason: Reason::CannotParse,
        }
    }

    /// ResourceNotFoundException.
    pub fn not_found(
        resource_type: &'static str,
        id: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::NotFound {
            message: message.into(),
            resource_id: id.into(),
            resource_type,
        }
    }

    /// ConflictException.
    pub fn conflict(
        resource_type: &'static str,
        id: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Conflict {
            message: message.into(),
            resource_id: id.into(),
            resource_type,
        }
    }

    fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("message".into(), Value::String(self.to_string()));
        match self {
            ApiError::Validation { reason, .. } => {
                body.insert("reason".into(), json!(reason));
            }
            ApiError::NotFound {
                resource_id,
                resource_type,
                ..
            }
            | ApiError::Conflict {
                resource_id,
                resource_type,
                ..
            }
            | ApiError::QuotaExceeded {
                resource_id,
                resource_type,
                ..
            } => {
                body.insert("resourceId".into(), json!(resource_id));
                body.insert("resourceType".into(), json!(resource_type));
            }
            _ => {}
        }
        Value::Object(body)
    }

    /// The complete HTTP answer, carrying `request_id` in `x-amzn-RequestId`.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let mut response = Response::builder()
            .status(self.status())
            .header("content-type", "application/json")
            .header("x-amzn-RequestId", request_id)
            .header("x-amzn-ErrorType", self.type_name());
        if let ApiError::Throttling { retry_after, .. } = &self {
            response = response.header("Retry-After", HeaderValue::from(*retry_after));
        }
        response
            .body(Body::from(self.body().to_string()))
            .expect("static headers are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_carries_type_header_and_lowercase_message() {
        let resp = ApiError::conflict("domain", "d1", "exists").into_response("rid");
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        assert_eq!(resp.headers()["x-amzn-ErrorType"], "ConflictException");
        assert_eq!(resp.headers()["x-amzn-RequestId"], "rid");
        let throttled = ApiError::Throttling {
            message: "slow down".into(),
            retry_after: 2,
        }
        .into_response("r");
        assert_eq!(throttled.headers()["Retry-After"], "2");
        let body = ApiError::field("bad").body();
        assert_eq!(body["message"], "bad");
        assert_eq!(body["reason"], "FIELD_VALIDATION_FAILED");
    }

    #[test]
    fn kinds_and_reasons_come_from_their_tables() {
        let expired = ApiError::ExpiredToken("gone".into());
        assert_eq!(expired.type_name(), "ExpiredTokenException");
        assert_eq!(expired.status(), StatusCode::FORBIDDEN);
        let unknown = ApiError::UnknownOperation("x".into());
        assert_eq!(
            (unknown.type_name(), unknown.status()),
            ("UnknownOperationException", StatusCode::NOT_FOUND)
        );
        assert_eq!(ApiError::other("x").body()["reason"], "OTHER");
        assert_eq!(ApiError::cannot_parse("x").body()["reason"], "CANNOT_PARSE");
    }
}
